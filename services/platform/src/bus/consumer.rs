//! Idempotent, batched consumption from a durable pull consumer.
//!
//! A batch of ready messages is handled in one database transaction: for each, the
//! event id goes into the `inbox` (a duplicate is skipped) and the handler applies its
//! effects (and may enqueue follow-on events). After commit every message is acked.
//! If anything in the batch fails, the batch is rolled back and each message is
//! handled alone, so one bad message cannot hold up the others. A failing message is
//! nak'ed with backoff; after `max_deliver` attempts (or at once, if the handler says
//! it can never succeed) it is published to the dead-letter subject with the error and
//! terminated. Nothing is acked before its effects are committed.

use std::collections::HashSet;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use async_nats::jetstream::{self, AckKind, consumer::pull};
use futures::{FutureExt as _, StreamExt as _};
use prost::Message as _;
use shangji_contracts::events::{self, Domain, Envelope};
use shangji_contracts::time::now_millis;
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

use crate::bus::IncomingEvent;
use crate::config::BusSettings;
use crate::db::{Db, Params, Tx};
use crate::telemetry::{NatsHeaderExtractor, set_remote_parent};

/// Which events a service consumes from one domain stream.
#[derive(Clone, Debug)]
pub struct ConsumerSpec {
    /// Durable consumer name; also the inbox key. Usually the service name.
    pub durable: String,
    pub domain: Domain,
    /// Event names (`received`, `qualified`, ...); empty means every event of the domain.
    pub events: Vec<&'static str>,
}

impl ConsumerSpec {
    pub fn new(durable: &str, domain: Domain, events: &[&'static str]) -> ConsumerSpec {
        ConsumerSpec {
            durable: durable.to_owned(),
            domain,
            events: events.to_vec(),
        }
    }

    fn filter_subjects(&self) -> Vec<String> {
        if self.events.is_empty() {
            vec![self.domain.stream_subjects()]
        } else {
            self.events
                .iter()
                .map(|name| events::subject(self.domain, name))
                .collect()
        }
    }
}

/// Why a handler could not apply an event.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// May succeed later (database busy, a concurrent insert won): redeliver.
    #[error("{0:#}")]
    Retry(anyhow::Error),
    /// Can never succeed (malformed payload, impossible state): dead-letter at once.
    #[error("{0:#}")]
    Reject(anyhow::Error),
}

impl From<sqlx::Error> for HandlerError {
    fn from(err: sqlx::Error) -> Self {
        HandlerError::Retry(anyhow::Error::new(err).context("database error"))
    }
}

/// Applies events inside the consumer's transaction.
pub trait Handler: Send + Sync + 'static {
    fn handle<'a>(
        &'a self,
        tx: &'a mut Tx,
        event: &'a IncomingEvent,
    ) -> impl Future<Output = Result<(), HandlerError>> + Send + 'a;

    /// Applies a batch of events, none seen before, in delivery order and in one
    /// transaction; any error fails the whole batch (the consumer then retries each
    /// event alone). The default hands them to [`Handler::handle`] one by one; a
    /// handler that can merge work across events (analytics writes each state and
    /// rollup row once per batch) does it here.
    fn handle_batch<'a>(
        &'a self,
        tx: &'a mut Tx,
        events: &'a [&'a IncomingEvent],
    ) -> impl Future<Output = Result<(), HandlerError>> + Send + 'a {
        async move {
            for event in events {
                self.handle(tx, event)
                    .instrument(event.span.clone())
                    .await?;
            }
            Ok(())
        }
    }
}

/// A message pulled from JetStream, decoded as far as we could.
struct Delivery {
    message: jetstream::Message,
    event: Result<IncomingEvent, String>,
    span: tracing::Span,
}

