//! CloseOpportunity: mark an open opportunity won or lost.

use shangji_contracts::pipeline as pb;
use shangji_contracts::time::now_millis;
use shangji_platform::Db;
use shangji_platform::bus::{self, EventContext};
use shangji_platform::grpc::{ApiError, RequestContext};

use super::checks::{Checks, contended, refused};
use super::{ATTEMPTS, access, convert};
use crate::bus::events;
use crate::domain::Outcome;
use crate::domain::opportunity::{self, LOST_REASON_MAX_CHARS, TEXT_MAX_CHARS};
use crate::store::{history, loss_reasons, opportunities};
use shangji_platform::idempotency::Call;

pub async fn close_opportunity(
    db: &Db,
    ctx: &RequestContext,
    req: pb::CloseOpportunityRequest,
) -> Result<pb::CloseOpportunityResponse, ApiError> {
    let mut checks = Checks::default();
    let opportunity_id = checks.id("opportunity_id", &req.opportunity_id);
    let outcome = match pb::CloseOutcome::try_from(req.outcome) {
        Ok(pb::CloseOutcome::Won) => Some(Outcome::Won),
        Ok(pb::CloseOutcome::Lost) => Some(Outcome::Lost),
        _ => {
            checks.violation(
                "outcome",
                "is required: CLOSE_OUTCOME_WON or CLOSE_OUTCOME_LOST",
            );
            None
        }
    };
    let lost_reason = match outcome {
        Some(Outcome::Lost) => {
            checks.required_text("lost_reason", &req.lost_reason, LOST_REASON_MAX_CHARS)
        }
        _ if !req.lost_reason.trim().is_empty() => {
            checks.violation(
                "lost_reason",
                "only a lost opportunity has a lost reason; leave it empty when won",
            );
            String::new()
        }
        _ => String::new(),
    };
    let note = checks.text("note", &req.note, TEXT_MAX_CHARS);
    let amount = checks.amount("amount", req.amount);
    checks.finish()?;
    let Some(outcome) = outcome else {
        // finish() refused the request when the outcome was missing.
        return Err(ApiError::invalid_field("outcome", "is required"));
    };
    let call = Call::new(ctx, "CloseOpportunity", &req.idempotency_key, &req)?;
    if let Some(response) = call.replay(db).await? {
        return Ok(response);
    }
    let result: Result<pb::CloseOpportunityResponse, ApiError> = async {
        for _ in 0..ATTEMPTS {
            let mut tx = db.begin().await?;
            let caller = access::caller(&mut tx, ctx).await?;
            let mut opp = access::visible(&mut tx, ctx, &caller.viewer, &opportunity_id).await?;
            if outcome == Outcome::Lost {
                check_loss_reason(&mut tx, ctx, &lost_reason, &note).await?;
            }
            let now = now_millis();
            let (from_stage, changes) =
                opportunity::close(&mut opp, outcome, &lost_reason, amount, &note, now)
                    .map_err(refused)?;
            if !opportunities::update(&mut tx, &opp).await? {
                tx.rollback().await?;
                continue;
            }
            opp.version += 1;
            history::append(
                &mut tx,
                &ctx.tenant_id,
                &opportunity_id,
                &ctx.user_id,
                now,
                &changes,
            )
            .await?;
            let event_ctx = EventContext::from_request(ctx, opp.lead_id.clone());
            match outcome {
                Outcome::Won => {
                    bus::enqueue(&mut tx, &event_ctx, &events::won(&opp, &from_stage)).await?
                }
                Outcome::Lost => {
                    bus::enqueue(&mut tx, &event_ctx, &events::lost(&opp, &from_stage, &note))
                        .await?
                }
            };
            let response = pb::CloseOpportunityResponse {
                opportunity: Some(convert::opportunity(&opp)),
            };
            let response = call.commit(db, tx, response).await?;
            tracing::info!(
                opportunity_id = %opportunity_id,
                outcome = opp.status.as_str(),
                from_stage = %from_stage,
                amount = opp.amount,
                "closed an opportunity"
            );
            return Ok(response);
        }
        Err(contended(&opportunity_id))
    }
    .await;
    call.or_replay(db, result).await
}

/// Once the tenant has a list of loss reasons, a lost deal names one of its codes and
/// says what happened in the note; before that any reason is taken (as it always was).
async fn check_loss_reason(
    tx: &mut shangji_platform::Tx,
    ctx: &RequestContext,
    lost_reason: &str,
    note: &str,
) -> Result<(), ApiError> {
    let reasons = loss_reasons::list(tx, &ctx.tenant_id).await?;
    if reasons.is_empty() {
        return Ok(());
    }
    let mut checks = Checks::default();
    if !reasons.iter().any(|r| r.code == lost_reason) {
        let codes: Vec<String> = reasons
            .iter()
            .map(|r| format!("{} ({} / {})", r.code, r.label_zh, r.label_en))
            .collect();
        checks.violation(
            "lost_reason",
            format!(
                "`{lost_reason}` is not one of the tenant's loss reasons: {}",
                codes.join(", ")
            ),
        );
    }
    if note.is_empty() {
        checks.violation(
            "note",
            "is required when an opportunity is lost: say what happened",
        );
    }
    checks.finish()
}
