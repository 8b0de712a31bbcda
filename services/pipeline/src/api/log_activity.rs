//! LogActivity: record a follow-up on an open opportunity and plan the next one.

use shangji_contracts::pipeline as pb;
use shangji_contracts::time::now_millis;
use shangji_platform::bus::{self, EventContext};
use shangji_platform::grpc::{ApiError, RequestContext};
use shangji_platform::{Db, ids};

use super::checks::{Checks, contended, refused};
use super::{ATTEMPTS, access, convert};
use crate::bus::events;
use crate::domain::attachment::{self, MAX_ATTACHMENTS};
use crate::domain::opportunity::{self, TEXT_MAX_CHARS};
use crate::domain::{Activity, ActivityKind, Attachment};
use crate::store::{activities, history, opportunities};
use shangji_platform::idempotency::Call;

pub async fn log_activity(
    db: &Db,
    ctx: &RequestContext,
    req: pb::LogActivityRequest,
) -> Result<pb::LogActivityResponse, ApiError> {
    let mut checks = Checks::default();
    let opportunity_id = checks.id("opportunity_id", &req.opportunity_id);
    let kind = ActivityKind::parse_loggable(&req.kind)
        .map_err(|err| checks.violation("kind", err.to_string()))
        .ok();
    let summary = checks.required_text("summary", &req.summary, TEXT_MAX_CHARS);
    let next_step = checks.text("next_step", &req.next_step, TEXT_MAX_CHARS);
    let purpose = checks.text("purpose", &req.purpose, TEXT_MAX_CHARS);
    let customer_questions = checks.text(
        "customer_questions",
        &req.customer_questions,
        TEXT_MAX_CHARS,
    );
    let attachments = attachments(&mut checks, &req.attachments);
    let next_follow_up_at = convert::timestamp(req.next_follow_up_at.as_ref())
        .map_err(|why| checks.violation("next_follow_up_at", why))
        .ok()
        .flatten();
    checks.finish()?;
    let Some(kind) = kind else {
        // finish() refused the request when the kind did not parse.
        return Err(ApiError::invalid_field("kind", "is required"));
    };
    let call = Call::new(ctx, "LogActivity", &req.idempotency_key, &req)?;
    if let Some(response) = call.replay(db).await? {
        return Ok(response);
    }
    let result: Result<pb::LogActivityResponse, ApiError> = async {
        for _ in 0..ATTEMPTS {
            let mut tx = db.begin().await?;
            let caller = access::caller(&mut tx, ctx).await?;
            let mut opp = access::visible(&mut tx, ctx, &caller.viewer, &opportunity_id).await?;
            let now = now_millis();
            let changes =
                opportunity::plan_follow_up(&mut opp, next_follow_up_at, now).map_err(refused)?;
            if !opportunities::update(&mut tx, &opp).await? {
                tx.rollback().await?;
                continue;
            }
            let activity = Activity {
                activity_id: ids::new_id("act"),
                opportunity_id: opportunity_id.clone(),
                kind,
                summary: summary.clone(),
                next_step: next_step.clone(),
                next_follow_up_at,
                purpose: purpose.clone(),
                customer_questions: customer_questions.clone(),
                attachments: attachments.clone(),
                lead_id: String::new(),
                user_id: ctx.user_id.clone(),
                logged_at: now,
            };
            activities::insert(&mut tx, &ctx.tenant_id, &activity).await?;
            history::append(
                &mut tx,
                &ctx.tenant_id,
                &opportunity_id,
                &ctx.user_id,
                now,
                &changes,
            )
            .await?;
            let event = events::activity_logged(&opp, &activity);
            bus::enqueue(
                &mut tx,
                &EventContext::from_request(ctx, opp.lead_id.clone()),
                &event,
            )
            .await?;
            let response = pb::LogActivityResponse {
                activity: Some(convert::activity(&activity)),
            };
            let response = call.commit(db, tx, response).await?;
            tracing::info!(
                opportunity_id = %opportunity_id,
                kind = kind.as_str(),
                next_follow_up_at = ?next_follow_up_at,
                "logged an activity"
            );
            return Ok(response);
        }
        Err(contended(&opportunity_id))
    }
    .await;
    call.or_replay(db, result).await
}

/// The attachments checked one by one, each problem under `attachments[i].<field>`.
fn attachments(checks: &mut Checks, given: &[pb::Attachment]) -> Vec<Attachment> {
    if given.len() > MAX_ATTACHMENTS {
        checks.violation(
            "attachments",
            format!(
                "has {} entries; at most {MAX_ATTACHMENTS} per activity",
                given.len()
            ),
        );
        return Vec::new();
    }
    let mut kept = Vec::new();
    for (i, a) in given.iter().enumerate() {
        match attachment::validate(&a.uri, &a.name, &a.content_type, a.size_bytes) {
            Ok(a) => kept.push(a),
            Err(errors) => {
                for err in errors {
                    checks.violation(
                        &format!("attachments[{i}].{}", err.field()),
                        err.to_string(),
                    );
                }
            }
        }
    }
    kept
}
