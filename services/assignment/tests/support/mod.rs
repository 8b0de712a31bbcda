//! Test harness: a real nats-server, assignment started in-process on port 0, a gRPC
//! client, a publisher that puts events on the bus exactly as the outbox relay does
//! (an `Envelope` with `Nats-Msg-Id` = event id), and an observer of what assignment
//! publishes.

#![allow(dead_code)] // each test binary uses a different part of the harness

use std::time::Duration;

use anyhow::Context as _;
use async_nats::jetstream::{self, consumer::pull};
use futures::StreamExt as _;
use prost::Message as _;
use shangji_assignment::{AssignmentConfig, SPEC};
use shangji_contracts::assignment::assignment_service_client::AssignmentServiceClient;
use shangji_contracts::events::{Domain, Envelope, Event, lead};
use shangji_platform::RunningService;
use shangji_testkit::{NatsServer, events};
use tonic::transport::Channel;

pub const WAIT: Duration = Duration::from_secs(15);
pub const POLL: Duration = Duration::from_millis(25);

pub struct Harness {
    pub client: AssignmentServiceClient<Channel>,
    pub jetstream: jetstream::Context,
    observed: pull::Stream,
    service: RunningService,
    // Dropped after the service stopped: PostgreSQL, the data dir, then nats-server.
    _postgres: Option<shangji_testkit::Postgres>,
    _data: tempfile::TempDir,
    _nats: NatsServer,
}

impl Harness {
    pub async fn start() -> anyhow::Result<Harness> {
        Harness::start_with_clock(shangji_assignment::Clock::system()).await
    }

    /// Starts assignment on `clock` (a manual one lets a test make days pass).
    pub async fn start_with_clock(clock: shangji_assignment::Clock) -> anyhow::Result<Harness> {
        Harness::start_on(clock, false).await
    }

    /// Starts assignment on PostgreSQL (a fresh database on a PostgreSQL started for the
    /// test); None when there is no PostgreSQL here and not in CI (where it must run).
    pub async fn start_on_postgres() -> anyhow::Result<Option<Harness>> {
        if !shangji_testkit::postgres_available() && std::env::var_os("CI").is_none() {
            eprintln!("skipping: no PostgreSQL here; CI always runs this");
            return Ok(None);
        }
        Ok(Some(
            Harness::start_on(shangji_assignment::Clock::system(), true).await?,
        ))
    }

    async fn start_on(clock: shangji_assignment::Clock, postgres: bool) -> anyhow::Result<Harness> {
        let nats = NatsServer::start().await?;
        let data = tempfile::tempdir()?;
        let mut settings = SPEC.default_settings();
        settings.listen_addr = "127.0.0.1:0".parse()?;
        settings.metrics_addr = None;
        settings.data_dir = data.path().to_path_buf();
        settings.nats_url = nats.url();
        let postgres = match postgres {
            true => {
                let server = shangji_testkit::Postgres::start().await?;
                settings.database_url = Some(server.create_database("shangji_assignment").await?);
                Some(server)
            }
            false => None,
        };
        let config = AssignmentConfig {
            // Tests move the clock and then wait for the timer: keep its pace quick.
            recycle_tick_ms: 50,
            ..AssignmentConfig::default()
        };
        let service = shangji_assignment::start_with_clock(settings, config, clock).await?;
        let client = AssignmentServiceClient::connect(service.endpoint()).await?;
        let jetstream = jetstream::new(async_nats::connect(nats.url()).await?);
        // The service created the streams on start; watch what it publishes.
        let observer = jetstream
            .get_stream(Domain::Lead.stream_name())
            .await?
            .create_consumer(pull::Config {
                filter_subjects: vec![lead::LeadAssigned::subject(), lead::LeadPooled::subject()],
                ack_policy: jetstream::consumer::AckPolicy::None,
                ..Default::default()
            })
            .await?;
        let observed = observer.messages().await?;
        Ok(Harness {
            client,
            jetstream,
            observed,
            service,
            _postgres: postgres,
            _data: data,
            _nats: nats,
        })
    }

    /// Publishes `event` for `tenant` like another service's outbox relay would, and
    /// returns the envelope (to redeliver it later).
    pub async fn publish<E: Event>(
        &self,
        tenant: &str,
        correlation_id: &str,
        event: &E,
    ) -> anyhow::Result<Envelope> {
        let envelope = events::envelope(tenant, correlation_id, "test", event);
        self.publish_envelope(&E::subject(), &envelope, &envelope.event_id)
            .await?;
        Ok(envelope)
    }

