//! The `webhooks` and `deliveries` tables.

use shangji_platform::ids::new_id;
use shangji_platform::{Db, Tx};

use crate::domain::{Notice, WebhookFormat, render};

/// A stored webhook.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookRow {
    pub tenant_id: String,
    pub webhook_id: String,
    pub url: String,
    pub format: WebhookFormat,
    pub secret: String,
    pub enabled: bool,
    pub version: u32,
    pub updated_at: i64,
}

#[derive(sqlx::FromRow)]
struct RawWebhook {
    tenant_id: String,
    webhook_id: String,
    url: String,
    format: String,
    secret: String,
    enabled: i64,
    version: i64,
    updated_at: i64,
}

impl TryFrom<RawWebhook> for WebhookRow {
    type Error = sqlx::Error;

    fn try_from(r: RawWebhook) -> Result<Self, Self::Error> {
        Ok(WebhookRow {
            format: WebhookFormat::parse(&r.format).ok_or_else(|| {
                sqlx::Error::Decode(format!("unknown webhook format `{}`", r.format).into())
            })?,
            version: u32::try_from(r.version)
                .map_err(|_| sqlx::Error::Decode("webhook version out of range".into()))?,
            tenant_id: r.tenant_id,
            webhook_id: r.webhook_id,
            url: r.url,
            secret: r.secret,
            enabled: r.enabled != 0,
            updated_at: r.updated_at,
        })
    }
}

const WEBHOOK_COLUMNS: &str =
    "tenant_id, webhook_id, url, format, secret, enabled, version, updated_at";

/// A webhook to store: a new one when `webhook_id` is None.
#[derive(Clone, Debug)]
pub struct WebhookChange<'a> {
    pub webhook_id: Option<&'a str>,
    pub url: &'a str,
    pub format: WebhookFormat,
    /// None keeps the stored secret.
    pub secret: Option<&'a str>,
    pub enabled: bool,
}

/// Stores the webhook; None when `webhook_id` names no webhook of the tenant.
pub async fn upsert(
    tx: &mut Tx,
    tenant_id: &str,
    change: &WebhookChange<'_>,
    now: i64,
) -> Result<Option<WebhookRow>, sqlx::Error> {
    let webhook_id = match change.webhook_id {
        Some(id) => {
            let changed = sqlx::query(
                "UPDATE webhooks SET url = $3, format = $4,
                        secret = CASE WHEN $5 IS NULL THEN secret ELSE $5 END,
                        enabled = $6, version = version + 1, updated_at = $7
                 WHERE tenant_id = $1 AND webhook_id = $2",
            )
            .bind(tenant_id)
            .bind(id)
            .bind(change.url)
            .bind(change.format.as_str())
            .bind(change.secret)
            .bind(i64::from(change.enabled))
            .bind(now)
            .execute(&mut **tx)
            .await?
            .rows_affected();
            if changed == 0 {
                return Ok(None);
            }
            id.to_owned()
        }
        None => {
            let id = new_id("whk");
            sqlx::query(
                "INSERT INTO webhooks (tenant_id, webhook_id, url, format, secret, enabled, version,
                                       updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, 1, $7)",
            )
            .bind(tenant_id)
            .bind(&id)
            .bind(change.url)
            .bind(change.format.as_str())
            .bind(change.secret.unwrap_or(""))
            .bind(i64::from(change.enabled))
            .bind(now)
            .execute(&mut **tx)
            .await?;
            id
        }
    };
    let sql =
        format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE tenant_id = $1 AND webhook_id = $2");
    let raw: RawWebhook = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(tenant_id)
        .bind(&webhook_id)
        .fetch_one(&mut **tx)
        .await?;
    WebhookRow::try_from(raw).map(Some)
}

/// Writes one pending delivery of `notice` per enabled webhook of its tenant, in the
/// transaction that fires the reminder: the report and the firing commit together.
pub async fn enqueue_deliveries(
    tx: &mut Tx,
    notice: &Notice,
    now: i64,
) -> Result<usize, sqlx::Error> {
    let hooks: Vec<(String, String)> = sqlx::query_as(
        "SELECT webhook_id, format FROM webhooks WHERE tenant_id = $1 AND enabled = 1",
    )
    .bind(&notice.tenant_id)
    .fetch_all(&mut **tx)
    .await?;
    for (webhook_id, format) in &hooks {
        let Some(format) = WebhookFormat::parse(format) else {
            continue;
        };
        sqlx::query(
            "INSERT INTO deliveries (delivery_id, tenant_id, webhook_id, event_type, reminder_id,
                                     opportunity_id, body, state, attempts, next_attempt_at,
                                     last_status, last_error, created_at, delivered_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', 0, $8, 0, '', $8, NULL)",
        )
        .bind(new_id("dlv"))
        .bind(&notice.tenant_id)
        .bind(webhook_id)
        .bind(&notice.event_type)
        .bind(&notice.reminder_id)
        .bind(&notice.opportunity_id)
        .bind(render(format, notice))
        .bind(now)
        .execute(&mut **tx)
        .await?;
    }
    Ok(hooks.len())
}

/// A delivery the sender claimed: where to send what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClaimedDelivery {
    pub delivery_id: String,
    pub tenant_id: String,
    pub webhook_id: String,
    pub url: String,
    pub format: WebhookFormat,
    pub secret: String,
    pub body: String,
    /// Including the one about to be made.
    pub attempts: u32,
}

