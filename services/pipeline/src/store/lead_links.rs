//! Which opportunity each assigned lead opened or attached to, so a lead is handled
//! once however many times its assignment is delivered.

use shangji_platform::db::Params;
use sqlx::AnyConnection;

/// How a lead met its opportunity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Link {
    /// The lead opened the opportunity.
    Opened,
    /// The customer's opportunity was already open; the lead became a touchpoint on it.
    Attached,
}

impl Link {
    pub fn as_str(self) -> &'static str {
        match self {
            Link::Opened => "opened",
            Link::Attached => "attached",
        }
    }
}

/// The opportunity the lead already led to, if any.
pub async fn find(
    conn: &mut AnyConnection,
    tenant_id: &str,
    lead_id: &str,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT opportunity_id FROM lead_links WHERE tenant_id = $1 AND lead_id = $2",
    )
    .bind(tenant_id)
    .bind(lead_id)
    .fetch_optional(conn)
    .await
}

/// A lead's opportunity to record.
#[derive(Clone, Debug)]
pub struct NewLink {
    pub tenant_id: String,
    pub lead_id: String,
    pub opportunity_id: String,
    pub link: Link,
    pub at: i64,
}

/// Records several leads' opportunities in one statement. A unique violation means one
/// of the leads was handled concurrently (under another event id).
pub async fn insert_all(conn: &mut AnyConnection, links: &[NewLink]) -> Result<(), sqlx::Error> {
    // Five parameters a row keeps a statement far below the bind limits.
    for chunk in links.chunks(500) {
        let values = Params::new(conn).rows(chunk.len(), 5);
        let sql = format!(
            "INSERT INTO lead_links (tenant_id, lead_id, opportunity_id, link, linked_at)
             VALUES {values}"
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for l in chunk {
            query = query
                .bind(&l.tenant_id)
                .bind(&l.lead_id)
                .bind(&l.opportunity_id)
                .bind(l.link.as_str())
                .bind(l.at);
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Records the lead's opportunity. A unique violation means the lead was handled
/// concurrently (under another event id).
pub async fn insert(
    conn: &mut AnyConnection,
    tenant_id: &str,
    lead_id: &str,
    opportunity_id: &str,
    link: Link,
    at: i64,
) -> Result<(), sqlx::Error> {
    let link = NewLink {
        tenant_id: tenant_id.to_owned(),
        lead_id: lead_id.to_owned(),
        opportunity_id: opportunity_id.to_owned(),
        link,
        at,
    };
    insert_all(conn, std::slice::from_ref(&link)).await
}
