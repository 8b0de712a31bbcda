//! Assignment end to end: real NATS, the service in-process, gRPC calls and events
//! published the way other services publish them.

mod support;

use shangji_contracts::assignment::{
    GetAssignmentRequest, ListRepsRequest, ListRepsResponse, Rep, RepProfile,
    UpsertRepProfileRequest, UpsertRepRequest, WorkingStatus,
};
use shangji_contracts::common::Lead;
use shangji_contracts::events::lead::{LeadPooled, LeadQualified};
use shangji_contracts::events::opportunity::{
    OpportunityCreated, OpportunityOwnerChanged, OpportunityWon,
};
use shangji_contracts::events::{Domain, Envelope, Event};
use support::{Harness, POLL, WAIT, request};
use tonic::Code;
use tonic_types::StatusExt as _;

const ACME: &str = "acme";

fn rep(rep_id: &str, team: &str, regions: &[&str], industries: &[&str], capacity: u32) -> Rep {
    Rep {
        rep_id: rep_id.into(),
        name: format!("Rep {rep_id}"),
        team: team.into(),
        regions: regions.iter().map(|s| s.to_string()).collect(),
        industries: industries.iter().map(|s| s.to_string()).collect(),
        capacity,
        active: true,
    }
}

fn qualified(lead_id: &str, customer_id: &str, region: &str, industry: &str) -> LeadQualified {
    LeadQualified {
        lead_id: lead_id.into(),
        customer_id: customer_id.into(),
        new_customer: false,
        match_reasons: vec![],
        score: 72.5,
        grade: "B".into(),
        score_factors: vec![],
        lead: Some(Lead {
            contact_name: "王先生".into(),
            company: format!("{customer_id} 有限公司"),
            region: region.into(),
            industry: industry.into(),
            ..Lead::default()
        }),
        ..LeadQualified::default()
    }
}

async fn upsert(h: &mut Harness, tenant: &str, rep: Rep) -> bool {
    h.client
        .upsert_rep(request(tenant, UpsertRepRequest { rep: Some(rep) }))
        .await
        .unwrap()
        .into_inner()
        .created
}

async fn list(h: &mut Harness, tenant: &str, team: &str) -> ListRepsResponse {
    h.client
        .list_reps(request(
            tenant,
            ListRepsRequest {
                team: team.into(),
                active_only: false,
            },
        ))
        .await
        .unwrap()
        .into_inner()
}

/// Publishes a qualified lead and returns the incoming envelope and the rep it went to,
/// with the rule that decided.
/// The next lead.assigned, which must be `lead_id`'s: (envelope, rep, rule).
async fn route_next(h: &mut Harness, lead_id: &str) -> (Envelope, String, String) {
    let (envelope, assigned) = h.next_assigned().await.unwrap();
    assert_eq!(
        assigned.lead_id, lead_id,
        "events come out in the order leads went in"
    );
    (envelope, assigned.rep_id, assigned.rule)
}

