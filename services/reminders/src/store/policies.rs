//! The `policies` and `policy_versions` tables: each stage's policy in force, and every
//! version ever stored (a reminder's ladder follows the version that scheduled it).

use shangji_platform::ids::new_id;
use shangji_platform::{Db, Tx};

use crate::domain::{Policy, PolicyRules};

/// A stored policy and when it last changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredPolicy {
    pub policy: Policy,
    pub updated_at: i64,
}

#[derive(sqlx::FromRow)]
struct PolicyRow {
    stage: String,
    policy_id: String,
    version: i64,
    rules: String,
    updated_at: i64,
}

fn decode_rules(json: &str) -> Result<PolicyRules, sqlx::Error> {
    serde_json::from_str(json)
        .map_err(|e| sqlx::Error::Decode(format!("stored policy rules: {e}").into()))
}

fn encode_rules(rules: &PolicyRules) -> Result<String, sqlx::Error> {
    serde_json::to_string(rules).map_err(|e| sqlx::Error::Encode(e.into()))
}

impl TryFrom<PolicyRow> for StoredPolicy {
    type Error = sqlx::Error;

    fn try_from(row: PolicyRow) -> Result<Self, Self::Error> {
        Ok(StoredPolicy {
            policy: Policy {
                policy_id: row.policy_id,
                version: u32::try_from(row.version)
                    .map_err(|_| sqlx::Error::Decode("policy version out of range".into()))?,
                stage: row.stage,
                rules: decode_rules(&row.rules)?,
            },
            updated_at: row.updated_at,
        })
    }
}

/// The tenant's policies, the default (stage '') first, then by stage.
pub async fn list(db: &Db, tenant_id: &str) -> Result<Vec<StoredPolicy>, sqlx::Error> {
    let rows: Vec<PolicyRow> = sqlx::query_as(
        "SELECT stage, policy_id, version, rules, updated_at FROM policies
         WHERE tenant_id = $1 ORDER BY stage",
    )
    .bind(tenant_id)
    .fetch_all(db.reader())
    .await?;
    rows.into_iter().map(StoredPolicy::try_from).collect()
}

async fn of_stage(
    tx: &mut Tx,
    tenant_id: &str,
    stage: &str,
) -> Result<Option<StoredPolicy>, sqlx::Error> {
    let row: Option<PolicyRow> = sqlx::query_as(
        "SELECT stage, policy_id, version, rules, updated_at FROM policies
         WHERE tenant_id = $1 AND stage = $2",
    )
    .bind(tenant_id)
    .bind(stage)
    .fetch_optional(&mut **tx)
    .await?;
    row.map(StoredPolicy::try_from).transpose()
}

/// The policy for an opportunity in `stage`: the stage's own, else the tenant's default,
/// else None (the caller falls back to the built-in default). One statement for both.
pub async fn in_force(
    tx: &mut Tx,
    tenant_id: &str,
    stage: &str,
) -> Result<Option<Policy>, sqlx::Error> {
    let row: Option<PolicyRow> = sqlx::query_as(
        "SELECT stage, policy_id, version, rules, updated_at FROM policies
         WHERE tenant_id = $1 AND stage IN ($2, '')
         ORDER BY CASE WHEN stage = '' THEN 1 ELSE 0 END
         LIMIT 1",
    )
    .bind(tenant_id)
    .bind(stage)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row
        .map(StoredPolicy::try_from)
        .transpose()?
        .map(|p| p.policy))
}

/// The rules of one stored version.
pub async fn rules_of_version(
    tx: &mut Tx,
    tenant_id: &str,
    policy_id: &str,
    version: u32,
) -> Result<Option<PolicyRules>, sqlx::Error> {
    let rules: Option<String> = sqlx::query_scalar(
        "SELECT rules FROM policy_versions
         WHERE tenant_id = $1 AND policy_id = $2 AND version = $3",
    )
    .bind(tenant_id)
    .bind(policy_id)
    .bind(i64::from(version))
    .fetch_optional(&mut **tx)
    .await?;
    rules.as_deref().map(decode_rules).transpose()
}

/// What an upsert did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Upserted {
    Stored(StoredPolicy),
    /// `expected_version` was given and the stored version differs (0: none stored),
    /// or a concurrent change won.
    VersionMismatch {
        current: u32,
    },
}

/// Stores `rules` as the next version of the stage's policy (version 1 for a new one).
pub async fn upsert(
    tx: &mut Tx,
    tenant_id: &str,
    stage: &str,
    rules: &PolicyRules,
    expected_version: Option<u32>,
    now: i64,
) -> Result<Upserted, sqlx::Error> {
    let current = of_stage(tx, tenant_id, stage).await?;
    let current_version = current.as_ref().map_or(0, |c| c.policy.version);
    if expected_version.is_some_and(|v| v != current_version) {
        return Ok(Upserted::VersionMismatch {
            current: current_version,
        });
    }
    let policy_id = current
        .map(|c| c.policy.policy_id)
        .unwrap_or_else(|| new_id("pol"));
    let version = current_version + 1;
    let json = encode_rules(rules)?;
    // Guarded on the version read, so of two concurrent changes one wins and the other
    // learns it lost.
    let changed = sqlx::query(
        "INSERT INTO policies (tenant_id, stage, policy_id, version, rules, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (tenant_id, stage) DO UPDATE
         SET version = excluded.version, rules = excluded.rules, updated_at = excluded.updated_at
         WHERE policies.version = $7",
    )
    .bind(tenant_id)
    .bind(stage)
    .bind(&policy_id)
    .bind(i64::from(version))
    .bind(&json)
    .bind(now)
    .bind(i64::from(current_version))
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if changed == 0 {
        return Ok(Upserted::VersionMismatch {
            current: current_version + 1,
        });
    }
    sqlx::query(
        "INSERT INTO policy_versions (tenant_id, policy_id, version, stage, rules, created_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(tenant_id)
    .bind(&policy_id)
    .bind(i64::from(version))
    .bind(stage)
    .bind(&json)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(Upserted::Stored(StoredPolicy {
        policy: Policy {
            policy_id,
            version,
            stage: stage.to_owned(),
            rules: rules.clone(),
        },
        updated_at: now,
    }))
}
