//! AdvanceStage: move an open opportunity to another open stage of its pipeline, once
//! the gates of every stage entered on the way hold.

use shangji_contracts::pipeline as pb;
use shangji_contracts::time::now_millis;
use shangji_platform::Db;
use shangji_platform::bus::{self, EventContext};
use shangji_platform::grpc::{ApiError, RequestContext};
use tonic::Status;

use super::checks::{Checks, contended, refused};
use super::{ATTEMPTS, access, convert, gates};
use crate::bus::events;
use crate::domain::Status as OppStatus;
use crate::domain::opportunity::{self, StageMove, TEXT_MAX_CHARS};
use crate::store::{history, opportunities, pipelines};
use shangji_platform::idempotency::Call;

pub async fn advance_stage(
    db: &Db,
    ctx: &RequestContext,
    req: pb::AdvanceStageRequest,
) -> Result<pb::AdvanceStageResponse, Status> {
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
    let result: Result<pb::AdvanceStageResponse, Status> = async {
        for _ in 0..ATTEMPTS {
            let mut tx = db.begin().await.map_err(ApiError::from)?;
            let caller = access::caller(&mut tx, ctx).await?;
            let mut opp = access::visible(&mut tx, ctx, &caller.viewer, &opportunity_id).await?;
            let pipeline = pipelines::for_opportunity(
                &mut tx,
                &ctx.tenant_id,
                &opp.pipeline_id,
                opp.pipeline_version,
            )
            .await
            .map_err(ApiError::from)?
            .ok_or_else(|| {
                ApiError::Internal(anyhow::anyhow!(
                    "pipeline {} version {} of {opportunity_id} is missing",
                    opp.pipeline_id,
                    opp.pipeline_version
                ))
            })?;
            let target = pipeline
                .advance_target(&req.to_stage)
                .map_err(|err| ApiError::invalid_field("to_stage", err.to_string()))?;
            if opp.status == OppStatus::Open {
                let missing = gates::missing(&mut tx, &pipeline, &opp, target, amount).await?;
                if !missing.is_empty() {
                    tx.rollback().await.map_err(ApiError::from)?;
                    return Err(gates::blocked(&opp.stage, target, &missing));
                }
            }
            let now = now_millis();
            let (from_stage, changes) = match opportunity::advance(
                &mut opp, target, amount, &note, now,
            )
            .map_err(refused)?
            {
                StageMove::Unchanged => {
                    let response = pb::AdvanceStageResponse {
                        opportunity: Some(convert::opportunity(&opp)),
                    };
                    return Ok(call.commit(db, tx, response).await?);
                }
                StageMove::AmountOnly { changes } => (None, changes),
                StageMove::Moved {
                    from_stage,
                    changes,
                } => (Some(from_stage), changes),
            };
            if !opportunities::update(&mut tx, &opp)
                .await
                .map_err(ApiError::from)?
            {
                tx.rollback().await.map_err(ApiError::from)?;
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
            .await
            .map_err(ApiError::from)?;
            let event_ctx = EventContext::from_request(ctx, opp.lead_id.clone());
            if let Some(from_stage) = &from_stage {
                let event = events::stage_changed(
                    &opp,
                    from_stage,
                    pipeline.order_of(from_stage),
                    target,
                    &note,
                );
                bus::enqueue(&mut tx, &event_ctx, &event)
                    .await
                    .map_err(ApiError::from)?;
            } else {
                // The amount changed without a move: readers learn it like any field change.
                bus::enqueue(&mut tx, &event_ctx, &events::updated(&opp, &changes))
                    .await
                    .map_err(ApiError::from)?;
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
        Err(contended(&opportunity_id).into())
    }
    .await;
    call.or_replay(db, result).await
}
