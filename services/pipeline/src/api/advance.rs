//! AdvanceStage: move an open opportunity to another open stage of its pipeline.

use shangji_contracts::pipeline as pb;
use shangji_contracts::time::now_millis;
use shangji_platform::Db;
use shangji_platform::bus::{self, EventContext};
use shangji_platform::grpc::{ApiError, RequestContext};

use super::checks::{Checks, contended, not_found, refused};
use super::idempotent::Call;
use super::{ATTEMPTS, convert};
use crate::bus::events;
use crate::domain::opportunity::{self, StageMove, TEXT_MAX_CHARS};
use crate::store::{history, opportunities, pipelines};

pub async fn advance_stage(
    db: &Db,
    ctx: &RequestContext,
    req: pb::AdvanceStageRequest,
) -> Result<pb::AdvanceStageResponse, ApiError> {
    let mut checks = Checks::default();
    let opportunity_id = checks.id("opportunity_id", &req.opportunity_id);
    if req.to_stage.trim().is_empty() {
        checks.violation("to_stage", "is required; GetPipeline lists the stages");
    }
    let amount = checks.amount("amount", req.amount);
    let note = checks.text("note", &req.note, TEXT_MAX_CHARS);
    checks.finish()?;
    let call = Call::new(ctx, "AdvanceStage", &req.idempotency_key, &req)?;
    if let Some(response) = call.replay(db).await? {
        return Ok(response);
    }
    for _ in 0..ATTEMPTS {
        let mut tx = db.begin().await?;
        let mut opp = opportunities::get(&mut tx, &ctx.tenant_id, &opportunity_id)
            .await?
            .ok_or_else(|| not_found(&opportunity_id))?;
        let pipeline = pipelines::load_or_seed(&mut tx, &ctx.tenant_id, &opp.pipeline_id)
            .await?
            .ok_or_else(|| {
                ApiError::Internal(anyhow::anyhow!(
                    "pipeline {} of {opportunity_id} is missing",
                    opp.pipeline_id
                ))
            })?;
        let target = pipeline
            .advance_target(&req.to_stage)
            .map_err(|err| ApiError::invalid_field("to_stage", err.to_string()))?;
        let now = now_millis();
        let (from_stage, changes) =
            match opportunity::advance(&mut opp, target, amount, &note, now).map_err(refused)? {
                StageMove::Unchanged => {
                    let response = pb::AdvanceStageResponse {
                        opportunity: Some(convert::opportunity(&opp)),
                    };
                    return call.commit(db, tx, response).await;
                }
                StageMove::AmountOnly { changes } => (None, changes),
                StageMove::Moved {
                    from_stage,
                    changes,
                } => (Some(from_stage), changes),
            };
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
        if let Some(from_stage) = &from_stage {
            let event = events::stage_changed(
                &opp,
                from_stage,
                pipeline.order_of(from_stage),
                target.order,
                &note,
            );
            bus::enqueue(
                &mut tx,
                &EventContext::from_request(ctx, opp.lead_id.clone()),
                &event,
            )
            .await?;
        }
        let response = pb::AdvanceStageResponse {
            opportunity: Some(convert::opportunity(&opp)),
        };
        let response = call.commit(db, tx, response).await?;
        tracing::info!(
            opportunity_id = %opportunity_id,
            from_stage = from_stage.as_deref().unwrap_or(&opp.stage),
            to_stage = %opp.stage,
            amount = opp.amount,
            "advanced an opportunity"
        );
        return Ok(response);
    }
    Err(contended(&opportunity_id))
}
