//! The local replica of the organisation (teams and reps) for data permissions and
//! approvers. Upserts keep the highest version seen, so late or repeated events cannot
//! roll a team or rep back.

use sqlx::{AnyConnection, Row as _};

use crate::domain::access::{OrgRep, OrgTeam};

/// A team as an org event describes it.
pub struct TeamRow<'a> {
    pub team_id: &'a str,
    pub name: &'a str,
    pub parent_team_id: &'a str,
    pub manager_rep_id: &'a str,
    pub ancestor_team_ids: &'a [String],
    pub version: i64,
}

pub async fn upsert_team(
    conn: &mut AnyConnection,
    tenant_id: &str,
    team: &TeamRow<'_>,
) -> Result<(), sqlx::Error> {
    let ancestors = serde_json::to_string(team.ancestor_team_ids)
        .map_err(|err| sqlx::Error::Encode(Box::new(err)))?;
    sqlx::query(
        "INSERT INTO org_teams (tenant_id, team_id, name, parent_team_id, manager_rep_id,
             ancestor_team_ids, version)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (tenant_id, team_id) DO UPDATE SET name = excluded.name,
             parent_team_id = excluded.parent_team_id, manager_rep_id = excluded.manager_rep_id,
             ancestor_team_ids = excluded.ancestor_team_ids, version = excluded.version
         WHERE org_teams.version < excluded.version",
    )
    .bind(tenant_id)
    .bind(team.team_id)
    .bind(team.name)
    .bind(team.parent_team_id)
    .bind(team.manager_rep_id)
    .bind(ancestors)
    .bind(team.version)
    .execute(conn)
    .await?;
    Ok(())
}

/// A rep as an org event describes them.
pub struct RepRow<'a> {
    pub rep_id: &'a str,
    pub name: &'a str,
    pub team_id: &'a str,
    pub role: &'a str,
    pub status: &'a str,
    pub version: i64,
}

pub async fn upsert_rep(
    conn: &mut AnyConnection,
    tenant_id: &str,
    rep: &RepRow<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO org_reps (tenant_id, rep_id, name, team_id, role, status, version)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (tenant_id, rep_id) DO UPDATE SET name = excluded.name,
             team_id = excluded.team_id, role = excluded.role, status = excluded.status,
             version = excluded.version
         WHERE org_reps.version < excluded.version",
    )
    .bind(tenant_id)
    .bind(rep.rep_id)
    .bind(rep.name)
    .bind(rep.team_id)
    .bind(rep.role)
    .bind(rep.status)
    .bind(rep.version)
    .execute(conn)
    .await?;
    Ok(())
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

pub async fn rep(
    conn: &mut AnyConnection,
    tenant_id: &str,
    rep_id: &str,
) -> Result<Option<OrgRep>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT rep_id, team_id, role, status FROM org_reps WHERE tenant_id = $1 AND rep_id = $2",
    )
    .bind(tenant_id)
    .bind(rep_id)
    .fetch_optional(conn)
    .await?;
    row.map(|row| {
        Ok(OrgRep {
            rep_id: row.try_get("rep_id")?,
            team_id: row.try_get("team_id")?,
            role: row.try_get("role")?,
            status: row.try_get("status")?,
        })
    })
    .transpose()
}

/// Every team of the tenant (organisations have hundreds of teams, not millions).
pub async fn teams(conn: &mut AnyConnection, tenant_id: &str) -> Result<Vec<OrgTeam>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT team_id, manager_rep_id, ancestor_team_ids FROM org_teams WHERE tenant_id = $1
         ORDER BY team_id",
    )
    .bind(tenant_id)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|row| {
            let ancestors: String = row.try_get("ancestor_team_ids")?;
            Ok(OrgTeam {
                team_id: row.try_get("team_id")?,
                manager_rep_id: row.try_get("manager_rep_id")?,
                ancestor_team_ids: serde_json::from_str(&ancestors)
                    .map_err(|_| super::corrupt("ancestor_team_ids", &ancestors))?,
            })
        })
        .collect()
}
