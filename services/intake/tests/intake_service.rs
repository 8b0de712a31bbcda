//! Intake through its real gRPC API, with a real nats-server, on SQLite.

use std::time::Duration;

use futures::StreamExt as _;
use prost::Message as _;
use shangji_contracts::common::Lead;
use shangji_contracts::events::lead::{LeadAssigned, LeadQualified, LeadReceived};
use shangji_contracts::events::opportunity::OpportunityCreated;
use shangji_contracts::events::{Envelope, Event};
use shangji_contracts::intake::intake_service_client::IntakeServiceClient;
use shangji_contracts::intake::{GetLeadRequest, GetLeadResponse, LeadStatus, SubmitLeadRequest};
use shangji_platform::{RunningService, Settings};
use shangji_testkit::{NatsServer, events, poll_until};
use tonic::transport::Channel;
use tonic_types::StatusExt as _;

struct Harness {
    nats: NatsServer,
    _dir: tempfile::TempDir,
    service: RunningService,
    client: IntakeServiceClient<Channel>,
}

async fn harness() -> Harness {
    let nats = NatsServer::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut settings: Settings = shangji_intake::SPEC.default_settings();
    settings.listen_addr = "127.0.0.1:0".parse().unwrap();
    settings.metrics_addr = None;
    settings.data_dir = dir.path().to_owned();
    settings.nats_url = nats.url();
    // Tests run side by side: the HTTP channels take a free port, not 8051.
    let config = shangji_intake::IntakeConfig {
        http_addr: "127.0.0.1:0".into(),
        ..Default::default()
    };
    let service = shangji_intake::start(settings, config).await.unwrap();
    let client = IntakeServiceClient::connect(service.endpoint())
        .await
        .unwrap();
    Harness {
        nats,
        _dir: dir,
        service,
        client,
    }
}

fn with_tenant<T>(message: T, tenant: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request
        .metadata_mut()
        .insert("x-tenant-id", tenant.parse().unwrap());
    request
        .metadata_mut()
        .insert("x-user-id", "wang.li".parse().unwrap());
    request
}

fn lead() -> Lead {
    Lead {
        contact_name: "王伟".into(),
        phone: "+86 138-0013-8000".into(),
        company: "北京华为科技有限公司".into(),
        need: "需要一套 CRM".into(),
        budget: "50万".into(),
        ..Default::default()
    }
}

async fn get(
    client: &mut IntakeServiceClient<Channel>,
    tenant: &str,
    lead_id: &str,
) -> GetLeadResponse {
    client
        .get_lead(with_tenant(
            GetLeadRequest {
                lead_id: lead_id.into(),
            },
            tenant,
        ))
        .await
        .unwrap()
        .into_inner()
}

/// The lead of tenant acme as soon as `ready` holds for it (within 20 s).
async fn lead_when(
    h: &Harness,
    lead_id: &str,
    what: &str,
    ready: impl Fn(&GetLeadResponse) -> bool,
) -> GetLeadResponse {
    let ready = &ready;
    poll_until(
        what,
        Duration::from_secs(20),
        Duration::from_millis(50),
        || {
            let mut client = h.client.clone();
            async move {
                let got = get(&mut client, "acme", lead_id).await;
                if ready(&got) {
                    Ok(got)
                } else {
                    Err(format!("trail so far: {:?}", got.trail))
                }
            }
        },
    )
    .await
    .unwrap()
}

