//! `RebuildReadModels`: admin only, idempotent under retry. The new generation is opened
//! in the same transaction that remembers the answer, so a retry never opens a second.

use async_nats::jetstream;
use shangji_contracts::analytics::{RebuildReadModelsRequest, RebuildReadModelsResponse};
use shangji_platform::Db;
use shangji_platform::db::is_unique_violation;
use shangji_platform::grpc::{ApiError, RequestContext};
use shangji_platform::idempotency;

use super::access;
use crate::bus::rebuild::{self as steps, RebuildError};

const METHOD: &str = "RebuildReadModels";

pub async fn rebuild(
    db: &Db,
    js: &jetstream::Context,
    ctx: &RequestContext,
    req: &RebuildReadModelsRequest,
) -> Result<RebuildReadModelsResponse, ApiError> {
    access::require_admin(db, ctx).await?;
    let key = req.idempotency_key.trim();
    if key.len() > 128 {
        return Err(ApiError::invalid_field(
            "idempotency_key",
            "must be at most 128 characters",
        ));
    }
    let hash = idempotency::request_hash(req);
    let tenant = ctx.tenant_id.as_str();
    if let Some(previous) = idempotency::replay(db, tenant, METHOD, key, &hash).await? {
        return Ok(previous);
    }
    let mut tx = db.begin().await?;
    let generation = match steps::open(&mut tx, tenant).await {
        Ok(generation) => generation,
        Err(RebuildError::AlreadyRunning) => {
            return Err(ApiError::FailedPrecondition {
                message: "a rebuild of this tenant's read models is already under way".into(),
                missing: vec!["the running rebuild to finish".into()],
            });
        }
        Err(RebuildError::Failed(err)) => return Err(ApiError::Internal(err)),
    };
    let started = RebuildReadModelsResponse {
        generation,
        finished: false,
        events_applied: 0,
        messages_read: 0,
    };
    idempotency::remember(&mut tx, tenant, METHOD, key, &hash, &started).await?;
    match tx.commit().await {
        Ok(()) => {}
        Err(e) if is_unique_violation(&e) => {
            // A concurrent retry with the same key won; its rebuild is the one.
            return idempotency::replay(db, tenant, METHOD, key, &hash)
                .await?
                .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("lost idempotency race")));
        }
        Err(e) => return Err(e.into()),
    }
    let (db, js, tenant_owned) = (db.clone(), js.clone(), tenant.to_owned());
    let task = tokio::spawn(async move { steps::run(&db, &js, &tenant_owned, generation).await });
    if !req.wait {
        return Ok(started);
    }
    let outcome = task
        .await
        .map_err(|e| ApiError::Internal(anyhow::Error::new(e).context("rebuild task")))?
        .map_err(ApiError::Internal)?;
    Ok(RebuildReadModelsResponse {
        generation,
        finished: true,
        events_applied: outcome.events_applied,
        messages_read: outcome.messages_read,
    })
}
