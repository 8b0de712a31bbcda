//! The pipeline RPCs: GetPipeline, ListPipelines, UpsertPipeline.

use shangji_contracts::pipeline as pb;
use shangji_platform::Db;
use shangji_platform::db::is_unique_violation;
use shangji_platform::grpc::{ApiError, FieldViolation, RequestContext};

use super::{access, convert};
use crate::domain::definition::{self, StageDefinition};
use crate::domain::stage::DEFAULT_PIPELINE_ID;
use crate::store::pipelines;
use shangji_platform::idempotency::Call;

/// A pipeline of the tenant (the default one when no id is given); a tenant that never
/// needed its default pipeline gets it seeded now.
pub async fn get_pipeline(
    db: &Db,
    ctx: &RequestContext,
    req: pb::GetPipelineRequest,
) -> Result<pb::GetPipelineResponse, ApiError> {
    let pipeline_id = match req.pipeline_id.trim() {
        "" => DEFAULT_PIPELINE_ID,
        id => id,
    };
    let existing = {
        let mut conn = db.reader().acquire().await?;
        pipelines::load(&mut conn, &ctx.tenant_id, pipeline_id).await?
    };
    let pipeline = match existing {
        Some(pipeline) => pipeline,
        None if pipeline_id == DEFAULT_PIPELINE_ID => {
            let mut tx = db.begin().await?;
            let seeded = pipelines::load_or_seed(&mut tx, &ctx.tenant_id, pipeline_id).await?;
            tx.commit().await?;
            seeded.ok_or_else(|| {
                ApiError::Internal(anyhow::anyhow!("default pipeline missing after seeding"))
            })?
        }
        None => {
            return Err(ApiError::NotFound(format!(
                "pipeline {pipeline_id} not found; ListPipelines shows the tenant's pipelines"
            )));
        }
    };
    Ok(convert::pipeline(&pipeline))
}

/// Every pipeline of the tenant, the default one included.
pub async fn list_pipelines(
    db: &Db,
    ctx: &RequestContext,
) -> Result<pb::ListPipelinesResponse, ApiError> {
    let mut tx = db.begin().await?;
    pipelines::seed_default(&mut tx, &ctx.tenant_id).await?;
    let all = pipelines::list(&mut tx, &ctx.tenant_id).await?;
    tx.commit().await?;
    Ok(pb::ListPipelinesResponse {
        pipelines: all.iter().map(convert::pipeline).collect(),
    })
}

/// Creates or changes a pipeline. Changed stages or gates make a new version (existing
/// opportunities keep theirs); the same definition again changes nothing.
pub async fn upsert_pipeline(
    db: &Db,
    ctx: &RequestContext,
    req: pb::UpsertPipelineRequest,
) -> Result<pb::UpsertPipelineResponse, ApiError> {
    let mut violations = Vec::new();
    let mut stages = Vec::with_capacity(req.stages.len());
    for (index, stage) in req.stages.iter().enumerate() {
        let gate = convert::gate_from(stage.gate.as_ref()).unwrap_or_else(|why| {
            violations.push(FieldViolation::new(format!("stages[{index}].gate"), why));
            Default::default()
        });
        stages.push(StageDefinition {
            name: stage.name.clone(),
            win_probability: stage.win_probability,
            gate,
        });
    }
    let defined =
        definition::define(req.pipeline_id.trim(), &req.name, &req.team, stages).map_err(|bad| {
            violations.extend(
                bad.into_iter()
                    .map(|(field, why)| FieldViolation::new(field, why)),
            );
        });
    if !violations.is_empty() {
        return Err(ApiError::invalid(violations));
    }
    let Ok(defined) = defined else {
        return Err(ApiError::invalid_field("stages", "is not a valid pipeline"));
    };
    let call = Call::new(ctx, "UpsertPipeline", &req.idempotency_key, &req)?;
    if let Some(response) = call.replay(db).await? {
        return Ok(response);
    }
    let result: Result<pb::UpsertPipelineResponse, ApiError> = async {
        let mut tx = db.begin().await?;
        let caller = access::caller(&mut tx, ctx).await?;
        access::require_admin(&caller.viewer, "change pipelines")?;
        if !defined.team.is_empty()
            && let Some(other) =
                pipelines::team_taken_by(&mut tx, &ctx.tenant_id, &defined.team, &defined.pipeline_id)
                    .await?
        {
            return Err(ApiError::FailedPrecondition {
                message: format!(
                    "team {} already follows pipeline {other}; give that one another team first",
                    defined.team
                ),
                missing: vec![format!("team {} free of pipeline {other}", defined.team)],
            });
        }
        let current = pipelines::load_or_seed(&mut tx, &ctx.tenant_id, &defined.pipeline_id).await?;
        let (saved, changed) = match current {
            Some(current) if current.same_stages(&defined) => {
                if current.name != defined.name || current.team != defined.team {
                    pipelines::rename(
                        &mut tx,
                        &ctx.tenant_id,
                        &defined.pipeline_id,
                        &defined.name,
                        &defined.team,
                    )
                    .await?;
                }
                let mut kept = defined.clone();
                kept.version = current.version;
                (kept, false)
            }
            _ => {
                let saved =
                    pipelines::save_new_version(&mut tx, &ctx.tenant_id, &defined, &ctx.user_id)
                        .await
                        .map_err(|err| {
                            if is_unique_violation(&err) {
                                ApiError::Unavailable(format!(
                                    "pipeline {} is being changed by someone else right now; retry with the same idempotency key",
                                    defined.pipeline_id
                                ))
                            } else {
                                err.into()
                            }
                        })?;
                (saved, true)
            }
        };
        let response = pb::UpsertPipelineResponse {
            pipeline: Some(convert::pipeline(&saved)),
            changed,
        };
        let response = call.commit(db, tx, response).await?;
        tracing::info!(
            pipeline_id = %saved.pipeline_id,
            version = saved.version,
            team = %saved.team,
            changed,
            "upserted a pipeline"
        );
        Ok(response)
    }
    .await;
    call.or_replay(db, result).await
}
