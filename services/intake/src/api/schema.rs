//! GetFieldSchema / UpsertFieldSchema, and the compiled schemas submissions are checked
//! against (compiled once per tenant and version, since patterns cost to compile).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use prost::Message as _;
use shangji_contracts::intake::{
    FieldSchema, GetFieldSchemaRequest, GetFieldSchemaResponse, UpsertFieldSchemaRequest,
    UpsertFieldSchemaResponse,
};
use shangji_contracts::time::{from_millis, now_millis};
use shangji_platform::db::is_unique_violation;
use shangji_platform::grpc::{ApiError, FieldViolation, RequestContext};
use shangji_platform::{Db, idempotency};

use crate::domain::schema::{Schema, check_definitions};
use crate::domain::validate::validate_idempotency_key;
use crate::store;

const UPSERT_FIELD_SCHEMA: &str = "UpsertFieldSchema";
/// Compiled schemas kept at most; past it the cache starts afresh (versions are few).
const CACHE_LIMIT: usize = 1024;
/// How long a tenant's current version is taken as current without asking the database:
/// a schema upserted through another replica applies there within this time (through
/// this one, at once). Without it every submission paid a read for a version that
/// changes a few times a year.
const CURRENT_FOR: Duration = Duration::from_secs(1);

/// Compiled schemas by (tenant, version), and which one is each tenant's current.
/// Versions never change, so compiled entries never go stale.
#[derive(Default)]
pub struct SchemaCache {
    compiled: Mutex<HashMap<(String, i64), Arc<Schema>>>,
    current: Mutex<HashMap<String, (Instant, Arc<Schema>)>>,
    /// Upserts seen through this replica: a read that began before one is not kept.
    changes: AtomicU64,
}

impl SchemaCache {
    /// The tenant's current schema, compiled (the built-in one when none was upserted).
    pub async fn current(&self, db: &Db, tenant_id: &str) -> Result<Arc<Schema>, ApiError> {
        if let Some((read_at, schema)) = lock(&self.current).get(tenant_id)
            && read_at.elapsed() < CURRENT_FOR
        {
            return Ok(schema.clone());
        }
        let read_at = Instant::now();
        let changes = self.changes.load(Ordering::SeqCst);
        let schema = self.load_current(db, tenant_id).await?;
        let mut current = lock(&self.current);
        if self.changes.load(Ordering::SeqCst) != changes {
            // An upsert committed while we read: what we read may be older than it.
            return Ok(schema);
        }
        if current.len() >= CACHE_LIMIT {
            current.clear();
        }
        current.insert(tenant_id.to_owned(), (read_at, schema.clone()));
        Ok(schema)
    }

    /// The tenant's schema changed through this replica: the next submission reads it.
    pub fn forget_current(&self, tenant_id: &str) {
        let mut current = lock(&self.current);
        self.changes.fetch_add(1, Ordering::SeqCst);
        current.remove(tenant_id);
    }

    async fn load_current(&self, db: &Db, tenant_id: &str) -> Result<Arc<Schema>, ApiError> {
        let Some(row) = store::load_schema(db.reader(), tenant_id, 0).await? else {
            return Ok(Arc::new(Schema::built_in()));
        };
        let key = (tenant_id.to_owned(), row.version);
        if let Some(schema) = lock(&self.compiled).get(&key) {
            return Ok(schema.clone());
        }
        let stored = decode(&row.schema)?;
        let schema = Arc::new(Schema::compile(&stored).map_err(|e| {
            ApiError::Internal(anyhow::anyhow!("stored schema {}: {e}", row.version))
        })?);
        let mut cache = lock(&self.compiled);
        if cache.len() >= CACHE_LIMIT {
            cache.clear();
        }
        cache.insert(key, schema.clone());
        Ok(schema)
    }
}

