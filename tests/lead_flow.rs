//! The whole flow, end to end: nats-server and the six service binaries as separate
//! processes, talked to only through their gRPC APIs.
//!
//! SubmitLead -> intake -> lead.received -> dedup -> lead.qualified -> assignment ->
//! lead.assigned -> pipeline -> opportunity.created -> reminders + analytics, with the
//! duplicate customer, the idempotent retry, concurrent leads for one customer, the
//! trace across all six services, and a clean shutdown.

use std::collections::BTreeSet;
use std::time::Duration;

use shangji_contracts::analytics::FunnelRequest;
use shangji_contracts::assignment::{GetAssignmentRequest, ListRepsRequest, Rep, UpsertRepRequest};
use shangji_contracts::common::Lead;
use shangji_contracts::dedup::{CheckDuplicateRequest, GetCustomerRequest, MatchDecision};
use shangji_contracts::intake::{GetLeadResponse, LeadStatus, SubmitLeadRequest};
use shangji_contracts::pipeline::{
    AdvanceStageRequest, CloseOpportunityRequest, CloseOutcome, GetOpportunityRequest,
    ListOpportunitiesRequest, LogActivityRequest,
};
use shangji_contracts::reminders::ListDueRequest;
use shangji_e2e::{Clients, tenant_request};
use shangji_testkit::{OtlpReceiver, Postgres, System, SystemOptions, poll_until};

const TENANT: &str = "acme";

fn rep(id: &str, name: &str, team: &str, region: &str) -> UpsertRepRequest {
    UpsertRepRequest {
        rep: Some(Rep {
            rep_id: id.into(),
            name: name.into(),
            team: team.into(),
            regions: vec![region.into()],
            industries: vec![],
            capacity: 0,
            active: true,
        }),
    }
}

fn wang(phone: &str, name: &str) -> Lead {
    Lead {
        contact_name: name.into(),
        phone: phone.into(),
        company: "北京华为科技有限公司".into(),
        title: "采购经理".into(),
        region: "华东".into(),
        industry: "制造".into(),
        source: "web".into(),
        need: "销售管理系统".into(),
        budget: "50万".into(),
        timeline: "本季度".into(),
        ..Default::default()
    }
}

async fn submit(clients: &Clients, key: &str, lead: Lead) -> String {
    clients
        .intake
        .clone()
        .submit_lead(tenant_request(
            TENANT,
            SubmitLeadRequest {
                idempotency_key: key.into(),
                lead: Some(lead),
            },
        ))
        .await
        .expect("lead accepted")
        .into_inner()
        .lead_id
}

fn statuses(lead: &GetLeadResponse) -> Vec<i32> {
    lead.trail.iter().map(|s| s.status).collect()
}

