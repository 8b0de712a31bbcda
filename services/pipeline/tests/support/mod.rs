//! Test harness: a real nats-server, the pipeline in-process on 127.0.0.1:0 with SQLite
//! in a temp dir, a gRPC client, and events published exactly as the outbox relay
//! publishes them (an Envelope on the event's subject, the event id as Nats-Msg-Id).

#![allow(dead_code)] // each test binary uses a different part of the harness

use std::time::Duration;

use async_nats::jetstream;
use shangji_contracts::common::Lead;
use shangji_contracts::events::lead::LeadAssigned;
use shangji_contracts::events::{Domain, Envelope, Event};
use shangji_contracts::pipeline::pipeline_service_client::PipelineServiceClient;
use shangji_pipeline::{PipelineConfig, SPEC};
use shangji_platform::RunningService;
use shangji_testkit::{NatsServer, events, poll_until};
use tonic::transport::Channel;

pub const WAIT: Duration = Duration::from_secs(20);
pub const POLL: Duration = Duration::from_millis(50);

pub struct Harness {
    // Declared first so the service stops while NATS is still up.
    service: Option<RunningService>,
    pub jetstream: jetstream::Context,
    pub nats: NatsServer,
    _data: tempfile::TempDir,
}

impl Harness {
    pub async fn start() -> Harness {
        let nats = NatsServer::start().await.expect("nats-server");
        let data = tempfile::tempdir().expect("data dir");
        let mut settings = SPEC.default_settings();
        settings.listen_addr = "127.0.0.1:0".parse().expect("address");
        settings.metrics_addr = None;
        settings.data_dir = data.path().to_path_buf();
        settings.nats_url = nats.url();
        settings.shutdown_grace_secs = 5;
        let service = shangji_pipeline::start(settings, PipelineConfig::default())
            .await
            .expect("pipeline starts");
        let client = async_nats::connect(nats.url()).await.expect("nats client");
        Harness {
            service: Some(service),
            jetstream: jetstream::new(client),
            nats,
            _data: data,
        }
    }

    pub async fn client(&self) -> PipelineServiceClient<Channel> {
        let endpoint = self.service.as_ref().expect("running").endpoint();
        PipelineServiceClient::connect(endpoint)
            .await
            .expect("grpc connect")
    }

    /// Publishes `event` for `tenant` as the assignment service's relay would; returns
    /// the envelope so a test can publish it again.
    pub async fn publish<E: Event>(
        &self,
        tenant: &str,
        correlation_id: &str,
        event: &E,
    ) -> Envelope {
        let envelope = events::envelope(tenant, correlation_id, "assignment", event);
        self.publish_envelope(&E::subject(), &envelope, &envelope.event_id)
            .await;
        envelope
    }

    /// Publishes `envelope` with the given Nats-Msg-Id (a new one bypasses JetStream's
    /// de-duplication, as a re-publish after its window would).
    pub async fn publish_envelope(&self, subject: &str, envelope: &Envelope, msg_id: &str) {
        events::publish_envelope(&self.jetstream, subject, envelope, msg_id)
            .await
            .expect("publish");
    }

    pub async fn publish_lead(&self, tenant: &str, event: &LeadAssigned) -> Envelope {
        self.publish(tenant, &event.lead_id, event).await
    }

    /// Every event the pipeline has published so far, in order.
    pub async fn opportunity_events(&self) -> Vec<Envelope> {
        events::stream_envelopes(&self.jetstream, &Domain::Opportunity.stream_name())
            .await
            .expect("opportunity stream")
    }

    /// The errors of the messages the pipeline's consumer gave up on (dead letters).
    pub async fn dead_letter_errors(&self) -> Vec<String> {
        let mut stream = self
            .jetstream
            .get_stream(shangji_contracts::events::DEAD_LETTER_STREAM)
            .await
            .expect("dead-letter stream");
        let state = stream.info().await.expect("stream info").state.clone();
        let mut errors = Vec::new();
        if state.messages == 0 {
            return errors;
        }
        for seq in state.first_sequence..=state.last_sequence {
            let message = stream.get_raw_message(seq).await.expect("dead letter");
            if message.subject.as_str()
                == shangji_contracts::events::dead_letter_subject("pipeline")
            {
                let error = message
                    .headers
                    .get("Shangji-Error")
                    .map(|v| v.as_str().to_owned());
                errors.push(error.unwrap_or_default());
            }
        }
        errors
    }

    /// Published events of type `E` that satisfy `wanted`.
    pub async fn events_of<E: Event>(&self, wanted: impl Fn(&E) -> bool) -> Vec<(Envelope, E)> {
        self.opportunity_events()
            .await
            .into_iter()
            .filter(|envelope| envelope.event_type == E::TYPE)
            .map(|envelope| {
                let event = E::decode(envelope.payload.as_slice()).expect("payload");
                (envelope, event)
            })
            .filter(|(_, event)| wanted(event))
            .collect()
    }

    /// Waits until an event of type `E` satisfying `wanted` is published.
    pub async fn wait_for<E: Event>(
        &self,
        what: &str,
        wanted: impl Fn(&E) -> bool,
    ) -> (Envelope, E) {
        let wanted = &wanted;
        poll_until(what, WAIT, POLL, || async move {
            self.events_of::<E>(wanted)
                .await
                .into_iter()
                .next()
                .ok_or("not published yet")
        })
        .await
        .expect("event published")
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        if let Some(service) = self.service.take() {
            service.shutdown();
        }
    }
}

/// A request with the caller's tenant (and user) in metadata.
pub fn request<T>(tenant: &str, message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request
        .metadata_mut()
        .insert("x-tenant-id", tenant.parse().expect("ascii tenant"));
    request
        .metadata_mut()
        .insert("x-user-id", "wang".parse().expect("ascii user"));
    request
}

/// An assignment of a lead (with the lead as captured) to `rep`.
pub fn lead_assigned(lead_id: &str, customer_id: &str, rep_id: &str, lead: Lead) -> LeadAssigned {
    LeadAssigned {
        lead_id: lead_id.to_owned(),
        customer_id: customer_id.to_owned(),
        rep_id: rep_id.to_owned(),
        team: "east".to_owned(),
        rule: "round-robin:east".to_owned(),
        reason: "next in the east team rotation".to_owned(),
        lead: Some(lead),
        grade: "A".to_owned(),
        score: 82.0,
    }
}

pub fn captured_lead(company: &str, need: &str, budget: &str, source: &str) -> Lead {
    Lead {
        contact_name: "王先生".to_owned(),
        phone: "13800138000".to_owned(),
        company: company.to_owned(),
        region: "华东".to_owned(),
        industry: "制造".to_owned(),
        source: source.to_owned(),
        need: need.to_owned(),
        budget: budget.to_owned(),
        ..Lead::default()
    }
}

/// The fields an INVALID_ARGUMENT status names in its BadRequest details.
pub fn bad_fields(status: &tonic::Status) -> Vec<String> {
    use tonic_types::StatusExt as _;
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    status
        .get_error_details()
        .bad_request()
        .map(|bad| {
            bad.field_violations
                .iter()
                .map(|v| v.field.clone())
                .collect()
        })
        .unwrap_or_default()
}
