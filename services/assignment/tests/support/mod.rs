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
    // Dropped after the service stopped: the data dir, then nats-server.
    _data: tempfile::TempDir,
    _nats: NatsServer,
}

impl Harness {
    pub async fn start() -> anyhow::Result<Harness> {
        let nats = NatsServer::start().await?;
        let data = tempfile::tempdir()?;
        let mut settings = SPEC.default_settings();
        settings.listen_addr = "127.0.0.1:0".parse()?;
        settings.metrics_addr = None;
        settings.data_dir = data.path().to_path_buf();
        settings.nats_url = nats.url();
        let service = shangji_assignment::start(settings, AssignmentConfig::default()).await?;
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

/// A request carrying the tenant in metadata, as every caller must.
pub fn request<T>(tenant: &str, message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    // Test tenants are plain ASCII, always valid metadata.
    request
        .metadata_mut()
        .insert("x-tenant-id", tenant.parse().expect("ascii tenant"));
    request
}
