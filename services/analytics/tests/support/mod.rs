//! Test helpers: the service in-process on real NATS, events published exactly the way
//! the outbox relay publishes them, and a gRPC client that names its tenant.

#![allow(dead_code)] // each test file uses its own subset

use std::time::Duration;

use async_nats::jetstream;
use shangji_analytics::{AnalyticsConfig, SPEC};
use shangji_contracts::analytics::analytics_service_client::AnalyticsServiceClient;
use shangji_contracts::events::{Domain, Envelope, Event};
use shangji_platform::{RunningService, Settings};
use shangji_testkit::{NatsServer, events};
use tonic::transport::Channel;

pub const WAIT: Duration = Duration::from_secs(20);
pub const POLL: Duration = Duration::from_millis(25);

/// A running analytics service with its own NATS and data folder.
pub struct Harness {
    pub service: Option<RunningService>,
    pub nats: NatsServer,
    pub js: jetstream::Context,
    pub client: async_nats::Client,
    pub grpc: AnalyticsServiceClient<Channel>,
    pub data: tempfile::TempDir,
}

impl Harness {
    pub async fn start(config: AnalyticsConfig) -> Harness {
        Harness::start_on(config, None).await
    }

    /// With `database_url` (PostgreSQL) instead of SQLite in the data folder.
    pub async fn start_on(config: AnalyticsConfig, database_url: Option<String>) -> Harness {
        let nats = NatsServer::start().await.expect("nats-server starts");
        let data = tempfile::tempdir().expect("temp dir");
        let mut settings: Settings = SPEC.default_settings();
        settings.database_url = database_url;
        settings.listen_addr = "127.0.0.1:0".parse().expect("address");
        settings.metrics_addr = None;
        settings.data_dir = data.path().to_path_buf();
        settings.nats_url = nats.url();
        settings.bus.outbox_poll_ms = 20;
        let service = shangji_analytics::start(settings, config)
            .await
            .expect("service starts");
        let grpc = AnalyticsServiceClient::connect(service.endpoint())
            .await
            .expect("grpc connects");
        let client = async_nats::connect(nats.url())
            .await
            .expect("nats connects");
        let js = jetstream::new(client.clone());
        Harness {
            service: Some(service),
            nats,
            js,
            client,
            grpc,
            data,
        }
    }

    /// Publishes `event` for `tenant` as the producing service's relay would; returns the
    /// envelope (to publish again) and the stream sequence.
    pub async fn publish<E: Event>(&self, tenant: &str, event: &E) -> (Envelope, u64) {
        let envelope = envelope(tenant, event);
        let seq = self
            .publish_envelope::<E>(&envelope, &envelope.event_id)
            .await;
        (envelope, seq)
    }

    /// Publishes an envelope with the given `Nats-Msg-Id`. Re-publishing an envelope under a
    /// new message id gets it past JetStream's de-duplication, as a redelivery would.
    pub async fn publish_envelope<E: Event>(&self, envelope: &Envelope, msg_id: &str) -> u64 {
        self.publish_to(E::subject(), envelope, msg_id).await
    }

    /// Publishes an envelope on `subject` with the given `Nats-Msg-Id`.
    pub async fn publish_to(&self, subject: String, envelope: &Envelope, msg_id: &str) -> u64 {
        events::publish_envelope(&self.js, &subject, envelope, msg_id)
            .await
            .expect("publish")
    }

    /// Waits until the service's consumer on `domain` has acked everything up to `seq`.
    pub async fn consumed(&self, domain: Domain, seq: u64) {
        events::wait_until_acked(&self.js, domain, SPEC.name, seq, WAIT)
            .await
            .expect("event consumed");
    }

    pub async fn stop(mut self) {
        if let Some(service) = self.service.take() {
            service.stop().await.expect("service stops cleanly");
        }
    }
}

pub fn envelope<E: Event>(tenant: &str, event: &E) -> Envelope {
    let producer = match E::DOMAIN {
        Domain::Lead => "intake",
        Domain::Org => "assignment",
        Domain::Reminder => "reminders",
        _ => "pipeline",
    };
    events::envelope(tenant, "lead_test", producer, event)
}

/// `message` with `x-tenant-id: tenant`.
pub fn request<T>(tenant: &str, message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request
        .metadata_mut()
        .insert("x-tenant-id", tenant.parse().expect("ascii tenant"));
    request
}

/// `message` with `x-tenant-id: tenant` and `x-user-id: user`.
pub fn as_user<T>(tenant: &str, user: &str, message: T) -> tonic::Request<T> {
    let mut request = request(tenant, message);
    request
        .metadata_mut()
        .insert("x-user-id", user.parse().expect("ascii user"));
    request
}
