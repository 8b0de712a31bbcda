//! Runs a mutating RPC once per idempotency key: a retry gets the first answer back.

use prost::Message;
use shangji_platform::db::is_unique_violation;
use shangji_platform::grpc::ApiError;
use shangji_platform::{Db, Tx, idempotency};

/// Replays a remembered answer, or runs `work` in a transaction and remembers its answer
/// with its effects. A concurrent retry that committed first is replayed.
pub async fn once<Req: Message, Resp: Message + Default>(
    db: &Db,
    tenant_id: &str,
    method: &str,
    key: &str,
    request: &Req,
    work: impl AsyncFnOnce(&mut Tx) -> Result<Resp, ApiError>,
) -> Result<Resp, ApiError> {
    let hash = idempotency::request_hash(request);
    if let Some(done) = idempotency::replay(db, tenant_id, method, key, &hash).await? {
        return Ok(done);
    }
    let mut tx = db.begin().await?;
    let response = work(&mut tx).await?;
    idempotency::remember(&mut tx, tenant_id, method, key, &hash, &response).await?;
    match tx.commit().await {
        Ok(()) => Ok(response),
        Err(err) if is_unique_violation(&err) => {
            idempotency::replay(db, tenant_id, method, key, &hash)
                .await?
                .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("idempotency key vanished")))
        }
        Err(err) => Err(err.into()),
    }
}