fn lock<T>(map: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding the lock leaves a consistent map (inserts are atomic).
    map.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn decode(bytes: &[u8]) -> Result<FieldSchema, ApiError> {
    FieldSchema::decode(bytes)
        .map_err(|e| ApiError::Internal(anyhow::Error::new(e).context("stored field schema")))
}

pub async fn get_field_schema(
    db: &Db,
    ctx: &RequestContext,
    request: &GetFieldSchemaRequest,
) -> Result<GetFieldSchemaResponse, ApiError> {
    if request.version < 0 {
        return Err(ApiError::invalid_field(
            "version",
            "must be 0 (current) or a version number",
        ));
    }
    let schema = match store::load_schema(db.reader(), &ctx.tenant_id, request.version).await? {
        Some(row) => decode(&row.schema)?,
        None if request.version == 0 => FieldSchema::default(),
        None => {
            return Err(ApiError::NotFound(format!(
                "field schema version {} not found",
                request.version
            )));
        }
    };
    Ok(GetFieldSchemaResponse {
        schema: Some(schema),
    })
}

pub async fn upsert_field_schema(
    db: &Db,
    ctx: &RequestContext,
    request: UpsertFieldSchemaRequest,
) -> Result<UpsertFieldSchemaResponse, ApiError> {
    let key = request.idempotency_key.trim().to_owned();
    let mut violations = check_definitions(&request.fields);
    violations.extend(validate_idempotency_key(&key));
    if request.expected_version < 0 {
        violations.push(FieldViolation::new(
            "expected_version",
            "must be 0 (no check) or the version you edited",
        ));
    }
    if !violations.is_empty() {
        return Err(ApiError::invalid(violations));
    }
    let hash = idempotency::request_hash(&request);
    let replay = || {
        idempotency::replay::<UpsertFieldSchemaResponse>(
            db,
            &ctx.tenant_id,
            UPSERT_FIELD_SCHEMA,
            &key,
            &hash,
        )
    };
    if let Some(earlier) = replay().await? {
        return Ok(earlier);
    }
    let result: Result<UpsertFieldSchemaResponse, ApiError> = async {
        let mut tx = db.begin().await?;
        let current = store::current_version(&mut tx, &ctx.tenant_id).await?;
        if request.expected_version > 0 && request.expected_version != current {
            return Err(ApiError::FailedPrecondition {
                message: format!(
                    "the schema is at version {current}, not {}: someone changed it meanwhile; \
                     read it again and reapply your edit",
                    request.expected_version
                ),
                missing: vec![format!("expected_version = {current}")],
            });
        }
        let now = now_millis();
        let schema = FieldSchema {
            version: current + 1,
            fields: request
                .fields
                .into_iter()
                .map(|mut f| {
                    f.key = f.key.trim().to_owned();
                    f
                })
                .collect(),
            created_at: Some(from_millis(now)),
            created_by: ctx.user_id.clone(),
        };
        store::insert_schema(
            &mut tx,
            &ctx.tenant_id,
            schema.version,
            &schema.encode_to_vec(),
            &ctx.user_id,
            now,
        )
        .await?;
        let response = UpsertFieldSchemaResponse {
            schema: Some(schema),
        };
        idempotency::remember(
            &mut tx,
            &ctx.tenant_id,
            UPSERT_FIELD_SCHEMA,
            &key,
            &hash,
            &response,
        )
        .await?;
        match tx.commit().await {
            Ok(()) => {
                tracing::info!(tenant.id = %ctx.tenant_id, version = current + 1, "field schema upserted");
                Ok(response)
            }
            // A retry with the same key won the race: answer as it did.
            Err(err) if is_unique_violation(&err) => match replay().await? {
                Some(earlier) => Ok(earlier),
                None => Err(ApiError::FailedPrecondition {
                    message: "another schema change was saved at the same moment; read the schema again and reapply your edit".into(),
                    missing: vec!["expected_version".into()],
                }),
            },
            Err(err) => Err(err.into()),
        }
    }
    .await;
    // A retry sent while the first call ran finds its effects (or its key) and is
    // refused for them: it answers what the first call answered.
    idempotency::or_earlier(result, replay).await
}
