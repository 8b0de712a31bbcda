//! Activities logged on opportunities (follow-ups and touchpoints).

use std::collections::BTreeMap;

use sqlx::{AnyConnection, Row as _};

use crate::domain::{Activity, ActivityKind, Attachment};

fn encode_attachments(attachments: &[Attachment]) -> String {
    // Plain strings and numbers always serialise.
    serde_json::to_string(attachments).unwrap_or_else(|_| "[]".to_owned())
}

fn decode_attachments(json: &str) -> Result<Vec<Attachment>, sqlx::Error> {
    serde_json::from_str(json).map_err(|_| super::corrupt("attachments", json))
}

pub async fn insert(
    conn: &mut AnyConnection,
    tenant_id: &str,
    activity: &Activity,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO activities (tenant_id, activity_id, opportunity_id, kind, summary, next_step,
             next_follow_up_at, lead_id, user_id, logged_at, purpose, customer_questions,
             attachments)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(tenant_id)
    .bind(&activity.activity_id)
    .bind(&activity.opportunity_id)
    .bind(activity.kind.as_str())
    .bind(&activity.summary)
    .bind(&activity.next_step)
    .bind(activity.next_follow_up_at)
    .bind(&activity.lead_id)
    .bind(&activity.user_id)
    .bind(activity.logged_at)
    .bind(&activity.purpose)
    .bind(&activity.customer_questions)
    .bind(encode_attachments(&activity.attachments))
    .execute(&mut *conn)
    .await?;
    // The listing sorts and finds stalled deals by this; only ever moves forward.
    sqlx::query(
        "UPDATE opportunities SET last_activity_at = $3
         WHERE tenant_id = $1 AND opportunity_id = $2
           AND (last_activity_at IS NULL OR last_activity_at < $3)",
    )
    .bind(tenant_id)
    .bind(&activity.opportunity_id)
    .bind(activity.logged_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// The opportunity's activities, newest first.
pub async fn list_for(
    conn: &mut AnyConnection,
    tenant_id: &str,
    opportunity_id: &str,
) -> Result<Vec<Activity>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT activity_id, opportunity_id, kind, summary, next_step, next_follow_up_at,
             lead_id, user_id, logged_at, purpose, customer_questions, attachments
         FROM activities WHERE tenant_id = $1 AND opportunity_id = $2
         ORDER BY logged_at DESC, activity_id DESC",
    )
    .bind(tenant_id)
    .bind(opportunity_id)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|row| {
            let kind: String = row.try_get("kind")?;
            Ok(Activity {
                activity_id: row.try_get("activity_id")?,
                opportunity_id: row.try_get("opportunity_id")?,
                kind: kind
                    .parse::<ActivityKind>()
                    .map_err(|_| super::corrupt("kind", &kind))?,
                summary: row.try_get("summary")?,
                next_step: row.try_get("next_step")?,
                next_follow_up_at: row.try_get("next_follow_up_at")?,
                lead_id: row.try_get("lead_id")?,
                user_id: row.try_get("user_id")?,
                logged_at: row.try_get("logged_at")?,
                purpose: row.try_get("purpose")?,
                customer_questions: row.try_get("customer_questions")?,
                attachments: decode_attachments(&row.try_get::<String, _>("attachments")?)?,
            })
        })
        .collect()
}

/// How many activities of each kind the opportunity has (what stage gates count).
pub async fn count_by_kind(
    conn: &mut AnyConnection,
    tenant_id: &str,
    opportunity_id: &str,
) -> Result<BTreeMap<ActivityKind, u32>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT kind, COUNT(*) AS n FROM activities
         WHERE tenant_id = $1 AND opportunity_id = $2 GROUP BY kind",
    )
    .bind(tenant_id)
    .bind(opportunity_id)
    .fetch_all(conn)
    .await?;
    let mut counts = BTreeMap::new();
    for row in &rows {
        let kind: String = row.try_get("kind")?;
        let n: i64 = row.try_get("n")?;
        let kind = kind
            .parse::<ActivityKind>()
            .map_err(|_| super::corrupt("kind", &kind))?;
        counts.insert(kind, u32::try_from(n).unwrap_or(u32::MAX));
    }
    Ok(counts)
}
