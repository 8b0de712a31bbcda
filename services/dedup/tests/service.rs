//! dedup end to end in-process: real nats-server, SQLite, gRPC.

mod common;

use std::time::Duration;

use common::{QualifiedFeed, TENANT, as_tenant, lead, publish, received};
use shangji_contracts::common::Lead;
use shangji_contracts::dedup::{CheckDuplicateRequest, GetCustomerRequest, MatchDecision};
use shangji_contracts::events::lead::LeadQualified;
use shangji_platform::ids::{new_event_id, new_id};
use shangji_testkit::NatsServer;
use tonic::Code;
use tonic_types::StatusExt as _;

const WAIT: Duration = Duration::from_secs(15);

#[tokio::test]
async fn leads_of_one_person_become_one_customer_and_can_be_looked_up() {
    let nats = NatsServer::start().await.unwrap();
    let data = tempfile::tempdir().unwrap();
    let dedup = common::start(common::settings(&nats.url(), data.path(), None)).await;
    let nats_client = async_nats::connect(nats.url()).await.unwrap();
    let js = async_nats::jetstream::new(nats_client.clone());
    let mut qualified = QualifiedFeed::subscribe(&nats_client).await;

    // The same mobile, written two ways, in two leads.
    let first_id = new_id("lead");
    let mut first_lead = lead("王伟", "+86 138-0013-8000", "");
    first_lead.title = "采购总监".into();
    first_lead.budget = "50万".into();
    first_lead.company = "华为".into();
    let first_event = new_event_id();
    publish(
        &js,
        TENANT,
        &first_id,
        &received(&first_id, first_lead.clone()),
        &first_event,
    )
    .await;
    let (envelope, first) = qualified.next(WAIT).await;
    assert_eq!(first.lead_id, first_id);
    assert!(first.new_customer);
    assert!(
        first.customer_id.starts_with("cus_"),
        "{}",
        first.customer_id
    );
    assert_eq!(first.lead, Some(first_lead));
    // budget 20 + company 10 + decision maker 15 + phone 10
    assert_eq!(first.score, 55.0);
    assert_eq!(first.grade, "B");
    assert_eq!(first.score_factors.len(), 4);
    assert!(
        first.match_reasons[0].contains("created customer"),
        "{:?}",
        first.match_reasons
    );
    // The follow-on context: same tenant, user and journey, caused by the lead.received.
    assert_eq!(envelope.tenant_id, TENANT);
    assert_eq!(envelope.user_id, "wang");
    assert_eq!(envelope.correlation_id, first_id);
    assert_eq!(envelope.causation_id, first_event);
    assert_eq!(envelope.producer, "dedup");

    let second_id = new_id("lead");
    let second = received(
        &second_id,
        lead("王先生", "１３８ ００１３ ８０００", "Wang@Example.com"),
    );
    publish(&js, TENANT, &second_id, &second, &new_event_id()).await;
    let (_, second_qualified) = qualified.next(WAIT).await;
    assert_eq!(second_qualified.lead_id, second_id);
    assert_eq!(second_qualified.customer_id, first.customer_id);
    assert!(!second_qualified.new_customer);
    assert_eq!(
        second_qualified.match_reasons,
        vec![format!(
            "phone 13800138000 matches customer {} exactly",
            first.customer_id
        )]
    );

    // The second lead again, under a new event id (and so a new Nats-Msg-Id): nothing
    // happens. A third, unrelated lead follows it; since dedup handles the stream in
    // order, the next event must be the third lead's, not a second one for lead two.
    publish(&js, TENANT, &second_id, &second, &new_event_id()).await;
    let third_id = new_id("lead");
    publish(
        &js,
        TENANT,
        &third_id,
        &received(&third_id, lead("李娜", "010-6552 9988 转 8", "")),
        &new_event_id(),
    )
    .await;
    let (_, third) = qualified.next(WAIT).await;
    assert_eq!(
        third.lead_id, third_id,
        "the re-delivered lead must not be qualified twice"
    );
    assert!(third.new_customer);
    assert_ne!(third.customer_id, first.customer_id);

    let mut client = common::client(&dedup).await;
    let customer = client
        .get_customer(as_tenant(
            TENANT,
            GetCustomerRequest {
                customer_id: first.customer_id.clone(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(customer.lead_ids, vec![first_id.clone(), second_id.clone()]);
    let record = customer.customer.unwrap();
    assert_eq!(record.lead_count, 2);
    assert_eq!(record.name, "王伟");
    assert_eq!(record.company, "华为");
    assert_eq!(record.phones, vec!["13800138000"]);
    assert_eq!(record.emails, vec!["wang@example.com"]);
    assert!(record.created_at.is_some() && record.updated_at.is_some());

    // CheckDuplicate finds the customer by any way of writing its phone or e-mail.
    let check = client
        .check_duplicate(as_tenant(
            TENANT,
            CheckDuplicateRequest {
                lead: Some(lead("", "0086 13800138000", " WANG@example.COM ")),
                limit: 0,
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(check.matches.len(), 1);
    let best = &check.matches[0];
    assert_eq!(best.customer_id, first.customer_id);
    assert_eq!(best.score, 1.0);
    assert_eq!(best.decision, MatchDecision::Same as i32);
    assert_eq!(
        best.evidence
            .iter()
            .map(|e| e.field.as_str())
            .collect::<Vec<_>>(),
        ["email", "phone"]
    );
    assert!(best.evidence.iter().all(|e| e.similarity == 1.0));
    assert_eq!(best.reasons.len(), 2);
    assert_eq!(best.customer.as_ref().unwrap().lead_count, 2);

    // Only the customer holding the mobile, not the landline's.
    let mobile_only = client
        .check_duplicate(as_tenant(
            TENANT,
            CheckDuplicateRequest {
                lead: Some(lead("", "13800138000", "")),
                limit: 5,
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(mobile_only.matches.len(), 1);
    let landline = client
        .check_duplicate(as_tenant(
            TENANT,
            CheckDuplicateRequest {
                lead: Some(lead("", "+86 10 6552 9988", "")),
                limit: 5,
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(landline.matches[0].customer_id, third.customer_id);

    // Nothing known, nothing matched; read-only, so nothing was created either.
    let unknown = client
        .check_duplicate(as_tenant(
            TENANT,
            CheckDuplicateRequest {
                lead: Some(lead("张三", "13900139000", "zhang@example.com")),
                limit: 0,
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(unknown.matches.is_empty());

    // Another tenant sees none of it.
    let err = client
        .get_customer(as_tenant(
            "globex",
            GetCustomerRequest {
                customer_id: first.customer_id.clone(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let other_tenant = client
        .check_duplicate(as_tenant(
            "globex",
            CheckDuplicateRequest {
                lead: Some(lead("", "13800138000", "")),
                limit: 0,
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(other_tenant.matches.is_empty());

    dedup.stop().await.unwrap();
}

#[tokio::test]
async fn bad_requests_are_refused_with_the_field_named() {
    let nats = NatsServer::start().await.unwrap();
    let data = tempfile::tempdir().unwrap();
    let dedup = common::start(common::settings(&nats.url(), data.path(), None)).await;
    let mut client = common::client(&dedup).await;

    let err = client
        .check_duplicate(as_tenant(
            TENANT,
            CheckDuplicateRequest {
                lead: Some(Lead {
                    title: "CEO".into(),
                    ..Lead::default()
                }),
                limit: 0,
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let details = err.get_error_details();
    assert_eq!(
        details.bad_request().unwrap().field_violations[0].field,
        "lead"
    );

    let err = client
        .check_duplicate(as_tenant(
            TENANT,
            CheckDuplicateRequest {
                lead: None,
                limit: 0,
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);

    let err = client
        .check_duplicate(as_tenant(
            TENANT,
            CheckDuplicateRequest {
                lead: Some(Lead {
                    phone: "13800138000".into(),
                    company: "公".repeat(1001),
                    ..Lead::default()
                }),
                limit: 0,
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("lead.company"), "{}", err.message());
    let details = err.get_error_details();
    assert_eq!(
        details.bad_request().unwrap().field_violations[0].field,
        "lead.company"
    );

    let err = client
        .get_customer(as_tenant(
            TENANT,
            GetCustomerRequest {
                customer_id: "cus_nope".into(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    assert!(err.message().contains("cus_nope"), "{}", err.message());

    let err = client
        .get_customer(as_tenant(
            TENANT,
            GetCustomerRequest {
                customer_id: " ".into(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);

    let err = client
        .get_customer(tonic::Request::new(GetCustomerRequest {
            customer_id: "cus_x".into(),
        }))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    let err = client
        .check_duplicate(tonic::Request::new(CheckDuplicateRequest {
            lead: Some(lead("", "13800138000", "")),
            limit: 0,
        }))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);

    dedup.stop().await.unwrap();
}

#[tokio::test]
async fn a_lead_with_nothing_to_match_on_gets_a_customer_of_its_own() {
    let nats = NatsServer::start().await.unwrap();
    let data = tempfile::tempdir().unwrap();
    let dedup = common::start(common::settings(&nats.url(), data.path(), None)).await;
    let nats_client = async_nats::connect(nats.url()).await.unwrap();
    let js = async_nats::jetstream::new(nats_client.clone());
    let mut qualified = QualifiedFeed::subscribe(&nats_client).await;

    let mut customers = Vec::new();
    for _ in 0..2 {
        let lead_id = new_id("lead");
        publish(
            &js,
            TENANT,
            &lead_id,
            &received(&lead_id, lead("王伟", "n/a", "wang at example")),
            &new_event_id(),
        )
        .await;
        let (_, event): (_, LeadQualified) = qualified.next(WAIT).await;
        assert!(event.new_customer);
        assert_eq!(event.grade, "D");
        assert!(
            event.match_reasons[0].contains("no valid phone or e-mail"),
            "{:?}",
            event.match_reasons
        );
        customers.push(event.customer_id);
    }
    assert_ne!(customers[0], customers[1]);
    dedup.stop().await.unwrap();
}
