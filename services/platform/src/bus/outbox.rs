//! The transactional outbox and the relay that drains it into JetStream.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Context as _;
use async_nats::jetstream;
use prost::Message as _;
use shangji_contracts::events::{Envelope, Event};
use shangji_contracts::time::{from_millis, now_millis};
use tokio_util::sync::CancellationToken;

use crate::bus::EventContext;
use crate::db::{Backend, Db, OutboxRow, Params, Tx};
use crate::telemetry;

/// Rows published per round; a full round is followed by another at once.
const RELAY_BATCH: i64 = 512;
/// How often the backlog gauge is recounted (a COUNT(*), so not every round).
const BACKLOG_REFRESH: Duration = Duration::from_secs(10);

/// Writes `event` into the outbox within `tx` (the row is written when `tx` commits, in
/// one statement with the transaction's other events); it is published after the commit.
/// Returns the new event id.
pub async fn enqueue<E: Event>(
    tx: &mut Tx,
    ctx: &EventContext,
    event: &E,
) -> Result<String, sqlx::Error> {
    let event_id = crate::ids::new_event_id();
    let now = now_millis();
    let envelope = Envelope {
        event_id: event_id.clone(),
        event_type: E::TYPE.to_owned(),
        tenant_id: ctx.tenant_id.clone(),
        user_id: ctx.user_id.clone(),
        occurred_at: Some(from_millis(now)),
        causation_id: ctx.causation_id.clone(),
        correlation_id: ctx.correlation_id.clone(),
        producer: tx.service().to_owned(),
        payload: event.encode_to_vec(),
    };
    // The trace context of the work that caused the event, so the consumer's span
    // joins the same trace even though the relay publishes later.
    let headers = serde_json::to_string(&telemetry::current_trace_headers())
        .unwrap_or_else(|_| "{}".to_owned());
    tx.push_outbox_row(OutboxRow {
        event_id: event_id.clone(),
        subject: E::subject(),
        envelope: envelope.encode_to_vec(),
        headers,
        created_at: now,
    });
    Ok(event_id)
}

/// Publishes outbox rows until `shutdown`; wakes when a transaction that enqueued
/// events commits, and polls every `poll` in case another process wrote them.
pub async fn run_relay(
    db: Db,
    jetstream: jetstream::Context,
    poll: Duration,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let signal = db.outbox_signal();
    let mut failures = 0u32;
    let mut backlog_refreshed = tokio::time::Instant::now() - BACKLOG_REFRESH;
    loop {
        if backlog_refreshed.elapsed() >= BACKLOG_REFRESH {
            backlog_refreshed = tokio::time::Instant::now();
            match backlog(&db).await {
                Ok(rows) => metrics::gauge!("shangji_outbox_backlog").set(rows as f64),
                Err(err) => tracing::debug!(error = %err, "cannot count the outbox backlog"),
            }
        }
        match publish_pending(&db, &jetstream).await {
            Ok(n) => {
                failures = 0;
                if n as i64 == RELAY_BATCH {
                    continue;
                }
            }
            Err(err) => {
                failures = failures.saturating_add(1);
                tracing::warn!(
                    error = format!("{err:#}"),
                    failures,
                    "outbox relay round failed; retrying"
                );
                let backoff = Duration::from_millis(100u64 << failures.min(6));
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = shutdown.cancelled() => return Ok(()),
                }
                continue;
            }
        }
        tokio::select! {
            _ = signal.notified() => {}
            _ = tokio::time::sleep(poll) => {}
            _ = shutdown.cancelled() => {
                // One last round so a clean stop leaves nothing behind.
                if let Err(err) = publish_pending(&db, &jetstream).await {
                    tracing::warn!(error = format!("{err:#}"), "final outbox round failed; rows stay for the next start");
                }
                return Ok(());
            }
        }
    }
}