#[derive(sqlx::FromRow)]
struct DueRow {
    delivery_id: String,
    tenant_id: String,
    webhook_id: String,
    body: String,
    attempts: i64,
    next_attempt_at: i64,
    url: String,
    format: String,
    secret: String,
}

/// Claims up to `limit` pending deliveries due by `now`, each for `lease_ms`: the claim
/// moves its next attempt out by the lease and counts the attempt, guarded on the row as
/// read, so two senders never claim the same delivery and one that dies mid-attempt
/// leaves it to be retried when the lease runs out.
pub async fn claim_due(
    db: &Db,
    now: i64,
    lease_ms: i64,
    limit: u32,
) -> Result<Vec<ClaimedDelivery>, sqlx::Error> {
    let due: Vec<DueRow> = sqlx::query_as(
        "SELECT d.delivery_id, d.tenant_id, d.webhook_id, d.body, d.attempts, d.next_attempt_at,
                w.url, w.format, w.secret
         FROM deliveries d JOIN webhooks w
              ON w.tenant_id = d.tenant_id AND w.webhook_id = d.webhook_id
         WHERE d.state = 'pending' AND d.next_attempt_at <= $1
         ORDER BY d.next_attempt_at LIMIT $2",
    )
    .bind(now)
    .bind(i64::from(limit))
    .fetch_all(db.reader())
    .await?;
    let mut claimed = Vec::with_capacity(due.len());
    for row in due {
        let mut tx = db.begin().await?;
        let won = sqlx::query(
            "UPDATE deliveries SET next_attempt_at = $2, attempts = attempts + 1
             WHERE delivery_id = $1 AND state = 'pending' AND next_attempt_at = $3
               AND attempts = $4",
        )
        .bind(&row.delivery_id)
        .bind(now.saturating_add(lease_ms))
        .bind(row.next_attempt_at)
        .bind(row.attempts)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        tx.commit().await?;
        let Some(format) = WebhookFormat::parse(&row.format) else {
            continue;
        };
        if won {
            claimed.push(ClaimedDelivery {
                delivery_id: row.delivery_id,
                tenant_id: row.tenant_id,
                webhook_id: row.webhook_id,
                url: row.url,
                format,
                secret: row.secret,
                body: row.body,
                attempts: u32::try_from(row.attempts + 1).unwrap_or(u32::MAX),
            });
        }
    }
    Ok(claimed)
}

/// How an attempt ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Delivered {
        status: u16,
    },
    /// Try again at `retry_at`, or give up when None.
    Failed {
        status: u16,
        error: String,
        retry_at: Option<i64>,
    },
}

/// Records an attempt's outcome.
pub async fn record_attempt(
    db: &Db,
    delivery_id: &str,
    outcome: &Outcome,
    now: i64,
) -> Result<(), sqlx::Error> {
    let mut tx = db.begin().await?;
    match outcome {
        Outcome::Delivered { status } => {
            sqlx::query(
                "UPDATE deliveries SET state = 'delivered', last_status = $2, last_error = '',
                                       delivered_at = $3
                 WHERE delivery_id = $1 AND state = 'pending'",
            )
            .bind(delivery_id)
            .bind(i64::from(*status))
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        Outcome::Failed {
            status,
            error,
            retry_at,
        } => {
            let state = if retry_at.is_some() {
                "pending"
            } else {
                "failed"
            };
            sqlx::query(
                "UPDATE deliveries SET state = $2, last_status = $3, last_error = $4,
                                       next_attempt_at = $5
                 WHERE delivery_id = $1 AND state = 'pending'",
            )
            .bind(delivery_id)
            .bind(state)
            .bind(i64::from(*status))
            .bind(error)
            .bind(retry_at.unwrap_or(now))
            .execute(&mut *tx)
            .await?;
        }
    }
    tx.commit().await
}

/// A row of the delivery log.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct DeliveryRow {
    pub delivery_id: String,
    pub webhook_id: String,
    pub event_type: String,
    pub reminder_id: String,
    pub opportunity_id: String,
    pub state: String,
    pub attempts: i64,
    pub last_status: i64,
    pub last_error: String,
    pub created_at: i64,
    pub next_attempt_at: i64,
    pub delivered_at: Option<i64>,
}

/// The tenant's delivery log, newest first, optionally of one webhook.
pub async fn list_deliveries(
    db: &Db,
    tenant_id: &str,
    webhook_id: Option<&str>,
    limit: u32,
) -> Result<Vec<DeliveryRow>, sqlx::Error> {
    const COLUMNS: &str = "delivery_id, webhook_id, event_type, reminder_id, opportunity_id, \
                           state, attempts, last_status, last_error, created_at, \
                           next_attempt_at, delivered_at";
    match webhook_id {
        Some(webhook_id) => {
            let sql = format!(
                "SELECT {COLUMNS} FROM deliveries WHERE tenant_id = $1 AND webhook_id = $2
                 ORDER BY created_at DESC, delivery_id DESC LIMIT $3"
            );
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(tenant_id)
                .bind(webhook_id)
                .bind(i64::from(limit))
                .fetch_all(db.reader())
                .await
        }
        None => {
            let sql = format!(
                "SELECT {COLUMNS} FROM deliveries WHERE tenant_id = $1
                 ORDER BY created_at DESC, delivery_id DESC LIMIT $2"
            );
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(tenant_id)
                .bind(i64::from(limit))
                .fetch_all(db.reader())
                .await
        }
    }
}
