//! Safe retries of mutating RPCs. The response of a call made with an idempotency key
//! is stored in the same transaction as its effects; a retry with the same key gets
//! that response back and changes nothing. The same key with a different request is
//! refused, since the caller has mixed two operations up.
//!
//! Usage in a handler:
//! 1. `if let Some(r) = replay(...)? { return Ok(r) }`
//! 2. do the work in a transaction, `remember(&mut tx, ...)`, commit;
//! 3. if the commit hit a unique violation (a concurrent retry won), `replay` again.

use prost::Message;
use sha2::Digest;

use crate::db::{Db, Tx};
use crate::grpc::ApiError;

/// A request fingerprint: SHA-256 of its protobuf encoding (maps encode in key order).
pub fn request_hash(request: &impl Message) -> String {
    hex::encode(sha2::Sha256::digest(request.encode_to_vec()))
}

/// The remembered response for this key, if the call was made before.
pub async fn replay<M: Message + Default>(
    db: &Db,
    tenant_id: &str,
    method: &str,
    key: &str,
    request_hash: &str,
) -> Result<Option<M>, ApiError> {
    if key.is_empty() {
        return Ok(None);
    }
    let row: Option<(String, Vec<u8>)> = sqlx::query_as(
        "SELECT request_hash, response FROM idempotency_keys
         WHERE tenant_id = $1 AND method = $2 AND idempotency_key = $3",
    )
    .bind(tenant_id)
    .bind(method)
    .bind(key)
    .fetch_optional(db.reader())
    .await?;
    match row {
        None => Ok(None),
        Some((hash, _)) if hash != request_hash => Err(ApiError::invalid_field(
            "idempotency_key",
            format!("`{key}` was already used for a different {method} request; use a new key"),
        )),
        Some((_, response)) => M::decode(response.as_slice())
            .map(Some)
            .map_err(|e| ApiError::Internal(anyhow::Error::new(e).context("stored response"))),
    }
}

/// Stores the response in the caller's transaction. A unique violation here means a
/// concurrent call with the same key committed first.
pub async fn remember<M: Message>(
    tx: &mut Tx,
    tenant_id: &str,
    method: &str,
    key: &str,
    request_hash: &str,
    response: &M,
) -> Result<(), sqlx::Error> {
    if key.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO idempotency_keys
         (tenant_id, method, idempotency_key, request_hash, response, created_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(tenant_id)
    .bind(method)
    .bind(key)
    .bind(request_hash)
    .bind(response.encode_to_vec())
    .bind(shangji_contracts::time::now_millis())
    .execute(&mut **tx)
    .await?;
    Ok(())
}
