//! The opportunity team: collaborators beside the owner.

use sqlx::{AnyConnection, Row as _};

/// A collaborator on an opportunity. Times are UTC milliseconds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Collaborator {
    pub rep_id: String,
    pub role: String,
    pub added_by: String,
    pub added_at: i64,
}

/// Adds or re-roles `rep_id`; returns the role it had before, if any.
pub async fn upsert(
    conn: &mut AnyConnection,
    tenant_id: &str,
    opportunity_id: &str,
    collaborator: &Collaborator,
) -> Result<Option<String>, sqlx::Error> {
    let before: Option<String> = sqlx::query_scalar(
        "SELECT role FROM collaborators WHERE tenant_id = $1 AND opportunity_id = $2 AND rep_id = $3",
    )
    .bind(tenant_id)
    .bind(opportunity_id)
    .bind(&collaborator.rep_id)
    .fetch_optional(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO collaborators (tenant_id, opportunity_id, rep_id, role, added_by, added_at)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (tenant_id, opportunity_id, rep_id) DO UPDATE SET role = excluded.role",
    )
    .bind(tenant_id)
    .bind(opportunity_id)
    .bind(&collaborator.rep_id)
    .bind(&collaborator.role)
    .bind(&collaborator.added_by)
    .bind(collaborator.added_at)
    .execute(conn)
    .await?;
    Ok(before)
}

/// Removes `rep_id`; returns the role they had, or `None` when they were not on it.
pub async fn remove(
    conn: &mut AnyConnection,
    tenant_id: &str,
    opportunity_id: &str,
    rep_id: &str,
) -> Result<Option<String>, sqlx::Error> {
    let before: Option<String> = sqlx::query_scalar(
        "SELECT role FROM collaborators WHERE tenant_id = $1 AND opportunity_id = $2 AND rep_id = $3",
    )
    .bind(tenant_id)
    .bind(opportunity_id)
    .bind(rep_id)
    .fetch_optional(&mut *conn)
    .await?;
    if before.is_some() {
        sqlx::query(
            "DELETE FROM collaborators WHERE tenant_id = $1 AND opportunity_id = $2 AND rep_id = $3",
        )
        .bind(tenant_id)
        .bind(opportunity_id)
        .bind(rep_id)
        .execute(conn)
        .await?;
    }
    Ok(before)
}

/// The opportunity's collaborators, by rep id.
pub async fn list_for(
    conn: &mut AnyConnection,
    tenant_id: &str,
    opportunity_id: &str,
) -> Result<Vec<Collaborator>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT rep_id, role, added_by, added_at FROM collaborators
         WHERE tenant_id = $1 AND opportunity_id = $2 ORDER BY rep_id",
    )
    .bind(tenant_id)
    .bind(opportunity_id)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(Collaborator {
                rep_id: row.try_get("rep_id")?,
                role: row.try_get("role")?,
                added_by: row.try_get("added_by")?,
                added_at: row.try_get("added_at")?,
            })
        })
        .collect()
}
