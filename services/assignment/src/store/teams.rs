//! The `teams` table: the organisation tree.

use shangji_platform::Tx;

use super::{Exec, from_json, to_json};
use crate::domain::{Team, TeamDraft};

type TeamRow = (String, String, String, String, String, i64);

const SELECT: &str =
    "SELECT team_id, name, parent_team_id, manager_rep_id, ancestors, version FROM teams";

fn to_team(row: TeamRow) -> Result<Team, sqlx::Error> {
    let (team_id, name, parent_team_id, manager_rep_id, ancestors, version) = row;
    Ok(Team {
        ancestors: from_json(&ancestors, "teams.ancestors")?,
        team_id,
        name,
        parent_team_id,
        manager_rep_id,
        version,
    })
}

pub async fn get<'e>(
    exec: impl Exec<'e>,
    tenant_id: &str,
    team_id: &str,
) -> Result<Option<Team>, sqlx::Error> {
    let sql = format!("{SELECT} WHERE tenant_id = $1 AND team_id = $2");
    let row: Option<TeamRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(tenant_id)
        .bind(team_id)
        .fetch_optional(exec)
        .await?;
    row.map(to_team).transpose()
}

/// Every team of the tenant, unordered.
pub async fn list<'e>(exec: impl Exec<'e>, tenant_id: &str) -> Result<Vec<Team>, sqlx::Error> {
    let sql = format!("{SELECT} WHERE tenant_id = $1");
    let rows: Vec<TeamRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(tenant_id)
        .fetch_all(exec)
        .await?;
    rows.into_iter().map(to_team).collect()
}

/// Creates or replaces a team (version + 1) and returns it with whether it was new.
pub async fn save(
    tx: &mut Tx,
    tenant_id: &str,
    draft: &TeamDraft,
    ancestors: &[String],
    now: i64,
) -> Result<(Team, bool), sqlx::Error> {
    let existed = get(&mut **tx, tenant_id, &draft.team_id).await?.is_some();
    sqlx::query(
        "INSERT INTO teams (tenant_id, team_id, name, parent_team_id, manager_rep_id, ancestors,
                            version, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $7)
         ON CONFLICT (tenant_id, team_id) DO UPDATE
         SET name = excluded.name, parent_team_id = excluded.parent_team_id,
             manager_rep_id = excluded.manager_rep_id, ancestors = excluded.ancestors,
             version = teams.version + 1, updated_at = excluded.updated_at",
    )
    .bind(tenant_id)
    .bind(&draft.team_id)
    .bind(&draft.name)
    .bind(&draft.parent_team_id)
    .bind(&draft.manager_rep_id)
    .bind(to_json(ancestors))
    .bind(now)
    .execute(&mut **tx)
    .await?;
    let team = get(&mut **tx, tenant_id, &draft.team_id)
        .await?
        .ok_or(sqlx::Error::RowNotFound)?;
    Ok((team, !existed))
}

/// A sub-team moved with its ancestor: store its new ancestors (version + 1).
pub async fn set_ancestors(
    tx: &mut Tx,
    tenant_id: &str,
    team_id: &str,
    ancestors: &[String],
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE teams SET ancestors = $3, version = version + 1, updated_at = $4
         WHERE tenant_id = $1 AND team_id = $2",
    )
    .bind(tenant_id)
    .bind(team_id)
    .bind(to_json(ancestors))
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