/// Publishes one round of outbox rows; returns how many were published.
pub async fn publish_pending(db: &Db, jetstream: &jetstream::Context) -> anyhow::Result<usize> {
    match db.backend() {
        // Replicas sharing a PostgreSQL database each take different rows.
        Backend::Postgres => {
            let mut tx = db.begin().await?;
            let rows = fetch_rows(&mut tx, " FOR UPDATE SKIP LOCKED").await?;
            let published = publish_rows(jetstream, &rows).await?;
            delete_rows(&mut tx, &published).await?;
            tx.commit().await?;
            Ok(published.len())
        }
        // One process owns a SQLite file; read, publish, then delete.
        Backend::Sqlite => {
            let rows = {
                let mut conn = db.reader().acquire().await?;
                fetch_rows(&mut conn, "").await?
            };
            if rows.is_empty() {
                return Ok(0);
            }
            let published = publish_rows(jetstream, &rows).await?;
            // Each DELETE commits by itself: a row left behind by a crash between two
            // is published again, and JetStream drops the duplicate event id.
            let mut conn = db.writer().acquire().await?;
            delete_rows(&mut conn, &published).await?;
            Ok(published.len())
        }
    }
}

struct PendingRow {
    seq: i64,
    event_id: String,
    subject: String,
    envelope: Vec<u8>,
    headers: String,
}

async fn fetch_rows(
    conn: &mut sqlx::AnyConnection,
    lock: &str,
) -> Result<Vec<PendingRow>, sqlx::Error> {
    let sql = format!(
        "SELECT seq, event_id, subject, envelope, headers FROM outbox ORDER BY seq LIMIT $1{lock}"
    );
    let rows: Vec<(i64, String, String, Vec<u8>, String)> =
        sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(RELAY_BATCH)
            .fetch_all(conn)
            .await?;
    Ok(rows
        .into_iter()
        .map(|(seq, event_id, subject, envelope, headers)| PendingRow {
            seq,
            event_id,
            subject,
            envelope,
            headers,
        })
        .collect())
}

/// Publishes all rows concurrently and waits for every ack; returns the seqs acked.
/// Rows whose publish failed stay in the outbox for the next round.
async fn publish_rows(
    jetstream: &jetstream::Context,
    rows: &[PendingRow],
) -> anyhow::Result<Vec<i64>> {
    let mut pending = Vec::with_capacity(rows.len());
    for row in rows {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Nats-Msg-Id", row.event_id.as_str());
        let trace: BTreeMap<String, String> =
            serde_json::from_str(&row.headers).unwrap_or_default();
        for (k, v) in &trace {
            headers.insert(k.as_str(), v.as_str());
        }
        let ack = jetstream
            .publish_with_headers(row.subject.clone(), headers, row.envelope.clone().into())
            .await
            .with_context(|| format!("publishing event {} to {}", row.event_id, row.subject))?;
        pending.push((row.seq, ack));
    }
    let mut acked = Vec::with_capacity(pending.len());
    let mut first_error = None;
    for (seq, ack) in pending {
        match ack.await {
            Ok(_) => acked.push(seq),
            Err(err) => {
                first_error.get_or_insert(err);
            }
        }
    }
    metrics::counter!("shangji_events_published_total").increment(acked.len() as u64);
    if acked.is_empty()
        && let Some(err) = first_error
    {
        return Err(anyhow::Error::new(err).context("no outbox event was acknowledged"));
    }
    Ok(acked)
}

async fn delete_rows(conn: &mut sqlx::AnyConnection, seqs: &[i64]) -> Result<(), sqlx::Error> {
    for chunk in seqs.chunks(256) {
        let placeholders = Params::new(conn).list(chunk.len());
        let sql = format!("DELETE FROM outbox WHERE seq IN ({placeholders})");
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for seq in chunk {
            query = query.bind(*seq);
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Events written but not yet published (for the backlog gauge and tests).
pub async fn backlog(db: &Db) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM outbox")
        .fetch_one(db.reader())
        .await
}
