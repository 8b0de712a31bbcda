//! Won/lost set-up and undo: UpsertLossReasons and ListLossReasons (the tenant's list a
//! lost deal must pick from), and ReopenOpportunity.

use shangji_contracts::pipeline as pb;
use shangji_contracts::time::now_millis;
use shangji_platform::Db;
use shangji_platform::bus::{self, EventContext};
use shangji_platform::db::is_unique_violation;
use shangji_platform::grpc::{ApiError, RequestContext};

use super::checks::{Checks, contended};
use super::{ATTEMPTS, access, convert, gates};
use crate::bus::events;
use crate::domain::gate::valid_field_key;
use crate::domain::opportunity::{self, Status as OppStatus, TEXT_MAX_CHARS};
use crate::domain::stage::{LOST, WON};
use crate::store::loss_reasons::{self, LossReason};
use crate::store::{history, opportunities, pipelines};
use shangji_platform::idempotency::Call;

const LABEL_MAX_CHARS: usize = 100;

fn to_pb(r: &LossReason) -> pb::LossReason {
    pb::LossReason {
        code: r.code.clone(),
        label_zh: r.label_zh.clone(),
        label_en: r.label_en.clone(),
    }
}

pub async fn upsert_loss_reasons(
    db: &Db,
    ctx: &RequestContext,
    req: pb::UpsertLossReasonsRequest,
) -> Result<pb::UpsertLossReasonsResponse, ApiError> {
    let mut checks = Checks::default();
    let mut reasons: Vec<LossReason> = Vec::new();
    for (i, r) in req.reasons.iter().enumerate() {
        let code = r.code.trim().to_owned();
        if !valid_field_key(&code) {
            checks.violation(
                &format!("reasons[{i}].code"),
                "use lowercase letters, digits or '_' (price, competitor)",
            );
        } else if reasons.iter().any(|x| x.code == code) {
            checks.violation(
                &format!("reasons[{i}].code"),
                format!("`{code}` is listed twice"),
            );
        }
        let label_zh = checks.required_text(
            &format!("reasons[{i}].label_zh"),
            &r.label_zh,
            LABEL_MAX_CHARS,
        );
        let label_en = checks.required_text(
            &format!("reasons[{i}].label_en"),
            &r.label_en,
            LABEL_MAX_CHARS,
        );
        reasons.push(LossReason {
            code,
            label_zh,
            label_en,
        });
    }
    checks.finish()?;
    let call = Call::new(ctx, "UpsertLossReasons", &req.idempotency_key, &req)?;
    if let Some(response) = call.replay(db).await? {
        return Ok(response);
    }
    let result: Result<pb::UpsertLossReasonsResponse, ApiError> = async {
        let mut tx = db.begin().await?;
        let caller = access::caller(&mut tx, ctx).await?;
        access::require_admin(&caller.viewer, "change loss reasons")?;
        loss_reasons::replace(&mut tx, &ctx.tenant_id, &reasons).await?;
        let response = pb::UpsertLossReasonsResponse {
            reasons: reasons.iter().map(to_pb).collect(),
        };
        let response = call.commit(db, tx, response).await?;
        tracing::info!(count = reasons.len(), "replaced the loss reasons");
        Ok(response)
    }
    .await;
    call.or_replay(db, result).await
}

pub async fn list_loss_reasons(
    db: &Db,
    ctx: &RequestContext,
) -> Result<pb::ListLossReasonsResponse, ApiError> {
    let mut conn = db.reader().acquire().await?;
    let reasons = loss_reasons::list(&mut conn, &ctx.tenant_id).await?;
    Ok(pb::ListLossReasonsResponse {
        reasons: reasons.iter().map(to_pb).collect(),
    })
}

/// A reopen refused because the customer already has an open opportunity.
fn another_open(customer_id: &str) -> ApiError {
    ApiError::FailedPrecondition {
        message: format!(
            "customer {customer_id} already has an open opportunity; one customer has one open opportunity at a time"
        ),
        missing: vec![format!(
            "no other open opportunity of customer {customer_id}"
        )],
    }
}