/// The flow every deployment must get right, whatever the database.
async fn lead_flow(clients: &Clients) {
    let mut assignment = clients.assignment.clone();
    for r in [
        rep("zhang", "张三", "east", "华东"),
        rep("li", "李四", "east", "华东"),
        rep("wu", "吴五", "north", "华北"),
    ] {
        assignment
            .upsert_rep(tenant_request(TENANT, r))
            .await
            .unwrap();
    }

    // A new customer: received, qualified (new), assigned by round robin within the
    // team covering 华东, opportunity opened in the first stage.
    let lead_a = submit(clients, "web-1", wang("138 0013 8000", "王伟")).await;
    let a = clients
        .lead_until(TENANT, &lead_a, "lead A to get its opportunity", |l| {
            !l.opportunity_id.is_empty()
        })
        .await
        .unwrap();
    assert!(a.new_customer);
    assert!(a.customer_id.starts_with("cus_"));
    assert!(
        ["zhang", "li"].contains(&a.owner_rep_id.as_str()),
        "owner {} covers 华东",
        a.owner_rep_id
    );
    assert_eq!(a.status, LeadStatus::OpportunityCreated as i32);
    let trail = statuses(&a);
    for step in [
        LeadStatus::Received,
        LeadStatus::Qualified,
        LeadStatus::Assigned,
        LeadStatus::OpportunityCreated,
    ] {
        assert!(
            trail.contains(&(step as i32)),
            "trail {trail:?} has {step:?}"
        );
    }
    assert!(!a.grade.is_empty() && a.score > 0.0);

    // The retry of the same submission returns the same lead and creates nothing.
    let retry = clients
        .intake
        .clone()
        .submit_lead(tenant_request(
            TENANT,
            SubmitLeadRequest {
                idempotency_key: "web-1".into(),
                lead: Some(wang("138 0013 8000", "王伟")),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(retry.lead_id, lead_a);
    assert!(retry.replayed);

    let decided = assignment
        .get_assignment(tenant_request(
            TENANT,
            GetAssignmentRequest {
                lead_id: lead_a.clone(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(decided.rep_id, a.owner_rep_id);
    assert!(
        decided.rule.starts_with("round-robin"),
        "rule {}",
        decided.rule
    );

    let mut pipeline = clients.pipeline.clone();
    let opp_a = pipeline
        .get_opportunity(tenant_request(
            TENANT,
            GetOpportunityRequest {
                opportunity_id: a.opportunity_id.clone(),
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .opportunity
        .unwrap();
    assert_eq!(opp_a.stage, "lead");
    assert_eq!(opp_a.owner_rep_id, a.owner_rep_id);
    assert_eq!(opp_a.customer_id, a.customer_id);
    assert_eq!(opp_a.amount, 500_000.0, "budget 50万");

    // The same person again, written differently: same customer, same owner, and the
    // lead is recorded on the open opportunity instead of opening a second one.
    let lead_b = submit(clients, "wechat-7", wang("+86 138-0013-8000", "王先生")).await;
    let b = clients
        .lead_until(
            TENANT,
            &lead_b,
            "lead B to reach the open opportunity",
            |l| !l.opportunity_id.is_empty(),
        )
        .await
        .unwrap();
    assert_eq!(b.customer_id, a.customer_id);
    assert!(!b.new_customer);
    assert_eq!(b.owner_rep_id, a.owner_rep_id, "one customer, one owner");
    assert_eq!(b.opportunity_id, a.opportunity_id);
    assert_eq!(b.status, LeadStatus::AttachedToOpportunity as i32);
    let of_customer = pipeline
        .list_opportunities(tenant_request(
            TENANT,
            ListOpportunitiesRequest {
                customer_id: a.customer_id.clone(),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(of_customer.total_count, 1);

    let mut dedup = clients.dedup.clone();
    let customer = dedup
        .get_customer(tenant_request(
            TENANT,
            GetCustomerRequest {
                customer_id: a.customer_id.clone(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(customer.lead_ids, vec![lead_a.clone(), lead_b.clone()]);
    let check = dedup
        .check_duplicate(tenant_request(
            TENANT,
            CheckDuplicateRequest {
                lead: Some(Lead {
                    phone: "0086 13800138000".into(),
                    ..Default::default()
                }),
                limit: 5,
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(check.matches[0].customer_id, a.customer_id);
    assert_eq!(check.matches[0].decision, MatchDecision::Same as i32);
    assert!(check.matches[0].score > 0.99);

    // Two leads for one new customer at the same moment: one customer, one owner.
    let mut c1 = wang("13900001111", "赵六");
    c1.company = "上海申通物流有限公司".into();
    let mut c2 = c1.clone();
    c2.phone = "139-0000-1111".into();
    c2.email = "zhao@sto.example.cn".into();
    let (lead_c1, lead_c2) = tokio::join!(submit(clients, "c-1", c1), submit(clients, "c-2", c2));
    let done = |l: &GetLeadResponse| !l.opportunity_id.is_empty();
    let c1 = clients
        .lead_until(TENANT, &lead_c1, "lead C1 done", done)
        .await
        .unwrap();
    let c2 = clients
        .lead_until(TENANT, &lead_c2, "lead C2 done", done)
        .await
        .unwrap();
    assert_eq!(c1.customer_id, c2.customer_id);
    assert_ne!(c1.customer_id, a.customer_id);
    assert_eq!(c1.owner_rep_id, c2.owner_rep_id);
    assert_eq!(c1.opportunity_id, c2.opportunity_id);
    assert_ne!(
        c1.owner_rep_id, a.owner_rep_id,
        "round robin gave the next rep of the team"
    );

    // The owner is reminded to make first contact.
    let owner = a.owner_rep_id.clone();
    let opportunity_a = a.opportunity_id.clone();
    poll_until(
        "a first-contact reminder for the owner",
        Duration::from_secs(30),
        Duration::from_millis(100),
        || {
            let mut reminders = clients.reminders.clone();
            let request = tenant_request(
                TENANT,
                ListDueRequest {
                    owner_rep_id: owner.clone(),
                    within: Some(prost_types::Duration {
                        seconds: 48 * 3600,
                        nanos: 0,
                    }),
                    limit: 100,
                },
            );
            let opportunity_a = opportunity_a.clone();
            async move {
                let due = reminders
                    .list_due(request)
                    .await
                    .map_err(|e| e.to_string())?
                    .into_inner();
                if due
                    .reminders
                    .iter()
                    .any(|r| r.opportunity_id == opportunity_a && r.kind == "first_contact")
                {
                    Ok(())
                } else {
                    Err(format!("{:?}", due.reminders))
                }
            }
        },
    )
    .await
    .unwrap();

    // The rep works the opportunity and wins it.
    pipeline
        .advance_stage(tenant_request(
            TENANT,
            AdvanceStageRequest {
                idempotency_key: "adv-1".into(),
                opportunity_id: a.opportunity_id.clone(),
                to_stage: "qualified".into(),
                amount: Some(600_000.0),
                note: "预算已确认".into(),
            },
        ))
        .await
        .unwrap();
    pipeline
        .log_activity(tenant_request(
            TENANT,
            LogActivityRequest {
                idempotency_key: "act-1".into(),
                opportunity_id: a.opportunity_id.clone(),
                kind: "call".into(),
                summary: "首次电话沟通，确认需求".into(),
                next_step: "发送方案".into(),
                next_follow_up_at: Some(prost_types::Timestamp {
                    seconds: 4_102_444_800,
                    nanos: 0,
                }),
                ..Default::default()
            },
        ))
        .await
        .unwrap();
    let won = pipeline
        .close_opportunity(tenant_request(
            TENANT,
            CloseOpportunityRequest {
                idempotency_key: "close-1".into(),
                opportunity_id: a.opportunity_id.clone(),
                outcome: CloseOutcome::Won as i32,
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .opportunity
        .unwrap();
    assert_eq!(won.stage, "won");

    // Analytics saw all of it.
    let funnel = poll_until(
        "the funnel to count the win",
        Duration::from_secs(30),
        Duration::from_millis(100),
        || {
            let mut analytics = clients.analytics.clone();
            async move {
                let f = analytics
                    .funnel(tenant_request(TENANT, FunnelRequest::default()))
                    .await
                    .map_err(|e| e.to_string())?
                    .into_inner();
                if f.opportunities_won == 1 && f.leads_received == 4 {
                    Ok(f)
                } else {
                    Err(format!("{f:?}"))
                }
            }
        },
    )
    .await
    .unwrap();
    let stage = |name: &str| {
        funnel
            .stages
            .iter()
            .find(|s| s.stage == name)
            .cloned()
            .unwrap()
    };
    assert_eq!(stage("lead").count, 2, "{funnel:?}");
    assert_eq!(stage("qualified").count, 1, "{funnel:?}");
    assert!(
        (stage("lead").conversion_to_next - 0.5).abs() < 1e-9,
        "{funnel:?}"
    );
    assert_eq!(funnel.won_amount, 600_000.0);

    // Reps of the tenant are listed with their load; another tenant sees nothing.
    let reps = assignment
        .list_reps(tenant_request(TENANT, ListRepsRequest::default()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reps.reps.len(), 3);
    let theirs = pipeline
        .list_opportunities(tenant_request(
            "globex",
            ListOpportunitiesRequest::default(),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(theirs.total_count, 0);
}

fn refused<T: std::fmt::Debug>(result: Result<tonic::Response<T>, tonic::Status>) {
    let err = result.unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unauthenticated, "{err:?}");
    assert!(err.message().contains("x-tenant-id"), "{}", err.message());
}

/// Every service refuses a call without a tenant, and serves reflection.
async fn contracts_are_discoverable_and_guarded(system: &System, clients: &Clients) {
    use shangji_contracts::analytics::FunnelRequest;
    refused(
        clients
            .intake
            .clone()
            .get_lead(shangji_contracts::intake::GetLeadRequest::default())
            .await,
    );
    refused(
        clients
            .dedup
            .clone()
            .get_customer(GetCustomerRequest::default())
            .await,
    );
    refused(
        clients
            .assignment
            .clone()
            .list_reps(ListRepsRequest::default())
            .await,
    );
    refused(
        clients
            .pipeline
            .clone()
            .list_opportunities(ListOpportunitiesRequest::default())
            .await,
    );
    refused(
        clients
            .reminders
            .clone()
            .list_due(ListDueRequest::default())
            .await,
    );
    refused(
        clients
            .analytics
            .clone()
            .funnel(FunnelRequest::default())
            .await,
    );

    use tokio_stream::StreamExt as _;
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    for (service, name) in [
        ("intake", "shangji.intake.v1.IntakeService"),
        ("dedup", "shangji.dedup.v1.DedupService"),
        ("assignment", "shangji.assignment.v1.AssignmentService"),
        ("pipeline", "shangji.pipeline.v1.PipelineService"),
        ("reminders", "shangji.reminders.v1.ReminderService"),
        ("analytics", "shangji.analytics.v1.AnalyticsService"),
    ] {
        let channel = tonic::transport::Channel::from_shared(system.endpoint(service))
            .unwrap()
            .connect()
            .await
            .unwrap();
        let mut client = ServerReflectionClient::new(channel);
        let request = ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::ListServices(String::new())),
        };
        let mut responses = client
            .server_reflection_info(tokio_stream::once(request))
            .await
            .unwrap()
            .into_inner();
        let response = responses.next().await.unwrap().unwrap();
        let Some(MessageResponse::ListServicesResponse(list)) = response.message_response else {
            panic!("{service}: no service list");
        };
        let names: Vec<_> = list.service.into_iter().map(|s| s.name).collect();
        assert!(names.iter().any(|n| n == name), "{service} lists {names:?}");
        assert!(
            names.iter().any(|n| n == "grpc.health.v1.Health"),
            "{service} lists {names:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_whole_flow_on_sqlite_is_one_trace_and_stops_cleanly() {
    let otlp = OtlpReceiver::start().await.unwrap();
    let system = System::start(SystemOptions {
        otlp_endpoint: Some(otlp.endpoint()),
        ..Default::default()
    })
    .await
    .unwrap();
    let clients = Clients::connect(&system).await.unwrap();
    contracts_are_discoverable_and_guarded(&system, &clients).await;

    // A lead submitted inside a caller's trace: every service's work joins that trace.
    clients
        .assignment
        .clone()
        .upsert_rep(tenant_request(
            "traced",
            rep("sun", "孙八", "south", "华南"),
        ))
        .await
        .unwrap();
    let trace_id = "5a1e5c0ffee0ddba11ca75e1ead5afe0";
    let mut lead = wang("13700001234", "钱七");
    lead.region = "华南".into();
    let mut request = tenant_request(
        "traced",
        SubmitLeadRequest {
            idempotency_key: "t-1".into(),
            lead: Some(lead),
        },
    );
    request.metadata_mut().insert(
        "traceparent",
        format!("00-{trace_id}-00f067aa0ba902b7-01")
            .parse()
            .unwrap(),
    );
    let traced_lead = clients
        .intake
        .clone()
        .submit_lead(request)
        .await
        .unwrap()
        .into_inner()
        .lead_id;
    clients
        .lead_until(
            "traced",
            &traced_lead,
            "the traced lead to get its opportunity",
            |l| !l.opportunity_id.is_empty(),
        )
        .await
        .unwrap();
    let all_six: BTreeSet<String> = shangji_testkit::SERVICES
        .iter()
        .map(|s| format!("shangji-{s}"))
        .collect();
    let spans = otlp
        .wait_for(
            "spans from all six services in the lead's trace",
            Duration::from_secs(30),
            |spans| {
                let seen: BTreeSet<String> = spans
                    .iter()
                    .filter(|s| s.trace_id == trace_id)
                    .map(|s| s.service_name.clone())
                    .collect();
                seen.is_superset(&all_six)
            },
        )
        .await;
    let seen: BTreeSet<String> = otlp
        .spans()
        .iter()
        .filter(|s| s.trace_id == trace_id)
        .map(|s| s.service_name.clone())
        .collect();
    assert!(
        spans.is_ok(),
        "one trace spans all six services; saw {seen:?}"
    );
    // The intake span is the caller's child: the trace starts where the caller is.
    let traced = otlp.spans();
    let submit_span = traced
        .iter()
        .find(|s| {
            s.trace_id == trace_id
                && s.service_name == "shangji-intake"
                && s.name.contains("SubmitLead")
        })
        .expect("intake's SubmitLead span");
    assert_eq!(submit_span.parent_span_id, "00f067aa0ba902b7");

    lead_flow(&clients).await;
    system
        .shutdown()
        .await
        .expect("every service exits 0 on SIGTERM");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_whole_flow_on_postgres() {
    let pg = Postgres::start().await.unwrap();
    let system = System::start(SystemOptions {
        postgres: Some(&pg),
        ..Default::default()
    })
    .await
    .unwrap();
    let clients = Clients::connect(&system).await.unwrap();
    lead_flow(&clients).await;
    system
        .shutdown()
        .await
        .expect("every service exits 0 on SIGTERM");
}
