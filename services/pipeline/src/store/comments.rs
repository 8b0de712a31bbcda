//! Comments on opportunities: appended, listed, never changed.

use sqlx::{AnyConnection, Row as _};

/// A comment as stored. Times are UTC milliseconds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Comment {
    pub comment_id: String,
    pub opportunity_id: String,
    pub author_id: String,
    pub body: String,
    pub created_at: i64,
}

pub async fn insert(
    conn: &mut AnyConnection,
    tenant_id: &str,
    comment: &Comment,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO comments (tenant_id, comment_id, opportunity_id, author_id, body, created_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(tenant_id)
    .bind(&comment.comment_id)
    .bind(&comment.opportunity_id)
    .bind(&comment.author_id)
    .bind(&comment.body)
    .bind(comment.created_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// The opportunity's comments, oldest first (ids are time-ordered, so ties keep order).
pub async fn list_for(
    conn: &mut AnyConnection,
    tenant_id: &str,
    opportunity_id: &str,
) -> Result<Vec<Comment>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT comment_id, opportunity_id, author_id, body, created_at FROM comments
         WHERE tenant_id = $1 AND opportunity_id = $2 ORDER BY created_at, comment_id",
    )
    .bind(tenant_id)
    .bind(opportunity_id)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(Comment {
                comment_id: row.try_get("comment_id")?,
                opportunity_id: row.try_get("opportunity_id")?,
                author_id: row.try_get("author_id")?,
                body: row.try_get("body")?,
                created_at: row.try_get("created_at")?,
            })
        })
        .collect()
}