/// Publishes `event` as another service's outbox relay would.
async fn publish_as<E: Event>(nats: &NatsServer, tenant: &str, event_id: &str, event: &E) {
    let client = async_nats::connect(nats.url()).await.unwrap();
    let js = async_nats::jetstream::new(client);
    let mut envelope = events::envelope(tenant, "", "test", event);
    envelope.event_id = event_id.into();
    events::publish::<E>(&js, &envelope).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn submit_announces_the_lead_and_a_retry_creates_nothing_new() {
    let mut h = harness().await;
    let received = async_nats::connect(h.nats.url()).await.unwrap();
    let mut received = received.subscribe(LeadReceived::subject()).await.unwrap();

    let request = SubmitLeadRequest {
        idempotency_key: "crm-import-42".into(),
        lead: Some(lead()),
    };
    let first = h
        .client
        .submit_lead(with_tenant(request.clone(), "acme"))
        .await
        .unwrap()
        .into_inner();
    assert!(first.lead_id.starts_with("lead_"));
    assert!(!first.replayed);
    let again = h
        .client
        .submit_lead(with_tenant(request.clone(), "acme"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again.lead_id, first.lead_id);
    assert!(again.replayed);

    // Exactly one lead.received, carrying the tenant, the user and the lead.
    let msg = tokio::time::timeout(Duration::from_secs(10), received.next())
        .await
        .unwrap()
        .unwrap();
    let envelope = Envelope::decode(msg.payload.as_ref()).unwrap();
    assert_eq!(envelope.tenant_id, "acme");
    assert_eq!(envelope.user_id, "wang.li");
    assert_eq!(envelope.correlation_id, first.lead_id);
    let event = LeadReceived::decode(envelope.payload.as_slice()).unwrap();
    assert_eq!(event.lead_id, first.lead_id);
    assert_eq!(event.lead.unwrap().budget, "50万");
    assert!(
        tokio::time::timeout(Duration::from_millis(500), received.next())
            .await
            .is_err(),
        "the retry published nothing"
    );

    // The same key with a different lead is a caller mistake, named as such.
    let mut changed = request;
    changed.lead.as_mut().unwrap().phone = "13900000000".into();
    let err = h
        .client
        .submit_lead(with_tenant(changed, "acme"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert!(
        err.message().contains("idempotency_key"),
        "{}",
        err.message()
    );

    // The key is per tenant: another tenant's identical key is a different lead.
    let other = SubmitLeadRequest {
        idempotency_key: "crm-import-42".into(),
        lead: Some(lead()),
    };
    let theirs = h
        .client
        .submit_lead(with_tenant(other, "globex"))
        .await
        .unwrap()
        .into_inner();
    assert_ne!(theirs.lead_id, first.lead_id);
    let err = h
        .client
        .get_lead(with_tenant(
            GetLeadRequest {
                lead_id: first.lead_id.clone(),
            },
            "globex",
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::NotFound);

    h.service.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_leads_are_rejected_field_by_field_and_tenantless_calls_refused() {
    let mut h = harness().await;
    let bad = Lead {
        contact_name: "".into(),
        company: "".into(),
        phone: "12".into(),
        email: "not-an-email".into(),
        ..Default::default()
    };
    let err = h
        .client
        .submit_lead(with_tenant(
            SubmitLeadRequest {
                idempotency_key: "k".into(),
                lead: Some(bad),
            },
            "acme",
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    let details = err.get_error_details();
    let fields: Vec<_> = details
        .bad_request()
        .unwrap()
        .field_violations
        .iter()
        .map(|v| v.field.clone())
        .collect();
    assert_eq!(fields, ["lead", "lead.phone", "lead.email"]);

    let err = h
        .client
        .submit_lead(tonic::Request::new(SubmitLeadRequest {
            idempotency_key: "k".into(),
            lead: Some(lead()),
        }))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unauthenticated);
    assert!(err.message().contains("x-tenant-id"));
    h.service.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_trail_follows_the_lead_downstream_whatever_the_order() {
    let mut h = harness().await;
    let lead_id = h
        .client
        .submit_lead(with_tenant(
            SubmitLeadRequest {
                idempotency_key: "a".into(),
                lead: Some(lead()),
            },
            "acme",
        ))
        .await
        .unwrap()
        .into_inner()
        .lead_id;

    // The opportunity is reported before the assignment: status must not go back.
    publish_as(
        &h.nats,
        "acme",
        "e-qualified",
        &LeadQualified {
            lead_id: lead_id.clone(),
            customer_id: "cus_1".into(),
            new_customer: true,
            score: 75.0,
            grade: "A".into(),
            ..Default::default()
        },
    )
    .await;
    publish_as(
        &h.nats,
        "acme",
        "e-opportunity",
        &OpportunityCreated {
            lead_id: lead_id.clone(),
            opportunity_id: "opp_1".into(),
            customer_id: "cus_1".into(),
            owner_rep_id: "rep-zhang".into(),
            stage: "lead".into(),
            ..Default::default()
        },
    )
    .await;
    // Shown with its opportunity, the lead is never shown without its owner, even
    // before the assignment is consumed.
    let early = lead_when(&h, &lead_id, "the opportunity", |l| {
        !l.opportunity_id.is_empty()
    })
    .await;
    assert_eq!(early.owner_rep_id, "rep-zhang");
    let assigned = LeadAssigned {
        lead_id: lead_id.clone(),
        customer_id: "cus_1".into(),
        rep_id: "rep-zhang".into(),
        rule: "round-robin:east".into(),
        reason: "3 candidates".into(),
        ..Default::default()
    };
    publish_as(&h.nats, "acme", "e-assigned", &assigned).await;
    // A redelivery of the same event under another message id.
    let client = async_nats::connect(h.nats.url()).await.unwrap();
    let js = async_nats::jetstream::new(client);
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("Nats-Msg-Id", "another-id");
    let envelope = Envelope {
        event_id: "e-assigned".into(),
        event_type: LeadAssigned::TYPE.into(),
        tenant_id: "acme".into(),
        payload: assigned.encode_to_vec(),
        ..Default::default()
    };
    js.publish_with_headers(
        LeadAssigned::subject(),
        headers,
        envelope.encode_to_vec().into(),
    )
    .await
    .unwrap()
    .await
    .unwrap();

    let done = lead_when(&h, &lead_id, "the full trail", |l| {
        l.trail.len() >= 4 && !l.owner_rep_id.is_empty()
    })
    .await;
    assert_eq!(done.status, LeadStatus::OpportunityCreated as i32);
    assert_eq!(done.customer_id, "cus_1");
    assert!(done.new_customer);
    assert_eq!(done.grade, "A");
    assert_eq!(done.owner_rep_id, "rep-zhang");
    assert_eq!(done.opportunity_id, "opp_1");
    assert_eq!(
        done.trail.len(),
        4,
        "the redelivered assignment was recorded once: {:?}",
        done.trail
    );
    assert!(done.trail.iter().any(|s| {
        s.detail
            .contains("assigned to rep rep-zhang by rule round-robin:east")
    }));
    assert_eq!(done.trail[0].status, LeadStatus::Received as i32);
    h.service.stop().await.unwrap();
}