/// Consumes until `shutdown`, finishing the batch in hand.
pub async fn run_consumer<H: Handler>(
    db: Db,
    jetstream: jetstream::Context,
    spec: ConsumerSpec,
    handler: Arc<H>,
    settings: BusSettings,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let stream_name = spec.domain.stream_name();
    let stream = jetstream
        .get_stream(&stream_name)
        .await
        .with_context(|| format!("opening stream {stream_name}"))?;
    let config = pull::Config {
        durable_name: Some(spec.durable.clone()),
        filter_subjects: spec.filter_subjects(),
        ack_policy: jetstream::consumer::AckPolicy::Explicit,
        ack_wait: Duration::from_secs(settings.ack_wait_secs),
        // We dead-letter at max_deliver ourselves; the server's limit is a backstop.
        max_deliver: i64::from(settings.max_deliver) + 2,
        max_ack_pending: 20_000,
        ..Default::default()
    };
    let mut consumer: jetstream::consumer::Consumer<pull::Config> = stream
        .get_or_create_consumer(&spec.durable, config.clone())
        .await
        .with_context(|| format!("creating consumer {} on {stream_name}", spec.durable))?;
    // A new release may consume more (or fewer) events than the one that created the
    // durable consumer: bring its filter up to date instead of silently keeping the old one.
    let mut wanted = config.filter_subjects.clone();
    wanted.sort();
    let mut current = consumer.cached_info().config.filter_subjects.clone();
    if !consumer.cached_info().config.filter_subject.is_empty() {
        current.push(consumer.cached_info().config.filter_subject.clone());
    }
    current.sort();
    if current != wanted {
        tracing::info!(consumer = %spec.durable, from = ?current, to = ?wanted, "updating the consumer's filter");
        consumer = stream
            .update_consumer(config)
            .await
            .with_context(|| format!("updating consumer {} on {stream_name}", spec.durable))?;
    }
    let mut messages = consumer
        .stream()
        .max_messages_per_batch(settings.batch_size)
        .heartbeat(Duration::from_secs(5))
        .expires(Duration::from_secs(30))
        .messages()
        .await
        .with_context(|| format!("pulling from consumer {}", spec.durable))?
        .ready_chunks(settings.batch_size);
    tracing::info!(consumer = %spec.durable, stream = %stream_name, "consuming");
    let linger_for = Duration::from_millis(settings.batch_linger_ms);
    // Consumer lag for the dashboards, refreshed from the server on a timer so it is
    // current when the consumer is idle or stuck too.
    let mut lag_refresh = tokio::time::interval(LAG_REFRESH);
    lag_refresh.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Messages a linger pulled past a full batch: the next batch starts with them.
    let mut held_over = Vec::new();
    let mut pull_errors = 0;
    loop {
        let batch = if !held_over.is_empty() {
            std::mem::take(&mut held_over)
        } else {
            tokio::select! {
                _ = shutdown.cancelled() => return Ok(()),
                _ = lag_refresh.tick() => {
                    record_lag(&mut consumer, &spec, &stream_name).await;
                    continue;
                }
                next = messages.next() => match next {
                    Some(batch) => batch,
                    None => anyhow::bail!("message stream of consumer {} ended", spec.durable),
                },
            }
        };
        let batch = linger(
            &mut messages,
            batch,
            &mut held_over,
            linger_for,
            settings.batch_size,
        )
        .await;
        let mut deliveries = Vec::with_capacity(batch.len());
        for item in batch {
            match item {
                Ok(message) => {
                    pull_errors = 0;
                    deliveries.push(parse(message, &spec));
                }
                Err(err) => {
                    tracing::warn!(consumer = %spec.durable, error = %err, "pull error");
                    pull_errors += 1;
                    // The client keeps trying on its own; when it does not get anywhere
                    // (the durable consumer was deleted, heartbeats keep missing), end
                    // this run and let the supervisor start over from the top.
                    if pull_errors >= MAX_PULL_ERRORS {
                        anyhow::bail!(
                            "{MAX_PULL_ERRORS} pull errors in a row on consumer {}; last: {err}",
                            spec.durable
                        );
                    }
                }
            }
        }
        if !deliveries.is_empty() {
            let started = Instant::now();
            handle_batch(
                &db,
                &jetstream,
                &spec,
                handler.as_ref(),
                &settings,
                deliveries,
            )
            .await;
            metrics::histogram!("shangji_consume_batch_seconds", "consumer" => spec.durable.clone())
                .record(started.elapsed().as_secs_f64());
        }
    }
}

