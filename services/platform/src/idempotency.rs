//! Safe retries of mutating RPCs. The response of a call made with an idempotency key
//! is stored in the same transaction as its effects; a retry with the same key gets
//! that response back and changes nothing. The same key with a different request is
//! refused, since the caller has mixed two operations up.
//!
//! Usage in a handler:
//! 1. `if let Some(r) = replay(...)? { return Ok(r) }`
//! 2. do the work in a transaction, `remember(&mut tx, ...)`, commit;
//! 3. if the commit hit a unique violation (a concurrent retry won), `replay` again.
//!
//! [`Call`] does all three; [`once`] wraps a whole handler body in them.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;

use prost::Message;
use sha2::Digest;

use crate::db::is_unique_violation;
use crate::db::{Db, Tx};
use crate::grpc::{ApiError, RequestContext};

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
    row.map(|(request_hash_then, response)| {
        Earlier {
            request_hash: request_hash_then,
            response,
        }
        .answer(method, key, request_hash)
    })
    .transpose()
}

/// What an earlier call with a key stored: its fingerprint and its encoded response.
pub struct Earlier {
    pub request_hash: String,
    pub response: Vec<u8>,
}

impl Earlier {
    /// The stored response to hand a retry of the same request; the same key used for
    /// a different request is refused.
    pub fn answer<M: Message + Default>(
        &self,
        method: &str,
        key: &str,
        request_hash: &str,
    ) -> Result<M, ApiError> {
        if self.request_hash != request_hash {
            return Err(ApiError::invalid_field(
                "idempotency_key",
                format!("`{key}` was already used for a different {method} request; use a new key"),
            ));
        }
        M::decode(self.response.as_slice())
            .map_err(|e| ApiError::Internal(anyhow::Error::new(e).context("stored response")))
    }
}

/// What earlier calls of `method` stored under any of `keys` (tenant, key), read on
/// `tx` so a group of calls is checked in one statement per tenant, not one per call.
/// Keys never used are absent from the map.
pub async fn earlier_calls(
    tx: &mut Tx,
    method: &str,
    keys: &[(&str, &str)],
) -> Result<HashMap<(String, String), Earlier>, sqlx::Error> {
    let mut by_tenant: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for &(tenant_id, key) in keys {
        if !key.is_empty() {
            by_tenant.entry(tenant_id).or_default().push(key);
        }
    }
    let mut found = HashMap::new();
    for (tenant_id, keys) in by_tenant {
        for chunk in keys.chunks(500) {
            let mut params = crate::db::Params::new(tx);
            let (tenant, method_param) = (params.one(), params.one());
            let list = params.list(chunk.len());
            let sql = format!(
                "SELECT idempotency_key, request_hash, response FROM idempotency_keys
                 WHERE tenant_id = {tenant} AND method = {method_param}
                   AND idempotency_key IN ({list})"
            );
            let mut query =
                sqlx::query_as::<_, (String, String, Vec<u8>)>(sqlx::AssertSqlSafe(sql))
                    .bind(tenant_id)
                    .bind(method);
            for key in chunk {
                query = query.bind(*key);
            }
            for (key, request_hash, response) in query.fetch_all(&mut **tx).await? {
                found.insert(
                    (tenant_id.to_owned(), key),
                    Earlier {
                        request_hash,
                        response,
                    },
                );
            }
        }
    }
    Ok(found)
}

/// Longest idempotency key accepted.
pub const KEY_MAX_LEN: usize = 128;

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

/// One response to remember; see [`remember_all`].
pub struct Remembered<'a, M> {
    pub tenant_id: &'a str,
    pub key: &'a str,
    pub request_hash: &'a str,
    pub response: &'a M,
}

/// [`remember`] for many calls of one method in one statement (calls without a key are
/// skipped). Any key already taken fails the whole statement with a unique violation,
/// as `remember` fails for one.
pub async fn remember_all<M: Message>(
    tx: &mut Tx,
    method: &str,
    calls: &[Remembered<'_, M>],
) -> Result<(), sqlx::Error> {
    let now = shangji_contracts::time::now_millis();
    let keyed: Vec<&Remembered<'_, M>> = calls.iter().filter(|c| !c.key.is_empty()).collect();
    // Six parameters a row keeps a statement far below the bind limits.
    for chunk in keyed.chunks(500) {
        let mut params = crate::db::Params::new(tx);
        let values = params.rows(chunk.len(), 6);
        let sql = format!(
            "INSERT INTO idempotency_keys
             (tenant_id, method, idempotency_key, request_hash, response, created_at)
             VALUES {values}"
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for call in chunk {
            query = query
                .bind(call.tenant_id)
                .bind(method)
                .bind(call.key)
                .bind(call.request_hash)
                .bind(call.response.encode_to_vec())
                .bind(now);
        }
        query.execute(&mut **tx).await?;
    }
    Ok(())
}

/// One mutating call made safe to retry, wrapping the steps above: `Call::new` checks the
/// key and fingerprints the request, `replay` answers a retry, `commit` remembers the
/// response in the call's transaction and commits it (or returns the winner's response
/// when a concurrent retry with the same key committed first).
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
            hash: request_hash(request),
        })
    }

    /// The response of an earlier call with this key, if there was one.
    pub async fn replay<R: Message + Default>(&self, db: &Db) -> Result<Option<R>, ApiError> {
        replay(db, self.tenant_id, self.method, self.key, &self.hash).await
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
        match remember(
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

    /// What to answer for a call that ended in `result`. A retry sent while the first
    /// call was still running waits for the writer behind it and then finds the first
    /// call's effects (the deal already closed, the customers already merged); refused
    /// for that, it answers what the first call answered, as a retry after it would.
    /// A refusal with no earlier call under the key stands.
    pub async fn or_replay<R: Message + Default, E>(
        &self,
        db: &Db,
        result: Result<R, E>,
    ) -> Result<R, E> {
        or_earlier(result, || self.replay(db)).await
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

/// `result`, or, when it is an error, the response an earlier call with the same key
/// stored (`earlier` looks it up); see [`Call::or_replay`]. A refusal with no stored
/// response stands, and so does one whose look-up failed: it says more than the
/// look-up's error would.
pub async fn or_earlier<R, E, Fut>(
    result: Result<R, E>,
    earlier: impl FnOnce() -> Fut,
) -> Result<R, E>
where
    Fut: Future<Output = Result<Option<R>, ApiError>>,
{
    match result {
        Ok(response) => Ok(response),
        Err(err) => match earlier().await {
            Ok(Some(earlier)) => Ok(earlier),
            Ok(None) | Err(_) => Err(err),
        },
    }
}

/// Runs `work` once per idempotency key: a retry gets the first answer back. `work` runs
/// in a fresh transaction that is committed with the remembered answer; a concurrent
/// retry that committed first is replayed instead.
pub async fn once<Req: Message, Resp: Message + Default>(
    db: &Db,
    ctx: &RequestContext,
    method: &'static str,
    key: &str,
    request: &Req,
    work: impl AsyncFnOnce(&mut Tx) -> Result<Resp, ApiError>,
) -> Result<Resp, ApiError> {
    let call = Call::new(ctx, method, key, request)?;
    if let Some(done) = call.replay(db).await? {
        return Ok(done);
    }
    let result = async {
        let mut tx = db.begin().await?;
        let response = work(&mut tx).await?;
        call.commit(db, tx, response).await
    }
    .await;
    call.or_replay(db, result).await
}
