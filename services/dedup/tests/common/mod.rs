//! Test helpers: start dedup in-process, publish events exactly as the outbox relay
//! does, watch what dedup publishes, and call it over gRPC with a tenant.

// Each test binary uses its own part of these helpers.
#![allow(dead_code)]

pub mod store;

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use async_nats::jetstream;
use futures::StreamExt as _;
use prost::Message as _;
use shangji_contracts::common::Lead;
use shangji_contracts::dedup::dedup_service_client::DedupServiceClient;
use shangji_contracts::events::lead::{LeadQualified, LeadReceived};
use shangji_contracts::events::{Envelope, Event};
use shangji_contracts::time::{from_millis, now_millis};
use shangji_platform::{RunningService, Settings};
use tonic::transport::Channel;

pub const TENANT: &str = "acme";

/// Settings for one in-process dedup: gRPC on a free port, no metrics listener.
pub fn settings(nats_url: &str, data_dir: &Path, database_url: Option<String>) -> Settings {
    let mut settings = shangji_dedup::SPEC.default_settings();
    settings.listen_addr = SocketAddr::from(([127, 0, 0, 1], 0));
    settings.metrics_addr = None;
    settings.data_dir = data_dir.to_path_buf();
    settings.nats_url = nats_url.to_owned();
    settings.database_url = database_url;
    settings.bus.outbox_poll_ms = 50;
    settings
}

pub async fn start(settings: Settings) -> RunningService {
    shangji_dedup::start(settings, shangji_dedup::DedupConfig::default())
        .await
        .expect("dedup starts")
}

pub fn lead(name: &str, phone: &str, email: &str) -> Lead {
    Lead {
        contact_name: name.into(),
        phone: phone.into(),
        email: email.into(),
        ..Lead::default()
    }
}

pub fn received(lead_id: &str, lead: Lead) -> LeadReceived {
    LeadReceived {
        lead_id: lead_id.into(),
        lead: Some(lead),
        channel: "grpc".into(),
        received_at: Some(from_millis(now_millis())),
    }
}

/// Publishes `event` as intake's outbox relay would: in an [`Envelope`] on the event's
/// subject, with `msg_id` as `Nats-Msg-Id` (and as the envelope's event id). Returns the
/// stream sequence JetStream gave it.
pub async fn publish<E: Event>(
    js: &jetstream::Context,
    tenant: &str,
    correlation_id: &str,
    event: &E,
    msg_id: &str,
) -> u64 {
    let mut envelope = shangji_testkit::events::envelope(tenant, correlation_id, "intake", event);
    envelope.event_id = msg_id.to_owned();
    envelope.user_id = "wang".to_owned();
    shangji_testkit::events::publish::<E>(js, &envelope)
        .await
        .expect("publish acknowledged")
}

/// A plain NATS subscription to lead.qualified (JetStream publishes reach core subscribers).
pub struct QualifiedFeed {
    subscriber: async_nats::Subscriber,
}

impl QualifiedFeed {
    pub async fn subscribe(client: &async_nats::Client) -> QualifiedFeed {
        let subscriber = client
            .subscribe(LeadQualified::subject())
            .await
            .expect("subscribe");
        // Make sure the server has the interest before anything is published.
        client.flush().await.expect("flush");
        QualifiedFeed { subscriber }
    }

    /// The next lead.qualified, or a panic after `timeout`.
    pub async fn next(&mut self, timeout: Duration) -> (Envelope, LeadQualified) {
        let message = tokio::time::timeout(timeout, self.subscriber.next())
            .await
            .expect("a lead.qualified event in time")
            .expect("subscription open");
        let envelope = Envelope::decode(message.payload.as_ref()).expect("an envelope");
        assert_eq!(envelope.event_type, LeadQualified::TYPE);
        let qualified =
            LeadQualified::decode(envelope.payload.as_slice()).expect("a LeadQualified");
        (envelope, qualified)
    }
}

pub async fn client(service: &RunningService) -> DedupServiceClient<Channel> {
    DedupServiceClient::connect(service.endpoint())
        .await
        .expect("connects")
}

/// A request carrying the tenant in its metadata.
pub fn as_tenant<T>(tenant: &str, message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request
        .metadata_mut()
        .insert("x-tenant-id", tenant.parse().expect("ascii tenant"));
    request
}
