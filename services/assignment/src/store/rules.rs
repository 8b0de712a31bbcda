//! The `rules` table: the tenant's ordered assignment rules.

use shangji_platform::Tx;

use super::{Exec, flag};
use crate::domain::{AssignmentRule, Conditions, Strategy};

type RuleRow = (
    String,
    String,
    i64,
    i64,
    String,
    String,
    String,
    String,
    i64,
);

const SELECT: &str = "SELECT rule_id, name, position, enabled, conditions, target_team_id, \
                      target_skill_tier, strategy, version FROM rules";

fn to_rule(row: RuleRow) -> Result<AssignmentRule, sqlx::Error> {
    let (rule_id, name, position, enabled, conditions, target_team, target_tier, strategy, version) =
        row;
    let conditions: Conditions = serde_json::from_str(&conditions).map_err(|e| {
        sqlx::Error::Decode(format!("rule {rule_id} has unreadable conditions: {e}").into())
    })?;
    let strategy = Strategy::parse(&strategy).ok_or_else(|| {
        sqlx::Error::Decode(format!("rule {rule_id} has unknown strategy {strategy:?}").into())
    })?;
    Ok(AssignmentRule {
        position: u32::try_from(position).unwrap_or(u32::MAX),
        enabled: enabled != 0,
        rule_id,
        name,
        conditions,
        target_team,
        target_tier,
        strategy,
        version,
    })
}

/// The tenant's rules in evaluation order.
pub async fn list<'e>(
    exec: impl Exec<'e>,
    tenant_id: &str,
) -> Result<Vec<AssignmentRule>, sqlx::Error> {
    let sql = format!("{SELECT} WHERE tenant_id = $1 ORDER BY position, rule_id");
    let rows: Vec<RuleRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(tenant_id)
        .fetch_all(exec)
        .await?;
    rows.into_iter().map(to_rule).collect()
}

/// Creates or replaces a rule at `rule.position` (positions are renumbered by the
/// caller); returns whether it was new.
pub async fn save(
    tx: &mut Tx,
    tenant_id: &str,
    rule: &AssignmentRule,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let conditions =
        serde_json::to_string(&rule.conditions).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    let existed: Option<i64> =
        sqlx::query_scalar("SELECT version FROM rules WHERE tenant_id = $1 AND rule_id = $2")
            .bind(tenant_id)
            .bind(&rule.rule_id)
            .fetch_optional(&mut **tx)
            .await?;
    sqlx::query(
        "INSERT INTO rules (tenant_id, rule_id, name, position, enabled, conditions,
                            target_team_id, target_skill_tier, strategy, version, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 1, $10)
         ON CONFLICT (tenant_id, rule_id) DO UPDATE
         SET name = excluded.name, position = excluded.position, enabled = excluded.enabled,
             conditions = excluded.conditions, target_team_id = excluded.target_team_id,
             target_skill_tier = excluded.target_skill_tier, strategy = excluded.strategy,
             version = rules.version + 1, updated_at = excluded.updated_at",
    )
    .bind(tenant_id)
    .bind(&rule.rule_id)
    .bind(&rule.name)
    .bind(i64::from(rule.position))
    .bind(flag(rule.enabled))
    .bind(conditions)
    .bind(&rule.target_team)
    .bind(&rule.target_tier)
    .bind(rule.strategy.as_str())
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(existed.is_none())
}

pub async fn delete(tx: &mut Tx, tenant_id: &str, rule_id: &str) -> Result<bool, sqlx::Error> {
    let deleted = sqlx::query("DELETE FROM rules WHERE tenant_id = $1 AND rule_id = $2")
        .bind(tenant_id)
        .bind(rule_id)
        .execute(&mut **tx)
        .await?
        .rows_affected();
    Ok(deleted == 1)
}

/// Numbers the rules 1..n in the given order.
pub async fn set_order(
    tx: &mut Tx,
    tenant_id: &str,
    rule_ids: &[String],
) -> Result<(), sqlx::Error> {
    for (i, rule_id) in rule_ids.iter().enumerate() {
        sqlx::query("UPDATE rules SET position = $3 WHERE tenant_id = $1 AND rule_id = $2")
            .bind(tenant_id)
            .bind(rule_id)
            .bind(i64::try_from(i + 1).unwrap_or(i64::MAX))
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}