/// Adds to `batch` what arrives within `wait` of its first message, up to `max`
/// messages (what arrives past that goes to `held_over`, for the next batch); returns at
/// once when `wait` is zero or the batch is full.
async fn linger<S, T>(
    messages: &mut S,
    mut batch: Vec<T>,
    held_over: &mut Vec<T>,
    wait: Duration,
    max: usize,
) -> Vec<T>
where
    S: futures::Stream<Item = Vec<T>> + Unpin,
{
    if wait.is_zero() {
        return batch;
    }
    let deadline = tokio::time::Instant::now() + wait;
    while batch.len() < max {
        match tokio::time::timeout_at(deadline, messages.next()).await {
            Ok(Some(mut more)) => {
                let room = max - batch.len();
                if more.len() > room {
                    held_over.extend(more.drain(room..));
                }
                batch.extend(more);
            }
            // The stream ended (the next read reports it) or the wait is over.
            Ok(None) | Err(_) => break,
        }
    }
    batch
}

/// Pull errors in a row (no message between them) after which a run gives up.
const MAX_PULL_ERRORS: u32 = 5;

/// How often the consumer's lag is read from the server.
const LAG_REFRESH: Duration = Duration::from_secs(5);

/// Sets `shangji_consumer_pending` (not yet delivered) and `shangji_consumer_ack_pending`
/// (delivered, not yet acknowledged) from the server's view of the durable consumer.
async fn record_lag(
    consumer: &mut jetstream::consumer::Consumer<pull::Config>,
    spec: &ConsumerSpec,
    stream_name: &str,
) {
    match consumer.info().await {
        Ok(info) => {
            let labels = [
                ("consumer", spec.durable.clone()),
                ("stream", stream_name.to_owned()),
            ];
            metrics::gauge!("shangji_consumer_pending", &labels).set(info.num_pending as f64);
            metrics::gauge!("shangji_consumer_ack_pending", &labels)
                .set(info.num_ack_pending as f64);
        }
        Err(err) => {
            tracing::debug!(consumer = %spec.durable, error = %err, "cannot read consumer info")
        }
    }
}

fn parse(message: jetstream::Message, spec: &ConsumerSpec) -> Delivery {
    let (delivered, stream_sequence) = message
        .info()
        .map(|i| (i.delivered, i.stream_sequence))
        .unwrap_or((1, 0));
    if delivered > 1 {
        metrics::counter!("shangji_events_redelivered_total", "consumer" => spec.durable.clone())
            .increment(1);
    }
    let subject = message.subject.to_string();
    let envelope = Envelope::decode(message.payload.as_ref())
        .map_err(|e| format!("undecodable envelope on {subject}: {e}"));
    let (event_type, event_id, tenant) = match &envelope {
        Ok(e) => (
            e.event_type.clone(),
            e.event_id.clone(),
            e.tenant_id.clone(),
        ),
        Err(_) => (String::new(), String::new(), String::new()),
    };
    let span = tracing::info_span!(
        "bus.consume",
        otel.name = %format!("{} process", event_type),
        otel.kind = "consumer",
        messaging.system = "nats",
        messaging.destination.name = %subject,
        messaging.consumer.group.name = %spec.durable,
        event.id = %event_id,
        tenant.id = %tenant,
        delivered,
    );
    if let Some(headers) = message.headers.as_ref() {
        set_remote_parent(&span, &NatsHeaderExtractor(headers));
    }
    let event = envelope.map(|envelope| IncomingEvent {
        envelope,
        subject,
        delivered,
        stream_sequence,
        span: span.clone(),
    });
    Delivery {
        message,
        event,
        span,
    }
}

/// What became of one delivery.
enum Outcome {
    Applied,
    Duplicate,
    Failed(HandlerError),
}

