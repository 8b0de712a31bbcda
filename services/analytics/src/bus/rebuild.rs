//! Rebuilding a tenant's read models from the streams: a fresh generation is opened
//! (live events start going into it too), ephemeral ordered consumers replay each
//! stream from sequence 1 up to where it stood when the rebuild began, applying the
//! tenant's events with the same code as the live consumers, and the finished
//! generation is swapped in. Every application is recorded per generation, so an event
//! both replayed and delivered live counts once.

use anyhow::Context as _;
use async_nats::jetstream::{self, consumer::DeliverPolicy, consumer::pull};
use futures::StreamExt as _;
use prost::Message as _;
use shangji_contracts::events::{Domain, Envelope};
use shangji_contracts::time::now_millis;
use shangji_platform::bus::{HandlerError, IncomingEvent};
use shangji_platform::{Db, Tx};

use super::gather::Gathered;
use super::{Change, apply, change_of};
use crate::store::catalog::Learned;
use crate::store::generations;

/// Streams whose events feed the rebuilt read models (the org replica is not
/// generational: it is kept by version and survives rebuilds).
const REPLAYED: [Domain; 3] = [Domain::Lead, Domain::Opportunity, Domain::Reminder];
/// Events applied per transaction during the replay.
const BATCH: usize = 500;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RebuildOutcome {
    pub generation: i64,
    /// Events of the tenant the replay applied (not counting those already applied live).
    pub events_applied: u64,
    /// Messages read from the streams, every tenant's.
    pub messages_read: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum RebuildError {
    #[error("a rebuild of this tenant's read models is already under way")]
    AlreadyRunning,
    #[error(transparent)]
    Failed(#[from] anyhow::Error),
}

/// Opens a fresh generation for the tenant in the caller's transaction; from its commit
/// on, live events go into it too. Then [`run`] fills it and swaps it in.
pub async fn open(tx: &mut Tx, tenant: &str) -> Result<i64, RebuildError> {
    generations::begin_rebuild(tx, tenant, now_millis())
        .await
        .context("opening a rebuild")?
        .ok_or(RebuildError::AlreadyRunning)
}

/// Replays the streams into the opened generation and swaps it in; on failure the
/// generation is dropped and the live one stays.
pub async fn run(
    db: &Db,
    js: &jetstream::Context,
    tenant: &str,
    generation: i64,
) -> anyhow::Result<RebuildOutcome> {
    tracing::info!(tenant, generation, "read model rebuild started");
    match replay(db, js, tenant, generation).await {
        Ok(outcome) => Ok(outcome),
        Err(err) => {
            tracing::warn!(tenant, generation, error = %format!("{err:#}"), "rebuild failed; abandoned");
            if let Ok(mut tx) = db.begin().await
                && generations::abandon(&mut tx, tenant, generation)
                    .await
                    .is_ok()
            {
                let _ = tx.commit().await;
            }
            Err(err)
        }
    }
}

/// Opens and runs a rebuild; returns when the new generation is live.
pub async fn rebuild_tenant(
    db: &Db,
    js: &jetstream::Context,
    tenant: &str,
) -> Result<RebuildOutcome, RebuildError> {
    let mut tx = db.begin().await.context("opening a rebuild")?;
    let generation = open(&mut tx, tenant).await?;
    tx.commit().await.context("opening a rebuild")?;
    Ok(run(db, js, tenant, generation).await?)
}

async fn replay(
    db: &Db,
    js: &jetstream::Context,
    tenant: &str,
    generation: i64,
) -> anyhow::Result<RebuildOutcome> {
    // Where each stream stands now. Taken after the generation opened: any event
    // beyond these is (or will be) applied to the new generation by the live consumer.
    let mut targets = Vec::new();
    for domain in REPLAYED {
        let mut stream = js
            .get_stream(domain.stream_name())
            .await
            .with_context(|| format!("stream {}", domain.stream_name()))?;
        let last = stream.info().await?.state.last_sequence;
        targets.push((domain, stream, last));
    }
    let mut outcome = RebuildOutcome {
        generation,
        events_applied: 0,
        messages_read: 0,
    };
    for (domain, stream, last) in targets {
        if last == 0 {
            continue;
        }
        let consumer = stream
            .create_consumer(pull::OrderedConfig {
                deliver_policy: DeliverPolicy::All,
                ..Default::default()
            })
            .await
            .with_context(|| format!("replaying {}", domain.stream_name()))?;
        let mut messages = consumer.messages().await?;
        let mut batch: Vec<IncomingEvent> = Vec::with_capacity(BATCH);
        loop {
            let message = messages
                .next()
                .await
                .with_context(|| format!("{} ended before {last}", domain.stream_name()))??;
            let seq = message
                .info()
                .map_err(|e| anyhow::anyhow!("{e}"))?
                .stream_sequence;
            outcome.messages_read += 1;
            if let Ok(envelope) = Envelope::decode(message.payload.as_ref())
                && envelope.tenant_id == tenant
            {
                batch.push(IncomingEvent {
                    envelope,
                    subject: message.subject.to_string(),
                    delivered: 1,
                    stream_sequence: seq,
                    // Replays are traced as the rebuild, not per event.
                    span: tracing::Span::none(),
                });
            }
            let done = seq >= last;
            if batch.len() >= BATCH || (done && !batch.is_empty()) {
                outcome.events_applied += apply_batch(db, tenant, generation, &batch).await?;
                batch.clear();
            }
            if done {
                break;
            }
        }
    }
    let mut tx = db.begin().await?;
    let swapped = generations::swap_in(&mut tx, tenant, generation, now_millis()).await?;
    anyhow::ensure!(
        swapped,
        "generation {generation} was abandoned while it was rebuilt"
    );
    tx.commit().await?;
    tracing::info!(
        tenant,
        generation,
        events = outcome.events_applied,
        "read model rebuild swapped in"
    );
    Ok(outcome)
}

/// Applies a batch of replayed events in one transaction. Opportunity and lead facts
/// are merged per id and written once per batch (merging is commutative, so gathering
/// them changes no figure); a transfer, which looks the customer's open opportunities
/// up, first writes what was gathered before it.
async fn apply_batch(
    db: &Db,
    tenant: &str,
    generation: i64,
    batch: &[IncomingEvent],
) -> anyhow::Result<u64> {
    let mut tx = db.begin().await?;
    let mut applied = 0;
    let mut gathered = Gathered::default();
    let mut learned = Learned::default();
    for event in batch {
        if !generations::first_application(&mut tx, tenant, generation, event.event_id()).await? {
            continue;
        }
        let change = match change_of(&mut tx, &mut learned, event).await {
            Ok(change) => change,
            // The live consumer dead-lettered it too: it never counted.
            Err(HandlerError::Reject(err)) => {
                tracing::debug!(error = %format!("{err:#}"), "rebuild skips an unusable event");
                continue;
            }
            Err(HandlerError::Retry(err)) => return Err(err),
        };
        match change {
            Change::Team(_) | Change::Rep(_) | Change::Nothing => continue,
            Change::Opportunity(..) | Change::Lead(..) => gathered.push(tenant, generation, change),
            Change::Transfer { .. } => {
                gathered.flush(&mut tx).await?;
                apply(&mut tx, tenant, generation, &change).await?;
            }
        }
        applied += 1;
    }
    gathered.flush(&mut tx).await?;
    learned.write(&mut tx).await?;
    tx.commit().await?;
    Ok(applied)
}
