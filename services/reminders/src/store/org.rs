//! The replica of assignment's org tree (`org_teams`, `org_reps`): the manager an
//! escalation notifies, and who sees whose reminders. Each row keeps the highest version seen, so events
//! arriving out of order end with the newest state.

use shangji_platform::Tx;
use sqlx::AnyConnection;

use crate::domain::access::{OrgRep, OrgTeam};

/// How far up the team tree a manager is looked for (trees are shallow; this bounds a
/// cycle a bad event could create).
const MAX_TREE_DEPTH: usize = 16;

pub async fn upsert_team(
    tx: &mut Tx,
    tenant_id: &str,
    team_id: &str,
    parent_team_id: &str,
    manager_rep_id: &str,
    version: u64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO org_teams (tenant_id, team_id, parent_team_id, manager_rep_id, version)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (tenant_id, team_id) DO UPDATE
         SET parent_team_id = excluded.parent_team_id, manager_rep_id = excluded.manager_rep_id,
             version = excluded.version
         WHERE org_teams.version < excluded.version",
    )
    .bind(tenant_id)
    .bind(team_id)
    .bind(parent_team_id)
    .bind(manager_rep_id)
    .bind(version_i64(version))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A rep as an org event describes them.
#[derive(Clone, Copy, Debug)]
pub struct RepUpsert<'a> {
    pub rep_id: &'a str,
    pub team_id: &'a str,
    /// rep, manager or admin.
    pub role: &'a str,
    /// active, on_leave or departed.
    pub status: &'a str,
    pub version: u64,
}

pub async fn upsert_rep(
    tx: &mut Tx,
    tenant_id: &str,
    rep: &RepUpsert<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO org_reps (tenant_id, rep_id, team_id, role, status, version)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (tenant_id, rep_id) DO UPDATE
         SET team_id = excluded.team_id, role = excluded.role, status = excluded.status,
             version = excluded.version
         WHERE org_reps.version < excluded.version",
    )
    .bind(tenant_id)
    .bind(rep.rep_id)
    .bind(rep.team_id)
    .bind(rep.role)
    .bind(rep.status)
    .bind(version_i64(rep.version))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

fn version_i64(version: u64) -> i64 {
    i64::try_from(version).unwrap_or(i64::MAX)
}

/// The manager of `rep_id`: the manager of the rep's team, or, when that is the rep
/// themself or nobody, the nearest manager up the tree. None when none is known.
pub async fn manager_of(
    tx: &mut Tx,
    tenant_id: &str,
    rep_id: &str,
) -> Result<Option<String>, sqlx::Error> {
    let team: Option<String> =
        sqlx::query_scalar("SELECT team_id FROM org_reps WHERE tenant_id = $1 AND rep_id = $2")
            .bind(tenant_id)
            .bind(rep_id)
            .fetch_optional(&mut **tx)
            .await?;
    let mut team = team.filter(|t| !t.is_empty());
    for _ in 0..MAX_TREE_DEPTH {
        let Some(team_id) = team else { break };
        let row: Option<(String, String)> = sqlx::query_as(
            "SELECT parent_team_id, manager_rep_id FROM org_teams
             WHERE tenant_id = $1 AND team_id = $2",
        )
        .bind(tenant_id)
        .bind(&team_id)
        .fetch_optional(&mut **tx)
        .await?;
        let Some((parent, manager)) = row else { break };
        if !manager.is_empty() && manager != rep_id {
            return Ok(Some(manager));
        }
        team = (!parent.is_empty()).then_some(parent);
    }
    Ok(None)
}

/// Whether the tenant has an active admin (from then on unknown callers see nothing).
pub async fn tenant_has_admin(
    conn: &mut AnyConnection,
    tenant_id: &str,
) -> Result<bool, sqlx::Error> {
    let found: Option<i64> = sqlx::query_scalar(
        "SELECT 1 FROM org_reps WHERE tenant_id = $1 AND role = 'admin' AND status <> 'departed'
         LIMIT 1",
    )
    .bind(tenant_id)
    .fetch_optional(conn)
    .await?;
    Ok(found.is_some())
}

/// One user of the tenant, as replicated.
pub async fn rep(
    conn: &mut AnyConnection,
    tenant_id: &str,
    rep_id: &str,
) -> Result<Option<OrgRep>, sqlx::Error> {
    let row: Option<(String, String, String, String)> = sqlx::query_as(
        "SELECT rep_id, team_id, role, status FROM org_reps WHERE tenant_id = $1 AND rep_id = $2",
    )
    .bind(tenant_id)
    .bind(rep_id)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|(rep_id, team_id, role, status)| OrgRep {
        rep_id,
        team_id,
        role,
        status,
    }))
}

/// Every team of the tenant (organisations have hundreds of teams, not millions).
pub async fn teams(conn: &mut AnyConnection, tenant_id: &str) -> Result<Vec<OrgTeam>, sqlx::Error> {
    let rows: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT team_id, parent_team_id, manager_rep_id FROM org_teams WHERE tenant_id = $1
         ORDER BY team_id",
    )
    .bind(tenant_id)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(team_id, parent_team_id, manager_rep_id)| OrgTeam {
            team_id,
            parent_team_id,
            manager_rep_id,
        })
        .collect())
}