async fn handle_batch<H: Handler>(
    db: &Db,
    jetstream: &jetstream::Context,
    spec: &ConsumerSpec,
    handler: &H,
    settings: &BusSettings,
    deliveries: Vec<Delivery>,
) {
    // Optimistic path: the whole batch in one transaction.
    if deliveries.len() > 1 {
        match apply_all(db, spec, handler, &deliveries).await {
            Ok(outcomes) => {
                for (delivery, outcome) in deliveries.iter().zip(outcomes) {
                    settle(jetstream, spec, settings, delivery, outcome).await;
                }
                return;
            }
            Err(err) => {
                tracing::debug!(consumer = %spec.durable, error = %err, "batch failed; handling one by one");
            }
        }
    }
    for delivery in &deliveries {
        let outcome = match apply_all(db, spec, handler, std::slice::from_ref(delivery)).await {
            Ok(mut outcomes) => outcomes.pop().unwrap_or(Outcome::Applied),
            Err(err) => Outcome::Failed(err),
        };
        settle(jetstream, spec, settings, delivery, outcome).await;
    }
}

/// Applies every delivery in one transaction; any failure fails them all.
async fn apply_all<H: Handler>(
    db: &Db,
    spec: &ConsumerSpec,
    handler: &H,
    deliveries: &[Delivery],
) -> Result<Vec<Outcome>, HandlerError> {
    let mut events = Vec::with_capacity(deliveries.len());
    for delivery in deliveries {
        match &delivery.event {
            Ok(event) => events.push(event),
            Err(reason) => return Err(HandlerError::Reject(anyhow::anyhow!("{reason}"))),
        }
    }
    let mut tx = db.begin().await?;
    // The events this consumer has not handled before; the rest are redeliveries.
    let mut first_seen = record_in_inbox(&mut tx, &spec.durable, &events).await?;
    let mut outcomes = Vec::with_capacity(deliveries.len());
    let mut fresh = Vec::with_capacity(events.len());
    for event in events {
        // `remove`: a message delivered twice within one batch is applied once.
        if first_seen.remove(event.event_id()) {
            fresh.push(event);
            outcomes.push(Outcome::Applied);
        } else {
            outcomes.push(Outcome::Duplicate);
        }
    }
    if !fresh.is_empty() {
        // A handler that panics on an event must not take the consumer down with it
        // (every replica would die on the same message in turn): the panic fails the
        // batch, the events are then tried one by one, and the one that panics is
        // dead-lettered like any event that can never be applied. The transaction is
        // dropped, so rolled back.
        match AssertUnwindSafe(handler.handle_batch(&mut tx, &fresh))
            .catch_unwind()
            .await
        {
            Ok(handled) => handled?,
            Err(panic) => {
                return Err(HandlerError::Reject(anyhow::anyhow!(
                    "the handler panicked: {}",
                    panic_message(panic.as_ref())
                )));
            }
        }
    }
    tx.commit().await?;
    Ok(outcomes)
}

/// `value` made safe for a NATS header: control characters (line breaks above all)
/// become spaces.
fn header_value(value: &str) -> String {
    value
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)")
}

/// Inserts the event ids of a batch into the inbox in one statement and returns those
/// that were not there yet.
async fn record_in_inbox(
    tx: &mut Tx,
    consumer: &str,
    events: &[&IncomingEvent],
) -> Result<HashSet<String>, sqlx::Error> {
    let now = now_millis();
    let mut inserted = HashSet::with_capacity(events.len());
    // Three parameters a row keeps every statement far below the bind limits.
    for chunk in events.chunks(500) {
        let mut params = Params::new(tx);
        let values = params.rows(chunk.len(), 3);
        let sql = format!(
            "INSERT INTO inbox (consumer, event_id, handled_at) VALUES {values}
             ON CONFLICT DO NOTHING RETURNING event_id"
        );
        let mut query = sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql));
        for event in chunk {
            query = query.bind(consumer).bind(event.event_id()).bind(now);
        }
        inserted.extend(query.fetch_all(&mut **tx).await?);
    }
    Ok(inserted)
}

