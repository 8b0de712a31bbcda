//! The org replica: teams and reps as assignment publishes them. The highest version
//! of each wins, so redelivered or reordered org events change nothing.

use shangji_platform::{Db, Tx};

use crate::domain::{Caller, Role};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TeamRecord<'a> {
    pub team_id: &'a str,
    pub parent_team_id: &'a str,
    pub manager_rep_id: &'a str,
    pub ancestor_team_ids: &'a [String],
    pub version: i64,
}

pub async fn upsert_team(
    tx: &mut Tx,
    tenant_id: &str,
    t: &TeamRecord<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO org_teams (tenant_id, team_id, parent_team_id, manager_rep_id, ancestor_team_ids, version)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (tenant_id, team_id) DO UPDATE SET
           parent_team_id = excluded.parent_team_id, manager_rep_id = excluded.manager_rep_id,
           ancestor_team_ids = excluded.ancestor_team_ids, version = excluded.version
         WHERE org_teams.version < excluded.version",
    )
    .bind(tenant_id)
    .bind(t.team_id)
    .bind(t.parent_team_id)
    .bind(t.manager_rep_id)
    .bind(t.ancestor_team_ids.join("\n"))
    .bind(t.version)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RepRecord<'a> {
    pub rep_id: &'a str,
    pub team_id: &'a str,
    pub role: &'a str,
    pub status: &'a str,
    pub version: i64,
}

pub async fn upsert_rep(
    tx: &mut Tx,
    tenant_id: &str,
    r: &RepRecord<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO org_reps (tenant_id, rep_id, team_id, role, status, version)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (tenant_id, rep_id) DO UPDATE SET
           team_id = excluded.team_id, role = excluded.role, status = excluded.status,
           version = excluded.version
         WHERE org_reps.version < excluded.version",
    )
    .bind(tenant_id)
    .bind(r.rep_id)
    .bind(r.team_id)
    .bind(r.role)
    .bind(r.status)
    .bind(r.version)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The caller as the replica knows them; `None` for a user it has never heard of (or
/// who has left).
pub async fn caller(db: &Db, tenant_id: &str, rep_id: &str) -> Result<Option<Caller>, sqlx::Error> {
    let row: Option<(String, String, String)> = sqlx::query_as(
        "SELECT team_id, role, status FROM org_reps WHERE tenant_id = $1 AND rep_id = $2",
    )
    .bind(tenant_id)
    .bind(rep_id)
    .fetch_optional(db.reader())
    .await?;
    Ok(row
        .filter(|(_, _, status)| status != "departed")
        .map(|(team_id, role, _)| Caller {
            rep_id: rep_id.to_owned(),
            role: Role::parse(&role),
            team_id,
        }))
}

/// The team and every team under it (by the ancestors each team lists).
pub async fn subtree(db: &Db, tenant_id: &str, team_id: &str) -> Result<Vec<String>, sqlx::Error> {
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT team_id, ancestor_team_ids FROM org_teams WHERE tenant_id = $1")
            .bind(tenant_id)
            .fetch_all(db.reader())
            .await?;
    let mut teams: Vec<String> = rows
        .into_iter()
        .filter(|(id, ancestors)| id == team_id || ancestors.lines().any(|a| a == team_id))
        .map(|(id, _)| id)
        .collect();
    if !teams.iter().any(|t| t == team_id) {
        // A team known only from reps or opportunities: itself.
        teams.push(team_id.to_owned());
    }
    teams.sort();
    Ok(teams)
}