async fn route(h: &mut Harness, lead: LeadQualified) -> (Envelope, String, String) {
    let sent = h.publish(ACME, &lead.lead_id, &lead).await.unwrap();
    let (envelope, assigned) = h.next_assigned().await.unwrap();
    assert_eq!(
        assigned.lead_id, lead.lead_id,
        "events come out in the order leads went in"
    );
    assert_eq!(envelope.causation_id, sent.event_id);
    (sent, assigned.rep_id, assigned.rule)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leads_go_to_the_customer_owner_else_round_robin_else_the_pool() {
    let mut h = Harness::start().await.unwrap();
    assert!(upsert(&mut h, ACME, rep("a1", "east", &["华东"], &["制造"], 0)).await);
    assert!(upsert(&mut h, ACME, rep("a2", "east", &[" 华东 "], &[], 0)).await);
    assert!(upsert(&mut h, ACME, rep("b1", "south", &["华南"], &[], 0)).await);

    // The first lead: round robin over the east team, the event says everything.
    let first = qualified("lead_1", "cus_1", "华东", "制造");
    let sent = h.publish(ACME, "lead_1", &first).await.unwrap();
    let (envelope, assigned) = h.next_assigned().await.unwrap();
    assert_eq!(envelope.tenant_id, ACME);
    assert_eq!(envelope.causation_id, sent.event_id);
    assert_eq!(envelope.correlation_id, "lead_1");
    assert_eq!(envelope.producer, "assignment");
    assert_eq!(
        (
            assigned.rep_id.as_str(),
            assigned.team.as_str(),
            assigned.rule.as_str()
        ),
        ("a1", "east", "round-robin:east")
    );
    assert_eq!(assigned.customer_id, "cus_1");
    assert_eq!((assigned.grade.as_str(), assigned.score), ("B", 72.5));
    assert_eq!(assigned.lead, first.lead);
    assert!(
        assigned.reason.contains(
            "is next in turn among 2 reps who can take the lead for region 华东 / industry 制造"
        ),
        "{}",
        assigned.reason
    );

    let (_, rep2, _) = route(&mut h, qualified("lead_2", "cus_2", "华东", "制造")).await;
    let (_, rep3, _) = route(&mut h, qualified("lead_3", "cus_3", "华东", "制造")).await;
    assert_eq!(
        (rep2.as_str(), rep3.as_str()),
        ("a2", "a1"),
        "round robin alternates"
    );

    // It is a2's turn, but cus_1 belongs to a1.
    let (_, rep4, rule4) = route(&mut h, qualified("lead_4", "cus_1", "华东", "制造")).await;
    assert_eq!((rep4.as_str(), rule4.as_str()), ("a1", "customer-owner"));
    let (_, rep5, _) = route(&mut h, qualified("lead_5", "cus_5", "华东", "零售")).await;
    assert_eq!(
        rep5, "a2",
        "a1 took the last lead, so a2 is next; a1 does not cover 零售 anyway"
    );

    // Nobody covers 西北: the pool, with the reason in words.
    h.publish(
        ACME,
        "lead_6",
        &qualified("lead_6", "cus_6", "西北", "制造"),
    )
    .await
    .unwrap();
    let envelope = h.next_event().await.unwrap();
    assert_eq!(envelope.event_type, LeadPooled::TYPE);
    let pooled: LeadPooled = prost::Message::decode(envelope.payload.as_slice()).unwrap();
    assert_eq!(pooled.lead_id, "lead_6");
    assert_eq!(
        pooled.reason,
        "nobody can take the lead for region 西北 / industry 制造: \
         none of the 3 reps in scope covers it; it waits in the pool"
    );

    // Redelivery: the same envelope again (new Nats-Msg-Id gets it past JetStream), and a
    // new lead.qualified for a decided lead. Neither publishes anything: the next event
    // out is the one for the lead published after them.
    let again = h
        .publish(
            ACME,
            "lead_2",
            &qualified("lead_2", "cus_2", "华东", "制造"),
        )
        .await;
    let redelivered = again.unwrap();
    h.publish_envelope(&LeadQualified::subject(), &redelivered, "redelivery-1")
        .await
        .unwrap();
    h.publish_envelope(&LeadQualified::subject(), &sent, "redelivery-2")
        .await
        .unwrap();
    let (_, rep7, rule7) = route(&mut h, qualified("lead_7", "cus_7", "华南", "")).await;
    assert_eq!((rep7.as_str(), rule7.as_str()), ("b1", "round-robin:south"));
    // A new lead qualified twice (two event ids) back to back, most likely in one
    // consumer batch: decided once, and its second event publishes nothing.
    for _ in 0..2 {
        h.publish(ACME, "lead_8", &qualified("lead_8", "cus_8", "华南", ""))
            .await
            .unwrap();
    }
    let (_, rep8, _) = route_next(&mut h, "lead_8").await;
    assert_eq!(rep8, "b1");
    // The next event out is lead_9's: lead_8's second event published nothing.
    let (_, rep9, _) = route(&mut h, qualified("lead_9", "cus_9", "华南", "")).await;
    assert_eq!(rep9, "b1");
    h.assert_each_handled_once(Domain::Lead, 13).await.unwrap();

    // Who got each lead, and why.
    let got = |lead_id: &str| GetAssignmentRequest {
        lead_id: lead_id.into(),
    };
    let l4 = h
        .client
        .get_assignment(request(ACME, got("lead_4")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (l4.rep_id.as_str(), l4.rule.as_str(), l4.pooled),
        ("a1", "customer-owner", false)
    );
    assert_eq!(l4.reason, "customer cus_1 is owned by rep a1");
    assert_eq!(l4.candidate_rep_ids, vec!["a1"]);
    assert!(l4.decided_at.is_some());
    let l1 = h
        .client
        .get_assignment(request(ACME, got("lead_1")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(l1.candidate_rep_ids, vec!["a1", "a2"]);
    assert_eq!(l1.customer_id, "cus_1");
    let l2 = h
        .client
        .get_assignment(request(ACME, got("lead_2")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(l2.rep_id, "a2", "the first decision stands");
    let l6 = h
        .client
        .get_assignment(request(ACME, got("lead_6")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (l6.rep_id.as_str(), l6.rule.as_str(), l6.pooled),
        ("", "pool", true)
    );
    assert!(l6.candidate_rep_ids.is_empty());

    // Loads: sorted by team then rep id; redeliveries counted nothing.
    let listed = list(&mut h, ACME, "").await;
    let ids: Vec<&str> = listed.reps.iter().map(|r| r.rep_id.as_str()).collect();
    assert_eq!(ids, vec!["a1", "a2", "b1"]);
    assert_eq!(
        listed.reps[1].regions,
        vec!["华东"],
        "labels are stored trimmed"
    );
    let totals: Vec<(String, u64)> = listed
        .loads
        .iter()
        .map(|l| (l.rep.as_ref().unwrap().rep_id.clone(), l.assigned_total))
        .collect();
    assert_eq!(
        totals,
        vec![("a1".into(), 3), ("a2".into(), 2), ("b1".into(), 3)],
        "lead_7, lead_8 once, lead_9"
    );
    let south = list(&mut h, ACME, "south").await;
    assert_eq!(
        south
            .reps
            .iter()
            .map(|r| r.rep_id.as_str())
            .collect::<Vec<_>>(),
        vec!["b1"]
    );

    h.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_opportunities_fill_capacity_and_customers_follow_their_owner() {
    let mut h = Harness::start().await.unwrap();
    upsert(&mut h, ACME, rep("r1", "t", &[], &[], 1)).await;
    upsert(&mut h, ACME, rep("r2", "t", &[], &[], 1)).await;
    let (_, first, _) = route(&mut h, qualified("lead_1", "cus_1", "华东", "制造")).await;
    let (_, second, _) = route(&mut h, qualified("lead_2", "cus_2", "华东", "制造")).await;
    assert_eq!((first.as_str(), second.as_str()), ("r1", "r2"));

    // r1's turn, but r1's one slot is taken by an open opportunity.
    let created = OpportunityCreated {
        opportunity_id: "opp_1".into(),
        customer_id: "cus_1".into(),
        owner_rep_id: "r1".into(),
        lead_id: "lead_1".into(),
        ..OpportunityCreated::default()
    };
    let created_envelope = h.publish(ACME, "lead_1", &created).await.unwrap();
    // Redelivered: still one open opportunity.
    h.publish_envelope(
        &OpportunityCreated::subject(),
        &created_envelope,
        "redelivery-1",
    )
    .await
    .unwrap();
    wait_for_open_count(&mut h, "r1", 1).await;
    h.assert_each_handled_once(Domain::Opportunity, 2)
        .await
        .unwrap();
    let (_, third, _) = route(&mut h, qualified("lead_3", "cus_3", "华东", "制造")).await;
    assert_eq!(third, "r2", "a full rep is skipped");

    // The deal is won: r1 is free again, and it is r1's turn.
    let won = OpportunityWon {
        opportunity_id: "opp_1".into(),
        customer_id: "cus_1".into(),
        owner_rep_id: "r1".into(),
        ..OpportunityWon::default()
    };
    h.publish(ACME, "lead_1", &won).await.unwrap();
    wait_for_open_count(&mut h, "r1", 0).await;
    let (_, fourth, _) = route(&mut h, qualified("lead_4", "cus_4", "华东", "制造")).await;
    assert_eq!(fourth, "r1");

    // r1 leaves: their customer gets a new owner, who keeps it.
    h.client
        .upsert_rep_profile(request(
            ACME,
            UpsertRepProfileRequest {
                idempotency_key: "r1-departs".into(),
                profile: Some(RepProfile {
                    rep_id: "r1".into(),
                    name: "Rep r1".into(),
                    team_id: "t".into(),
                    max_open_opportunities: 1,
                    status: WorkingStatus::Departed as i32,
                    ..RepProfile::default()
                }),
            },
        ))
        .await
        .unwrap();
    let sent = h
        .publish(
            ACME,
            "lead_5",
            &qualified("lead_5", "cus_1", "华东", "制造"),
        )
        .await
        .unwrap();
    let (envelope, assigned) = h.next_assigned().await.unwrap();
    assert_eq!(envelope.causation_id, sent.event_id);
    assert_eq!(
        (assigned.rep_id.as_str(), assigned.rule.as_str()),
        ("r2", "round-robin:t")
    );
    assert!(
        assigned
            .reason
            .starts_with("previous owner r1 of customer cus_1 departed; "),
        "{}",
        assigned.reason
    );
    let (_, sixth, rule) = route(&mut h, qualified("lead_6", "cus_1", "华东", "制造")).await;
    assert_eq!((sixth.as_str(), rule.as_str()), ("r2", "customer-owner"));

    // The pipeline hands cus_2's deal to r3: the customer moves with it.
    upsert(&mut h, ACME, rep("r3", "t", &[], &[], 0)).await;
    let moved = OpportunityOwnerChanged {
        opportunity_id: "opp_2".into(),
        customer_id: "cus_2".into(),
        from_rep_id: "r2".into(),
        to_rep_id: "r3".into(),
        reason: "rebalancing".into(),
        changed_at: Some(shangji_contracts::time::from_millis(
            shangji_contracts::time::now_millis(),
        )),
    };
    h.publish(ACME, "lead_2", &moved).await.unwrap();
    wait_for_open_count(&mut h, "r3", 1).await;
    let (_, seventh, rule) = route(&mut h, qualified("lead_7", "cus_2", "华东", "制造")).await;
    assert_eq!((seventh.as_str(), rule.as_str()), ("r3", "customer-owner"));

    h.stop().await.unwrap();
}

async fn wait_for_open_count(h: &mut Harness, rep_id: &str, expected: u32) {
    let client = h.client.clone();
    shangji_testkit::poll_until(
        &format!("{rep_id} to have {expected} open"),
        WAIT,
        POLL,
        || {
            let mut client = client.clone();
            async move {
                let listed = client
                    .list_reps(request(ACME, ListRepsRequest::default()))
                    .await
                    .map_err(|e| e.to_string())?
                    .into_inner();
                let load = listed
                    .loads
                    .iter()
                    .find(|l| l.rep.as_ref().is_some_and(|r| r.rep_id == rep_id))
                    .ok_or("rep not listed")?;
                if load.open_count == expected {
                    Ok(())
                } else {
                    Err(format!("open_count is {}", load.open_count))
                }
            }
        },
    )
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callers_need_a_tenant_see_only_their_own_and_learn_what_to_fix() {
    let mut h = Harness::start().await.unwrap();

    let anonymous = h
        .client
        .list_reps(tonic::Request::new(ListRepsRequest::default()))
        .await;
    assert_eq!(anonymous.unwrap_err().code(), Code::Unauthenticated);

    assert!(upsert(&mut h, ACME, rep("a1", "east", &["华东"], &[], 0)).await);
    assert!(
        !upsert(&mut h, ACME, rep("a1", "east", &["华东"], &[], 0)).await,
        "the same upsert again changes nothing and says so"
    );
    assert!(
        list(&mut h, "globex", "").await.reps.is_empty(),
        "another tenant sees none of acme's reps"
    );
    assert_eq!(list(&mut h, ACME, "").await.reps.len(), 1);

    let bad = Rep {
        rep_id: "a 1".into(),
        name: " ".into(),
        regions: vec!["华东".into(), "".into()],
        ..rep("x", "east", &[], &[], 0)
    };
    let status = h
        .client
        .upsert_rep(request(ACME, UpsertRepRequest { rep: Some(bad) }))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    let details = status.get_error_details();
    let fields: Vec<&str> = details
        .bad_request()
        .expect("field violations")
        .field_violations
        .iter()
        .map(|v| v.field.as_str())
        .collect();
    assert_eq!(fields, vec!["rep.rep_id", "rep.name", "rep.regions[1]"]);
    let missing = h
        .client
        .upsert_rep(request(ACME, UpsertRepRequest { rep: None }))
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::InvalidArgument);
    assert!(missing.message().contains("rep"), "{}", missing.message());

    // A decided lead is invisible to another tenant.
    route(&mut h, qualified("lead_1", "cus_1", "华东", "")).await;
    let get = |lead_id: &str| GetAssignmentRequest {
        lead_id: lead_id.into(),
    };
    assert!(
        h.client
            .get_assignment(request(ACME, get("lead_1")))
            .await
            .is_ok()
    );
    let other = h
        .client
        .get_assignment(request("globex", get("lead_1")))
        .await
        .unwrap_err();
    assert_eq!(other.code(), Code::NotFound);
    assert!(
        other
            .message()
            .contains("no assignment for lead lead_1 yet"),
        "{}",
        other.message()
    );
    let empty = h
        .client
        .get_assignment(request(ACME, get(" ")))
        .await
        .unwrap_err();
    assert_eq!(empty.code(), Code::InvalidArgument);

    h.stop().await.unwrap();
}
