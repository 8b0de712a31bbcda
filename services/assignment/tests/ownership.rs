//! Issue 4, ownership moves through gRPC and real NATS: pool recycling on a clock the
//! test moves, hand-over of a rep with 500 open opportunities, customer merges and
//! escalations that return an opportunity to the pool.

mod support;

use std::collections::BTreeMap;

use shangji_assignment::Clock;
use shangji_contracts::assignment::*;
use shangji_contracts::common::Lead;
use shangji_contracts::events::lead::{CustomerMerged, LeadQualified, OwnershipTransferred};
use shangji_contracts::events::opportunity::{OpportunityActivityLogged, OpportunityCreated};
use shangji_contracts::events::reminder::ReminderEscalated;
use shangji_contracts::events::{Domain, Event};
use shangji_contracts::time::from_millis;
use support::{Harness, POLL, WAIT, next_of, request};
use tonic::Code;

const ACME: &str = "acme";
const DAY_MS: i64 = 86_400_000;
/// 2026-11-23T00:00:00Z, where the manual clock starts.
const START: i64 = 1_795_392_000_000;

fn rep(id: &str) -> UpsertRepRequest {
    UpsertRepRequest {
        rep: Some(Rep {
            rep_id: id.into(),
            name: format!("Rep {id}"),
            team: "east".into(),
            regions: vec![],
            industries: vec![],
            capacity: 0,
            active: true,
        }),
    }
}

fn lead(n: usize) -> LeadQualified {
    LeadQualified {
        lead_id: format!("lead_{n}"),
        customer_id: format!("cus_{n}"),
        grade: "B".into(),
        lead: Some(Lead {
            region: "华东".into(),
            industry: "制造".into(),
            ..Lead::default()
        }),
        ..LeadQualified::default()
    }
}

fn created(n: usize, rep_id: &str, at: i64) -> OpportunityCreated {
    OpportunityCreated {
        opportunity_id: format!("opp_{n}"),
        customer_id: format!("cus_{n}"),
        owner_rep_id: rep_id.into(),
        lead_id: format!("lead_{n}"),
        team: "east".into(),
        created_at: Some(from_millis(at)),
        ..OpportunityCreated::default()
    }
}