/// Acks, naks or dead-letters one delivery after its transaction ended.
async fn settle(
    jetstream: &jetstream::Context,
    spec: &ConsumerSpec,
    settings: &BusSettings,
    delivery: &Delivery,
    outcome: Outcome,
) {
    let _enter = delivery.span.enter();
    let consumer = spec.durable.clone();
    let (label, ack) = match outcome {
        Outcome::Applied => ("applied", AckKind::Ack),
        Outcome::Duplicate => ("duplicate", AckKind::Ack),
        Outcome::Failed(err) => {
            let delivered = delivery.event.as_ref().map(|e| e.delivered).unwrap_or(1);
            let give_up = matches!(err, HandlerError::Reject(_))
                || delivered >= i64::from(settings.max_deliver);
            if give_up {
                match dead_letter(jetstream, spec, delivery, &err, delivered).await {
                    Ok(()) => {
                        tracing::error!(consumer = %consumer, error = %err, delivered, "gave up on message; sent to dead letters");
                        metrics::counter!("shangji_dead_letters_total", "consumer" => consumer.clone()).increment(1);
                        ("dead_lettered", AckKind::Term)
                    }
                    Err(dl_err) => {
                        // Never drop it: leave it for redelivery.
                        tracing::error!(consumer = %consumer, error = %err, dead_letter_error = %dl_err, "cannot dead-letter; will retry");
                        ("failed", AckKind::Nak(Some(Duration::from_secs(5))))
                    }
                }
            } else {
                let backoff = Duration::from_millis(250u64 << delivered.clamp(0, 8));
                tracing::warn!(consumer = %consumer, error = %err, delivered, backoff_ms = backoff.as_millis() as u64, "event failed; will be redelivered");
                ("failed", AckKind::Nak(Some(backoff)))
            }
        }
    };
    metrics::counter!("shangji_events_consumed_total", "consumer" => consumer.clone(), "outcome" => label)
        .increment(1);
    if let Err(err) = delivery.message.ack_with(ack).await {
        // The message will be redelivered; the inbox makes that harmless.
        tracing::warn!(consumer = %consumer, error = %err, "ack failed");
    }
}

async fn dead_letter(
    jetstream: &jetstream::Context,
    spec: &ConsumerSpec,
    delivery: &Delivery,
    err: &HandlerError,
    delivered: i64,
) -> anyhow::Result<()> {
    let mut headers = async_nats::HeaderMap::new();
    let error = header_value(&format!("{err}"));
    headers.insert("Shangji-Error", error.as_str());
    headers.insert(
        "Shangji-Original-Subject",
        delivery.message.subject.as_str(),
    );
    headers.insert("Shangji-Deliveries", delivered.to_string().as_str());
    headers.insert("Shangji-Consumer", spec.durable.as_str());
    if let Ok(event) = &delivery.event {
        // The id comes from whoever published the message: a line break in it would
        // make the client refuse (panic on) the header.
        let event_id = header_value(event.event_id());
        headers.insert("Shangji-Event-Id", event_id.as_str());
        // One dead letter per consumer and event, even if we die before the term ack.
        headers.insert(
            "Nats-Msg-Id",
            format!("{}:{event_id}", spec.durable).as_str(),
        );
    }
    jetstream
        .publish_with_headers(
            events::dead_letter_subject(&spec.durable),
            headers,
            delivery.message.payload.clone(),
        )
        .await?
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_linger_fills_the_batch_and_holds_over_the_rest() {
        let mut chunks = futures::stream::iter(vec![vec![1, 2], vec![3, 4, 5], vec![6]]);
        let mut held_over = Vec::new();
        let wait = Duration::from_secs(5);
        let batch = linger(&mut chunks, vec![0], &mut held_over, wait, 4).await;
        assert_eq!(batch, [0, 1, 2, 3]);
        assert_eq!(
            held_over,
            [4, 5],
            "what did not fit waits for the next batch"
        );
        // Not lingering takes only what it was given.
        let batch = linger(&mut chunks, vec![7], &mut held_over, Duration::ZERO, 4).await;
        assert_eq!(batch, [7]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_linger_ends_when_its_wait_is_over() {
        let mut chunks = futures::stream::iter(vec![vec![1]]).chain(futures::stream::pending());
        let mut held_over = Vec::new();
        let started = tokio::time::Instant::now();
        let wait = Duration::from_millis(5);
        let batch = linger(&mut chunks, vec![0], &mut held_over, wait, 256).await;
        assert_eq!(batch, [0, 1]);
        assert!(held_over.is_empty());
        assert_eq!(started.elapsed(), wait);
    }
}
