//! A tenant's saved scoring-rule versions. Version 1 (the built-in rules) is never
//! stored: a tenant without rows scores with it.

use prost::Message as _;
use shangji_contracts::dedup as pb;
use sqlx::AnyConnection;

use crate::domain::GradeThresholds;
use crate::domain::score_rules::ScoringRules;
use crate::domain::score_rules_proto;

/// A saved version as stored: the rules message and who saved it when.
#[derive(Clone, Debug, PartialEq)]
pub struct SavedRules {
    pub version: u32,
    pub rules: pb::ScoringRules,
    pub created_by: String,
    pub created_at: i64,
}

type Row = (i64, Vec<u8>, String, i64);

/// The newest saved version, if the tenant saved any.
pub async fn latest(
    conn: &mut AnyConnection,
    tenant_id: &str,
) -> Result<Option<SavedRules>, sqlx::Error> {
    let row: Option<Row> = sqlx::query_as(
        "SELECT version, rules, created_by, created_at FROM scoring_rules
         WHERE tenant_id = $1 ORDER BY version DESC LIMIT 1",
    )
    .bind(tenant_id)
    .fetch_optional(conn)
    .await?;
    row.map(saved).transpose()
}

/// One saved version.
pub async fn version(
    conn: &mut AnyConnection,
    tenant_id: &str,
    version: u32,
) -> Result<Option<SavedRules>, sqlx::Error> {
    let row: Option<Row> = sqlx::query_as(
        "SELECT version, rules, created_by, created_at FROM scoring_rules
         WHERE tenant_id = $1 AND version = $2",
    )
    .bind(tenant_id)
    .bind(i64::from(version))
    .fetch_optional(conn)
    .await?;
    row.map(saved).transpose()
}

/// Saves `rules` as `version`. A unique violation means a concurrent save took that
/// version first.
pub async fn insert(
    conn: &mut AnyConnection,
    tenant_id: &str,
    version: u32,
    rules: &pb::ScoringRules,
    created_by: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO scoring_rules (tenant_id, version, rules, created_by, created_at)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(tenant_id)
    .bind(i64::from(version))
    .bind(rules.encode_to_vec())
    .bind(created_by)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

fn saved((version, bytes, created_by, created_at): Row) -> Result<SavedRules, sqlx::Error> {
    let rules =
        pb::ScoringRules::decode(bytes.as_slice()).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
    Ok(SavedRules {
        version: u32::try_from(version).map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
        rules,
        created_by,
        created_at,
    })
}

/// The rules that score the tenant's leads now: its newest saved version, else the
/// built-in version 1 graded with `builtin_grades` (the service settings).
pub async fn in_force(
    conn: &mut AnyConnection,
    tenant_id: &str,
    builtin_grades: GradeThresholds,
) -> Result<ScoringRules, sqlx::Error> {
    let Some(saved) = latest(conn, tenant_id).await? else {
        return Ok(ScoringRules::builtin(builtin_grades));
    };
    match score_rules_proto::parse(&saved.rules, saved.version, "rules") {
        Ok(rules) => Ok(rules),
        // Rules are checked when saved, so this is a newer version's rule set; scoring
        // with the built-in rules beats holding every lead back.
        Err(violations) => {
            tracing::warn!(
                tenant_id,
                version = saved.version,
                ?violations,
                "saved scoring rules do not parse; scoring with the built-in rules"
            );
            Ok(ScoringRules::builtin(builtin_grades))
        }
    }
}
