//! Safe retries for the mutating RPCs, on top of `shangji_platform::idempotency`: a
//! call with a key already used gets the stored response and changes nothing.

use prost::Message;
use shangji_platform::db::is_unique_violation;
use shangji_platform::grpc::{ApiError, RequestContext};
use shangji_platform::{Db, Tx, idempotency};

/// Longest idempotency key accepted.
const KEY_MAX_LEN: usize = 128;

/// One mutating call: which method, under which key, with which request fingerprint.
pub struct Call<'a> {
    tenant_id: &'a str,
    method: &'static str,
    key: &'a str,
    hash: String,
}

impl<'a> Call<'a> {
    /// An empty key means the caller does not want retry safety.
    pub fn new(
        ctx: &'a RequestContext,
        method: &'static str,
        key: &'a str,
        request: &impl Message,
    ) -> Result<Call<'a>, ApiError> {
        if key.len() > KEY_MAX_LEN {
            return Err(ApiError::invalid_field(
                "idempotency_key",
                format!(
                    "is {} bytes long; at most {KEY_MAX_LEN} are allowed",
                    key.len()
                ),
            ));
        }
        Ok(Call {
            tenant_id: &ctx.tenant_id,
            method,
            key,
            hash: idempotency::request_hash(request),
        })
    }

    /// The response of an earlier call with this key, if there was one.
    pub async fn replay<R: Message + Default>(&self, db: &Db) -> Result<Option<R>, ApiError> {
        idempotency::replay(db, self.tenant_id, self.method, self.key, &self.hash).await
    }

    /// Remembers `response` under the key in `tx` and commits. When a concurrent call
    /// with the same key committed first, this one's effects are dropped and the
    /// winner's response returned.
    pub async fn commit<R: Message + Default>(
        &self,
        db: &Db,
        mut tx: Tx,
        response: R,
    ) -> Result<R, ApiError> {
        match idempotency::remember(
            &mut tx,
            self.tenant_id,
            self.method,
            self.key,
            &self.hash,
            &response,
        )
        .await
        {
            Ok(()) => {}
            Err(err) if is_unique_violation(&err) => {
                // Best effort: dropping the transaction rolls it back anyway.
                let _ = tx.rollback().await;
                return self.replay_winner(db).await;
            }
            Err(err) => return Err(err.into()),
        }
        match tx.commit().await {
            Ok(()) => Ok(response),
            Err(err) if is_unique_violation(&err) => self.replay_winner(db).await,
            Err(err) => Err(err.into()),
        }
    }

    async fn replay_winner<R: Message + Default>(&self, db: &Db) -> Result<R, ApiError> {
        self.replay(db).await?.ok_or_else(|| {
            ApiError::Internal(anyhow::anyhow!(
                "{} key {} conflicted but has no stored response",
                self.method,
                self.key
            ))
        })
    }
}
