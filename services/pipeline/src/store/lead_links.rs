//! Which opportunity each assigned lead opened or attached to, so a lead is handled
//! once however many times its assignment is delivered.

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
    sqlx::query(
        "INSERT INTO lead_links (tenant_id, lead_id, opportunity_id, link, linked_at)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(tenant_id)
    .bind(lead_id)
    .bind(opportunity_id)
    .bind(link.as_str())
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}
