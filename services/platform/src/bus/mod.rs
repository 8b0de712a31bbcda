//! NATS JetStream, effectively once.
//!
//! - Publishing: [`outbox::enqueue`] writes the event into the service's `outbox`
//!   table inside the caller's transaction; [`outbox::run_relay`] publishes it with
//!   the event id as `Nats-Msg-Id` (JetStream drops a re-publish) and deletes the row
//!   once acknowledged. A crash anywhere re-publishes; nothing is lost.
//! - Consuming: [`consumer::run_consumer`] pulls batches from a durable consumer,
//!   records each event id in the `inbox` in the same transaction as the handler's
//!   effects and acks after commit, so a redelivery is a no-op. A message that keeps
//!   failing goes to `shangji.deadletter.v1.<consumer>` with the error.

mod batch;
pub mod consumer;
mod context;
pub mod outbox;
mod supervise;

use std::time::Duration;

use anyhow::Context as _;
use async_nats::jetstream::{self, stream};
use shangji_contracts::events::{self, Domain};

pub use batch::BatchHandler;
pub use consumer::{ConsumerSpec, Handler, HandlerError, run_consumer};
pub use context::{EventContext, IncomingEvent};
pub use outbox::enqueue;
pub use supervise::supervise_consumer;

use crate::config::Settings;

/// A connection to NATS and its JetStream context.
#[derive(Clone, Debug)]
pub struct Bus {
    pub client: async_nats::Client,
    pub jetstream: jetstream::Context,
}

impl Bus {
    pub async fn connect(settings: &Settings) -> anyhow::Result<Bus> {
        let client = async_nats::ConnectOptions::new()
            .name(format!("shangji-{}", settings.service))
            .retry_on_initial_connect()
            .event_callback(|event| async move {
                // Disconnects and slow-consumer drops must never be silent.
                match event {
                    async_nats::Event::Connected => tracing::info!("nats connected"),
                    other => tracing::warn!(event = %other, "nats connection event"),
                }
            })
            .connect(&settings.nats_url)
            .await
            .with_context(|| format!("connecting to NATS at {}", settings.nats_url))?;
        let jetstream = jetstream::new(client.clone());
        Ok(Bus { client, jetstream })
    }

    /// Creates the domain streams and the dead-letter stream when they do not exist.
    /// Every service calls this; the first one creates, the others find them.
    pub async fn ensure_streams(&self, settings: &Settings) -> anyhow::Result<()> {
        let duplicate_window = Duration::from_secs(settings.bus.duplicate_window_secs);
        for domain in Domain::ALL {
            self.ensure_stream(stream::Config {
                name: domain.stream_name(),
                subjects: vec![domain.stream_subjects()],
                storage: stream::StorageType::File,
                num_replicas: settings.bus.stream_replicas,
                duplicate_window,
                ..Default::default()
            })
            .await?;
        }
        self.ensure_stream(stream::Config {
            name: events::DEAD_LETTER_STREAM.to_owned(),
            subjects: vec![events::dead_letter_subjects()],
            storage: stream::StorageType::File,
            num_replicas: settings.bus.stream_replicas,
            duplicate_window,
            ..Default::default()
        })
        .await
    }

    async fn ensure_stream(&self, config: stream::Config) -> anyhow::Result<()> {
        let name = config.name.clone();
        self.jetstream
            .get_or_create_stream(config)
            .await
            .with_context(|| format!("creating JetStream stream {name}"))?;
        Ok(())
    }
}
