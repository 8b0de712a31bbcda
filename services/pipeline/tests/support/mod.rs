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
use shangji_testkit::{NatsServer, Postgres, events, poll_until};
use tonic::transport::Channel;

pub const WAIT: Duration = Duration::from_secs(20);
pub const POLL: Duration = Duration::from_millis(50);

pub struct Harness {
    // Declared first so the service stops while NATS and PostgreSQL are still up.
    service: Option<RunningService>,
    pub jetstream: jetstream::Context,
    pub nats: NatsServer,
    _data: tempfile::TempDir,
    _postgres: Option<Postgres>,
}

/// Which database the service runs on.
#[derive(Clone, Copy, Debug)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Harness {
    /// The service on SQLite.
    pub async fn start() -> Harness {
        Harness::start_on(Backend::Sqlite).await
    }

    pub async fn start_on(backend: Backend) -> Harness {
        let postgres = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(Postgres::start().await.expect("PostgreSQL")),
        };
        let database_url = match &postgres {
            Some(pg) => Some(pg.create_database("pipeline").await.expect("database")),
            None => None,
        };
        let nats = NatsServer::start().await.expect("nats-server");
        let data = tempfile::tempdir().expect("data dir");
        let mut settings = SPEC.default_settings();
        settings.listen_addr = "127.0.0.1:0".parse().expect("address");
        settings.metrics_addr = None;
        settings.data_dir = data.path().to_path_buf();
        settings.nats_url = nats.url();
        settings.shutdown_grace_secs = 5;
        settings.database_url = database_url;
        let service = shangji_pipeline::start(settings, PipelineConfig::default())
            .await
            .expect("pipeline starts");
        let client = async_nats::connect(nats.url()).await.expect("nats client");
        Harness {
            service: Some(service),
            jetstream: jetstream::new(client),
            nats,
            _data: data,
            _postgres: postgres,
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
        self.dead_letter_errors_of("pipeline").await
    }

    /// The errors of the messages the durable consumer `consumer` gave up on.
    pub async fn dead_letter_errors_of(&self, consumer: &str) -> Vec<String> {
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
            if message.subject.as_str() == shangji_contracts::events::dead_letter_subject(consumer)
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
    request_as(tenant, "wang", message)
}

/// A request by `user` of `tenant`.
pub fn request_as<T>(tenant: &str, user: &str, message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request
        .metadata_mut()
        .insert("x-tenant-id", tenant.parse().expect("ascii tenant"));
    request
        .metadata_mut()
        .insert("x-user-id", user.parse().expect("ascii user"));
    request
}

/// Publishes an assignment of `lead_id` (customer, rep, team) and waits until it opened
/// an opportunity.
pub async fn open_opportunity(
    h: &Harness,
    tenant: &str,
    lead_id: &str,
    customer_id: &str,
    rep_id: &str,
    team: &str,
) -> shangji_contracts::events::opportunity::OpportunityCreated {
    use shangji_contracts::events::opportunity::OpportunityCreated;
    let lead = captured_lead("华信科技", "100台服务器", "", "web_form");
    let mut event = lead_assigned(lead_id, customer_id, rep_id, lead);
    event.team = team.to_owned();
    h.publish_lead(tenant, &event).await;
    let (_, created) = h
        .wait_for::<OpportunityCreated>(&format!("opportunity.created for {lead_id}"), |e| {
            e.lead_id == lead_id
        })
        .await;
    created
}

/// The PreconditionFailure violations (type, subject, description) of a status.
pub fn precondition_violations(status: &tonic::Status) -> Vec<(String, String, String)> {
    use tonic_types::StatusExt as _;
    assert_eq!(status.code(), tonic::Code::FailedPrecondition, "{status:?}");
    status
        .get_error_details()
        .precondition_failure()
        .map(|failure| {
            failure
                .violations
                .iter()
                .map(|v| (v.r#type.clone(), v.subject.clone(), v.description.clone()))
                .collect()
        })
        .unwrap_or_default()
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

/// Publishes the organisation as the assignment service would: teams (id, manager,
/// ancestors root first), then reps (id, team, role, status).
pub async fn publish_org(
    h: &Harness,
    tenant: &str,
    teams: &[(&str, &str, &[&str])],
    reps: &[(&str, &str, &str, &str)],
) {
    use shangji_contracts::events::org::{RepUpserted, TeamUpserted};
    for (team_id, manager, ancestors) in teams {
        let event = TeamUpserted {
            team_id: (*team_id).to_owned(),
            name: team_id.to_uppercase(),
            parent_team_id: ancestors
                .last()
                .map(|a| (*a).to_owned())
                .unwrap_or_default(),
            manager_rep_id: (*manager).to_owned(),
            ancestor_team_ids: ancestors.iter().map(|a| (*a).to_owned()).collect(),
            updated_at: None,
            version: 1,
        };
        h.publish(tenant, team_id, &event).await;
    }
    for (rep_id, team_id, role, status) in reps {
        let event = RepUpserted {
            rep_id: (*rep_id).to_owned(),
            name: rep_id.to_uppercase(),
            team_id: (*team_id).to_owned(),
            role: (*role).to_owned(),
            status: (*status).to_owned(),
            team_path: Vec::new(),
            updated_at: None,
            version: 1,
            email: String::new(),
        };
        h.publish(tenant, rep_id, &event).await;
    }
}

/// The ids `user` sees in ListOpportunities of `tenant`, sorted.
pub async fn visible_ids(h: &Harness, tenant: &str, user: &str) -> Vec<String> {
    use shangji_contracts::pipeline::ListOpportunitiesRequest;
    let mut client = h.client().await;
    let mut ids: Vec<String> = client
        .list_opportunities(request_as(
            tenant,
            user,
            ListOpportunitiesRequest::default(),
        ))
        .await
        .expect("list")
        .into_inner()
        .opportunities
        .into_iter()
        .map(|o| o.opportunity_id)
        .collect();
    ids.sort();
    ids
}

/// Waits until `user` sees exactly `expected` (sorted), e.g. once the org replica has
/// caught up with the events just published.
pub async fn wait_until_visible(h: &Harness, tenant: &str, user: &str, expected: &[String]) {
    let mut expected = expected.to_vec();
    expected.sort();
    let expected = &expected;
    poll_until(
        &format!("{user} sees {expected:?}"),
        WAIT,
        POLL,
        || async move {
            let seen = visible_ids(h, tenant, user).await;
            if &seen == expected {
                Ok(())
            } else {
                Err(format!("sees {seen:?}"))
            }
        },
    )
    .await
    .expect("visibility settles");
}

/// The org used by the permission and approval tests: sales > east > east_sh, and west.
pub const TEAMS: [(&str, &str, &[&str]); 4] = [
    ("sales", "boss", &[]),
    ("east", "zhou", &["sales"]),
    ("east_sh", "", &["sales", "east"]),
    ("west", "wu", &["sales"]),
];

/// `wu` comes last: once wu sees exactly the west team's opportunities, the whole
/// organisation has been replicated (one consumer applies the events in order).
pub const REPS: [(&str, &str, &str, &str); 8] = [
    ("wang", "east_sh", "rep", "active"),
    ("li", "east_sh", "rep", "active"),
    ("zhao", "west", "rep", "active"),
    ("zhou", "east", "manager", "active"),
    ("boss", "sales", "manager", "active"),
    ("gone", "east_sh", "rep", "departed"),
    ("root", "", "admin", "active"),
    ("wu", "west", "manager", "active"),
];