async fn open_count(h: &Harness, rep_id: &str, expected: u32) {
    let rep_id = rep_id.to_owned();
    shangji_testkit::poll_until("the open count", WAIT * 2, POLL, || {
        let mut client = h.client.clone();
        let rep_id = rep_id.clone();
        async move {
            let loads = client
                .list_reps(request(ACME, ListRepsRequest::default()))
                .await
                .map_err(|e| e.to_string())?
                .into_inner()
                .loads;
            let open = loads
                .iter()
                .find(|l| l.rep.as_ref().is_some_and(|r| r.rep_id == rep_id))
                .map(|l| l.open_count);
            if open == Some(expected) {
                Ok(())
            } else {
                Err(format!("{rep_id} has {open:?} open"))
            }
        }
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opportunities_without_follow_up_return_to_the_pool_with_history() {
    let clock = Clock::manual(START);
    let mut h = Harness::start_with_clock(clock.clone()).await.unwrap();
    let mut transfers = h
        .watch(Domain::Lead, vec![OwnershipTransferred::subject()])
        .await
        .unwrap();
    h.client.upsert_rep(request(ACME, rep("r1"))).await.unwrap();
    let policy = h
        .client
        .upsert_recycling_policy(request(
            ACME,
            UpsertRecyclingPolicyRequest {
                idempotency_key: "p1".into(),
                policy: Some(RecyclingPolicy {
                    no_follow_up_days: 7,
                    enabled: true,
                    version: 0,
                }),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(policy.policy.unwrap().version, 1);
    let bad = h
        .client
        .upsert_recycling_policy(request(
            ACME,
            UpsertRecyclingPolicyRequest {
                idempotency_key: "p2".into(),
                policy: Some(RecyclingPolicy {
                    no_follow_up_days: 0,
                    enabled: true,
                    version: 0,
                }),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);

    // Two opportunities of r1; the second is followed up on day 5.
    for n in [1, 2] {
        h.publish(ACME, &format!("lead_{n}"), &lead(n))
            .await
            .unwrap();
        h.next_assigned().await.unwrap();
        h.publish(ACME, &format!("lead_{n}"), &created(n, "r1", START))
            .await
            .unwrap();
    }
    let activity = OpportunityActivityLogged {
        opportunity_id: "opp_2".into(),
        customer_id: "cus_2".into(),
        owner_rep_id: "r1".into(),
        kind: "call".into(),
        logged_at: Some(from_millis(START + 5 * DAY_MS)),
        ..OpportunityActivityLogged::default()
    };
    h.publish(ACME, "lead_2", &activity).await.unwrap();
    open_count(&h, "r1", 2).await;
    h.assert_each_handled_once(Domain::Opportunity, 3)
        .await
        .unwrap();

    // Day 8: opp_1 (no follow-up for 7 days) returns to the pool; opp_2 is not due.
    clock.advance(8 * DAY_MS);
    let recycled = next_of::<OwnershipTransferred>(&mut transfers)
        .await
        .unwrap();
    assert_eq!(
        (
            recycled.customer_id.as_str(),
            recycled.from_rep_id.as_str(),
            recycled.to_rep_id.as_str(),
            recycled.reason.as_str()
        ),
        ("cus_1", "r1", "", "recycled")
    );
    assert_eq!(recycled.opportunity_ids, vec!["opp_1"]);
    open_count(&h, "r1", 1).await;
    let pool = h
        .client
        .list_pool(request(ACME, ListPoolRequest::default()))
        .await
        .unwrap()
        .into_inner()
        .entries;
    assert_eq!(pool.len(), 1);
    assert_eq!(
        (
            pool[0].kind.as_str(),
            pool[0].opportunity_id.as_str(),
            pool[0].previous_rep_id.as_str()
        ),
        ("opportunity", "opp_1", "r1")
    );
    // Day 13: opp_2 (followed up on day 5) is due as well.
    clock.advance(5 * DAY_MS);
    let second = next_of::<OwnershipTransferred>(&mut transfers)
        .await
        .unwrap();
    assert_eq!(second.opportunity_ids, vec!["opp_2"]);

    // r2 claims opp_1 back out of the pool; the history keeps both moves.
    h.client.upsert_rep(request(ACME, rep("r2"))).await.unwrap();
    let claimed = h
        .client
        .claim_from_pool(request(
            ACME,
            ClaimFromPoolRequest {
                idempotency_key: "claim-1".into(),
                entry_id: pool[0].entry_id.clone(),
                rep_id: "r2".into(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(claimed.rep_id, "r2");
    let claim = next_of::<OwnershipTransferred>(&mut transfers)
        .await
        .unwrap();
    assert_eq!(
        (claim.to_rep_id.as_str(), claim.reason.as_str()),
        ("r2", "pool_claim")
    );
    let history = h
        .client
        .list_transfers(request(
            ACME,
            ListTransfersRequest {
                customer_id: String::new(),
                opportunity_id: "opp_1".into(),
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .transfers;
    let reasons: Vec<(&str, &str)> = history
        .iter()
        .map(|t| (t.reason.as_str(), t.to_rep_id.as_str()))
        .collect();
    assert_eq!(reasons, vec![("recycled", ""), ("pool_claim", "r2")]);
    open_count(&h, "r2", 1).await;
    h.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_departing_rep_with_500_open_opportunities_is_handed_over_in_one_operation() {
    hand_over_500(Harness::start().await.unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_departing_rep_with_500_open_opportunities_is_handed_over_on_postgres() {
    if let Some(h) = Harness::start_on_postgres().await.unwrap() {
        hand_over_500(h).await;
    }
}

async fn hand_over_500(mut h: Harness) {
    const OPEN: usize = 500;
    let mut transfers = h
        .watch(Domain::Lead, vec![OwnershipTransferred::subject()])
        .await
        .unwrap();
    h.client
        .upsert_rep(request(ACME, rep("leaver")))
        .await
        .unwrap();
    for n in 0..OPEN {
        h.publish(ACME, &format!("lead_{n}"), &lead(n))
            .await
            .unwrap();
    }
    for _ in 0..OPEN {
        h.next_assigned().await.unwrap();
    }
    for n in 0..OPEN {
        h.publish(ACME, &format!("lead_{n}"), &created(n, "leaver", START))
            .await
            .unwrap();
    }
    // One more lead that is not an opportunity yet moves too.
    h.publish(ACME, "lead_x", &lead(OPEN)).await.unwrap();
    h.next_assigned().await.unwrap();
    open_count(&h, "leaver", OPEN as u32).await;
    for r in ["heir-a", "heir-b"] {
        h.client.upsert_rep(request(ACME, rep(r))).await.unwrap();
    }

    let depart = DepartRepRequest {
        idempotency_key: "leaver-goes".into(),
        rep_id: "leaver".into(),
        successor_rep_id: String::new(),
        note: "resigned".into(),
    };
    let report = h
        .client
        .depart_rep(request(ACME, depart.clone()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (
            report.customers_moved,
            report.opportunities_moved,
            report.leads_moved,
            report.customers_pooled
        ),
        (OPEN as u32 + 1, OPEN as u32, 1, 0)
    );
    let mut per_heir: BTreeMap<String, usize> = BTreeMap::new();
    for moved in &report.moved {
        *per_heir.entry(moved.to_rep_id.clone()).or_default() += 1;
    }
    assert_eq!(per_heir.len(), 2, "{per_heir:?}");
    assert!(
        per_heir.values().all(|n| n.abs_diff(OPEN.div_ceil(2)) <= 1),
        "{per_heir:?}"
    );

    let mut announced = 0;
    for _ in 0..=OPEN {
        let t = next_of::<OwnershipTransferred>(&mut transfers)
            .await
            .unwrap();
        assert_eq!(
            (t.from_rep_id.as_str(), t.reason.as_str()),
            ("leaver", "hand_over")
        );
        announced += t.opportunity_ids.len();
    }
    assert_eq!(announced, OPEN);
    open_count(&h, "leaver", 0).await;

    // A retry returns the same report and moves nothing.
    let again = h
        .client
        .depart_rep(request(ACME, depart))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again, report);
    // The next lead of a handed-over customer goes to its new owner.
    let moved = &report.moved[0];
    let mut next = lead(9999);
    next.lead_id = "lead_after".into();
    next.customer_id = moved.customer_id.clone();
    h.publish(ACME, "lead_after", &next).await.unwrap();
    let (_, after) = h.next_assigned().await.unwrap();
    assert_eq!(
        (after.rep_id.as_str(), after.rule.as_str()),
        (moved.to_rep_id.as_str(), "customer-owner")
    );
    let reps = h
        .client
        .list_rep_profiles(request(
            ACME,
            ListRepProfilesRequest {
                team_id: String::new(),
                status: WorkingStatus::Departed as i32,
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .reps;
    assert_eq!(reps.len(), 1);
    h.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merges_keep_one_owner_and_escalations_return_work_to_the_pool() {
    merges_and_escalations(Harness::start().await.unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merges_keep_one_owner_and_escalations_return_work_to_the_pool_on_postgres() {
    if let Some(h) = Harness::start_on_postgres().await.unwrap() {
        merges_and_escalations(h).await;
    }
}

async fn merges_and_escalations(mut h: Harness) {
    let mut transfers = h
        .watch(Domain::Lead, vec![OwnershipTransferred::subject()])
        .await
        .unwrap();
    h.client.upsert_rep(request(ACME, rep("a"))).await.unwrap();
    h.client.upsert_rep(request(ACME, rep("b"))).await.unwrap();
    // cus_1 goes to a, cus_2 to b (round robin); b opens opp_2 for cus_2.
    for n in [1, 2] {
        h.publish(ACME, &format!("lead_{n}"), &lead(n))
            .await
            .unwrap();
    }
    let (_, first) = h.next_assigned().await.unwrap();
    let (_, second) = h.next_assigned().await.unwrap();
    assert_eq!((first.rep_id.as_str(), second.rep_id.as_str()), ("a", "b"));
    h.publish(ACME, "lead_2", &created(2, "b", START))
        .await
        .unwrap();
    open_count(&h, "b", 1).await;

    let merged = CustomerMerged {
        merge_id: "m1".into(),
        survivor_customer_id: "cus_1".into(),
        merged_customer_ids: vec!["cus_2".into()],
        decided_by: "auto".into(),
        ..CustomerMerged::default()
    };
    h.publish(ACME, "m1", &merged).await.unwrap();
    let moved = next_of::<OwnershipTransferred>(&mut transfers)
        .await
        .unwrap();
    assert_eq!(
        (
            moved.customer_id.as_str(),
            moved.from_rep_id.as_str(),
            moved.to_rep_id.as_str(),
            moved.reason.as_str()
        ),
        ("cus_1", "b", "a", "merge")
    );
    assert_eq!(moved.opportunity_ids, vec!["opp_2"]);
    open_count(&h, "a", 1).await;
    open_count(&h, "b", 0).await;

    // An escalation step that returns the opportunity to the pool.
    let escalated = ReminderEscalated {
        reminder_id: "rem_1".into(),
        opportunity_id: "opp_2".into(),
        owner_rep_id: "a".into(),
        level: 2,
        action: "return_to_pool".into(),
        customer_id: "cus_1".into(),
        team: "east".into(),
        policy_id: "pol_1".into(),
        step: 2,
        reason: "no follow-up after two reminders".into(),
        ..ReminderEscalated::default()
    };
    h.publish(ACME, "rem_1", &escalated).await.unwrap();
    let pooled = next_of::<OwnershipTransferred>(&mut transfers)
        .await
        .unwrap();
    assert_eq!(
        (
            pooled.from_rep_id.as_str(),
            pooled.to_rep_id.as_str(),
            pooled.reason.as_str(),
            pooled.rule.as_str()
        ),
        ("a", "", "escalation", "escalation:pol_1:2")
    );
    // The same escalation redelivered under a new id changes nothing more.
    h.publish(ACME, "rem_1", &escalated).await.unwrap();
    h.assert_each_handled_once(Domain::Reminder, 2)
        .await
        .unwrap();
    let history = h
        .client
        .list_transfers(request(
            ACME,
            ListTransfersRequest {
                customer_id: "cus_1".into(),
                opportunity_id: String::new(),
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .transfers;
    let reasons: Vec<&str> = history.iter().map(|t| t.reason.as_str()).collect();
    assert_eq!(reasons, vec!["merge", "escalation"]);
    h.stop().await.unwrap();
}