    /// Publishes an envelope with the given `Nats-Msg-Id` (a new one gets past
    /// JetStream's de-duplication, as a re-publish after a crash could).
    pub async fn publish_envelope(
        &self,
        subject: &str,
        envelope: &Envelope,
        msg_id: &str,
    ) -> anyhow::Result<()> {
        events::publish_envelope(&self.jetstream, subject, envelope, msg_id).await?;
        Ok(())
    }

    /// A fresh observer of what assignment publishes on `domain` under `subjects`.
    pub async fn watch(
        &self,
        domain: Domain,
        subjects: Vec<String>,
    ) -> anyhow::Result<pull::Stream> {
        let consumer = self
            .jetstream
            .get_stream(domain.stream_name())
            .await?
            .create_consumer(pull::Config {
                filter_subjects: subjects,
                ack_policy: jetstream::consumer::AckPolicy::None,
                ..Default::default()
            })
            .await?;
        Ok(consumer.messages().await?)
    }

    /// The next event assignment published (`lead.assigned` or `lead.pooled`).
    pub async fn next_event(&mut self) -> anyhow::Result<Envelope> {
        let message = tokio::time::timeout(WAIT, self.observed.next())
            .await
            .context("no event from assignment in time")?
            .context("observer stream ended")?
            .map_err(|e| anyhow::anyhow!("observer: {e}"))?;
        Ok(Envelope::decode(message.payload.as_ref())?)
    }

    pub async fn next_assigned(&mut self) -> anyhow::Result<(Envelope, lead::LeadAssigned)> {
        let envelope = self.next_event().await?;
        anyhow::ensure!(
            envelope.event_type == lead::LeadAssigned::TYPE,
            "expected lead.assigned, got {envelope:?}"
        );
        let assigned = lead::LeadAssigned::decode(envelope.payload.as_slice())?;
        Ok((envelope, assigned))
    }

    /// Waits until assignment acknowledged everything on `domain`'s stream, then checks
    /// each of the `published` messages was delivered exactly once: none failed and was
    /// retried (a retry would also have been acked only after its redeliveries).
    pub async fn assert_each_handled_once(
        &self,
        domain: Domain,
        published: u64,
    ) -> anyhow::Result<()> {
        let stream = self.jetstream.get_stream(domain.stream_name()).await?;
        let info = shangji_testkit::poll_until("assignment to ack everything", WAIT, POLL, || {
            let stream = stream.clone();
            async move {
                let info = stream
                    .consumer_info("assignment")
                    .await
                    .map_err(|e| e.to_string())?;
                if info.num_pending == 0 && info.num_ack_pending == 0 {
                    Ok(info)
                } else {
                    Err(format!(
                        "{} pending, {} unacknowledged",
                        info.num_pending, info.num_ack_pending
                    ))
                }
            }
        })
        .await?;
        anyhow::ensure!(
            info.delivered.consumer_sequence == published && info.num_redelivered == 0,
            "expected {published} deliveries and no redelivery, got {} deliveries, {} redelivered",
            info.delivered.consumer_sequence,
            info.num_redelivered
        );
        Ok(())
    }

    pub async fn stop(self) -> anyhow::Result<()> {
        // Close our connection first so the server's graceful shutdown need not wait on it.
        drop(self.client);
        self.service.stop().await
    }
}

/// The next message of a watched stream, decoded as `E`.
pub async fn next_of<E: Event>(stream: &mut pull::Stream) -> anyhow::Result<E> {
    let message = tokio::time::timeout(WAIT, stream.next())
        .await
        .context("no event in time")?
        .context("stream ended")?
        .map_err(|e| anyhow::anyhow!("watch: {e}"))?;
    let envelope = Envelope::decode(message.payload.as_ref())?;
    anyhow::ensure!(
        envelope.event_type == E::TYPE,
        "expected {}, got {}",
        E::TYPE,
        envelope.event_type
    );
    Ok(E::decode(envelope.payload.as_slice())?)
}

/// A request carrying the tenant in metadata, as every caller must.
pub fn request<T>(tenant: &str, message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    // Test tenants are plain ASCII, always valid metadata.
    request
        .metadata_mut()
        .insert("x-tenant-id", tenant.parse().expect("ascii tenant"));
    request
}