pub async fn reopen_opportunity(
    db: &Db,
    ctx: &RequestContext,
    req: pb::ReopenOpportunityRequest,
) -> Result<pb::ReopenOpportunityResponse, ApiError> {
    let mut checks = Checks::default();
    let opportunity_id = checks.id("opportunity_id", &req.opportunity_id);
    let reason = checks.required_text("reason", &req.reason, TEXT_MAX_CHARS);
    checks.finish()?;
    let call = Call::new(ctx, "ReopenOpportunity", &req.idempotency_key, &req)?;
    if let Some(response) = call.replay(db).await? {
        return Ok(response);
    }
    let result: Result<pb::ReopenOpportunityResponse, ApiError> = async {
        for _ in 0..ATTEMPTS {
            let mut tx = db.begin().await?;
            let caller = access::caller(&mut tx, ctx).await?;
            let mut opp = access::visible(&mut tx, ctx, &caller.viewer, &opportunity_id).await?;
            let pipeline = pipelines::for_opportunity(
                &mut tx,
                &ctx.tenant_id,
                &opp.pipeline_id,
                opp.pipeline_version,
            )
            .await?
            .ok_or_else(|| {
                ApiError::Internal(anyhow::anyhow!("pipeline of {opportunity_id} missing"))
            })?;
            let to_stage = match req.to_stage.trim() {
                "" => closed_from(&mut tx, ctx, &opportunity_id).await?,
                given => given.to_owned(),
            };
            let stage = pipeline
                .advance_target(&to_stage)
                .map_err(|err| ApiError::invalid_field("to_stage", err.to_string()))?
                .clone();
            if opp.status != OppStatus::Open {
                // Reopening further than the stage it was closed from is a move past
                // the gates in between, and they hold as for any move. When that stage
                // is unknown, every gate up to the target applies.
                let mut was_at = opp.clone();
                was_at.stage = closed_from(&mut tx, ctx, &opportunity_id)
                    .await
                    .unwrap_or_default();
                let missing = gates::missing(&mut tx, &pipeline, &was_at, &stage, None).await?;
                if !missing.is_empty() {
                    let refusal = gates::blocked(&was_at.stage, &stage, &missing);
                    return Err(ApiError::FailedPrecondition {
                        message: refusal.message().to_owned(),
                        missing: missing.into_iter().map(|m| m.description).collect(),
                    });
                }
            }
            let now = now_millis();
            let (was, changes) =
                opportunity::reopen(&mut opp, &stage, &reason, now).map_err(|err| {
                    ApiError::FailedPrecondition {
                        message: err.to_string(),
                        missing: vec![format!("opportunity {opportunity_id} won or lost")],
                    }
                })?;
            // The unique index covers primary opportunities only; a parallel deal a merge
            // left open counts as "another open one" too.
            if opportunities::find_open_for_customer(&mut tx, &ctx.tenant_id, &opp.customer_id)
                .await?
                .is_some_and(|open| open.opportunity_id != opp.opportunity_id)
            {
                return Err(another_open(&opp.customer_id));
            }
            match opportunities::update(&mut tx, &opp).await {
                Ok(true) => {}
                Ok(false) => {
                    tx.rollback().await?;
                    continue;
                }
                Err(err) if is_unique_violation(&err) => return Err(another_open(&opp.customer_id)),
                Err(err) => return Err(err.into()),
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
            bus::enqueue(
                &mut tx,
                &EventContext::from_request(ctx, opp.lead_id.clone()),
                &events::reopened(&opp, was, &stage, &reason),
            )
            .await?;
            let response = pb::ReopenOpportunityResponse {
                opportunity: Some(convert::opportunity(&opp)),
            };
            let response = call.commit(db, tx, response).await?;
            tracing::info!(opportunity_id = %opportunity_id, was = was.as_str(), stage = %stage.name, "reopened an opportunity");
            return Ok(response);
        }
        Err(contended(&opportunity_id))
    }
    .await;
    call.or_replay(db, result).await
}

/// The stage the opportunity was closed from (the last move into won or lost).
async fn closed_from(
    tx: &mut shangji_platform::Tx,
    ctx: &RequestContext,
    opportunity_id: &str,
) -> Result<String, ApiError> {
    let trail = history::list_for(tx, &ctx.tenant_id, opportunity_id).await?;
    trail
        .iter()
        .rev()
        .find(|h| h.field == "stage" && (h.new_value == WON || h.new_value == LOST))
        .map(|h| h.old_value.clone())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            ApiError::invalid_field(
                "to_stage",
                "is required: the stage it was closed from is not known",
            )
        })
}
