//! The store contract of issue 4's tables: teams, rules, the pool, the decision audit,
//! ownership transfers, recycling schedules. Run by tests/store.rs on both backends.

use shangji_assignment::domain::{
    AssignmentRule, Audit, CandidateLoad, Conditions, RuleEvaluation, Strategy, TeamDraft,
};
use shangji_assignment::store::assignments::{self, AssignmentRecord};
use shangji_assignment::store::decisions::{self, DecisionRecord};
use shangji_assignment::store::opportunities::{self, Opened};
use shangji_assignment::store::pool::{self, PoolEntry};
use shangji_assignment::store::transfers::{self, Transfer};
use shangji_assignment::store::{owners, policies, reps, rules, teams};
use shangji_platform::Db;

const T: &str = "org-acme";
const OTHER: &str = "org-globex";
const DAY_MS: i64 = 86_400_000;

pub async fn contract(db: &Db) {
    teams_form_a_tree(db).await;
    rules_keep_their_order(db).await;
    the_pool_hands_each_entry_out_once(db).await;
    decisions_and_transfers_are_kept_in_order(db).await;
    recycling_is_scheduled_from_the_last_follow_up(db).await;
    hand_over_finds_customers_and_pending_leads(db).await;
}

fn team(id: &str, parent: &str) -> TeamDraft {
    TeamDraft {
        team_id: id.into(),
        name: format!("Team {id}"),
        parent_team_id: parent.into(),
        manager_rep_id: String::new(),
    }
}

async fn teams_form_a_tree(db: &Db) {
    let mut tx = db.begin().await.unwrap();
    let (sales, created) = teams::save(&mut tx, T, &team("sales", ""), &[], 1)
        .await
        .unwrap();
    assert!(created);
    assert_eq!((sales.version, sales.ancestors.len()), (1, 0));
    let (east, _) = teams::save(&mut tx, T, &team("east", "sales"), &["sales".into()], 2)
        .await
        .unwrap();
    assert_eq!(east.ancestors, vec!["sales"]);
    let (again, created) = teams::save(&mut tx, T, &team("east", "sales"), &["sales".into()], 3)
        .await
        .unwrap();
    assert!(!created);
    assert_eq!(again.version, 2, "every save is a new version");
    teams::set_ancestors(&mut tx, T, "east", &["hq".into(), "sales".into()], 4)
        .await
        .unwrap();
    teams::save(&mut tx, OTHER, &team("east", ""), &[], 1)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let east = teams::get(db.reader(), T, "east").await.unwrap().unwrap();
    assert_eq!((east.ancestors.len(), east.version), (2, 3));
    assert_eq!(teams::list(db.reader(), T).await.unwrap().len(), 2);
    let theirs = teams::get(db.reader(), OTHER, "east")
        .await
        .unwrap()
        .unwrap();
    assert!(theirs.ancestors.is_empty(), "tenants never share teams");
}

fn rule(id: &str, position: u32) -> AssignmentRule {
    AssignmentRule {
        rule_id: id.into(),
        name: id.into(),
        position,
        enabled: true,
        conditions: Conditions {
            regions: vec!["华东".into()],
            grades: vec!["A".into()],
            ..Conditions::default()
        },
        target_team: "east".into(),
        target_tier: "senior".into(),
        strategy: Strategy::WeightedByCapacity,
        version: 0,
    }
}

async fn rules_keep_their_order(db: &Db) {
    let mut tx = db.begin().await.unwrap();
    assert!(rules::save(&mut tx, T, &rule("b", 2), 1).await.unwrap());
    assert!(rules::save(&mut tx, T, &rule("a", 1), 1).await.unwrap());
    assert!(rules::save(&mut tx, T, &rule("c", 3), 1).await.unwrap());
    assert!(!rules::save(&mut tx, T, &rule("c", 3), 2).await.unwrap());
    tx.commit().await.unwrap();
    let listed = rules::list(db.reader(), T).await.unwrap();
    let ids: Vec<&str> = listed.iter().map(|r| r.rule_id.as_str()).collect();
    assert_eq!(ids, vec!["a", "b", "c"]);
    assert_eq!(
        listed[0].conditions,
        rule("a", 1).conditions,
        "conditions round-trip"
    );
    assert_eq!(listed[0].strategy, Strategy::WeightedByCapacity);
    assert_eq!(listed[2].version, 2);

    let mut tx = db.begin().await.unwrap();
    rules::set_order(&mut tx, T, &["c".into(), "a".into(), "b".into()])
        .await
        .unwrap();
    assert!(rules::delete(&mut tx, T, "a").await.unwrap());
    assert!(!rules::delete(&mut tx, T, "a").await.unwrap());
    tx.commit().await.unwrap();
    let ids: Vec<String> = rules::list(db.reader(), T)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.rule_id)
        .collect();
    assert_eq!(ids, vec!["c", "b"]);
    assert!(rules::list(db.reader(), OTHER).await.unwrap().is_empty());
}

fn entry(id: &str, auto_assign: bool, at: i64) -> PoolEntry {
    PoolEntry {
        entry_id: id.into(),
        kind: pool::KIND_LEAD.into(),
        lead_id: format!("lead-{id}"),
        customer_id: "cus_1".into(),
        team: "east".into(),
        reason: "nobody free".into(),
        auto_assign,
        lead_event: vec![1, 2, 3],
        pooled_at: at,
        ..PoolEntry::default()
    }
}

async fn the_pool_hands_each_entry_out_once(db: &Db) {
    let mut tx = db.begin().await.unwrap();
    pool::insert(&mut tx, T, &entry("p2", true, 20))
        .await
        .unwrap();
    pool::insert(&mut tx, T, &entry("p1", false, 10))
        .await
        .unwrap();
    pool::insert(&mut tx, T, &entry("p3", true, 30))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let all: Vec<String> = pool::waiting(db.reader(), T, false, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.entry_id)
        .collect();
    assert_eq!(all, vec!["p1", "p2", "p3"], "oldest first");
    let auto = pool::waiting(db.reader(), T, true, 1).await.unwrap();
    assert_eq!(auto, vec![entry("p2", true, 20)], "round-trips; auto only");

    let mut tx = db.begin().await.unwrap();
    assert!(pool::take(&mut tx, T, "p2", "r1", 40).await.unwrap());
    assert!(
        !pool::take(&mut tx, T, "p2", "r2", 41).await.unwrap(),
        "taken once"
    );
    tx.commit().await.unwrap();
    assert!(
        pool::get_waiting(db.reader(), T, "p2")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        pool::get_waiting(db.reader(), T, "p3")
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        pool::get_waiting(db.reader(), OTHER, "p3")
            .await
            .unwrap()
            .is_none()
    );
}

async fn decisions_and_transfers_are_kept_in_order(db: &Db) {
    let audit = Audit {
        rules: vec![RuleEvaluation {
            rule_id: "a".into(),
            name: "A".into(),
            position: 1,
            matched: true,
            detail: "matched".into(),
        }],
        matched_rule: "a".into(),
        strategy: "round_robin".into(),
        candidates: vec![CandidateLoad {
            rep_id: "r1".into(),
            open: 3,
            max_open: 10,
            eligible: true,
            ..CandidateLoad::default()
        }],
    };
    let first = DecisionRecord {
        decision_id: "dec_1".into(),
        lead_id: "lead_9".into(),
        customer_id: "cus_9".into(),
        trigger: "qualified".into(),
        rep_id: String::new(),
        pooled: true,
        pool_team: "east".into(),
        rule: "pool".into(),
        reason: "nobody free".into(),
        audit,
        decided_at: 100,
    };
    let second = DecisionRecord {
        decision_id: "dec_2".into(),
        trigger: "pool_drain".into(),
        rep_id: "r1".into(),
        pooled: false,
        pool_team: String::new(),
        decided_at: 200,
        ..first.clone()
    };
    let transfer = Transfer {
        transfer_id: "xfer_1".into(),
        customer_id: "cus_9".into(),
        from_rep_id: "r1".into(),
        to_rep_id: String::new(),
        team: "east".into(),
        reason: "recycled".into(),
        rule: "recycling-policy".into(),
        note: "no follow-up".into(),
        opportunity_ids: vec!["opp_9".into()],
        lead_ids: vec![],
        transferred_at: 300,
    };
    let mut tx = db.begin().await.unwrap();
    decisions::insert(&mut tx, T, &second).await.unwrap();
    decisions::insert(&mut tx, T, &first).await.unwrap();
    transfers::insert(&mut tx, T, &transfer).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        decisions::for_lead(db.reader(), T, "lead_9").await.unwrap(),
        vec![first, second]
    );
    assert!(
        decisions::for_lead(db.reader(), OTHER, "lead_9")
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        transfers::list(db.reader(), T, "cus_9", "").await.unwrap(),
        vec![transfer.clone()]
    );
    assert_eq!(
        transfers::list(db.reader(), T, "", "opp_9").await.unwrap(),
        vec![transfer]
    );
    assert!(
        transfers::list(db.reader(), T, "", "opp_")
            .await
            .unwrap()
            .is_empty(),
        "whole ids only"
    );
}

async fn recycling_is_scheduled_from_the_last_follow_up(db: &Db) {
    let open = |id: &'static str, at: i64| Opened {
        opportunity_id: id,
        rep_id: "r1",
        customer_id: "cus_r",
        lead_id: "",
        team: "east",
        at,
    };
    let mut tx = db.begin().await.unwrap();
    opportunities::opened(&mut tx, T, open("opp_r1", 0))
        .await
        .unwrap();
    opportunities::opened(&mut tx, T, open("opp_r2", 0))
        .await
        .unwrap();
    opportunities::reschedule_all(&mut tx, T).await.unwrap();
    tx.commit().await.unwrap();
    let none = opportunities::recycle_due(db.reader(), 100 * DAY_MS, 10)
        .await
        .unwrap();
    assert!(none.is_empty(), "no policy: never recycled");

    let mut tx = db.begin().await.unwrap();
    let policy = policies::save(&mut tx, T, 7, true, 1).await.unwrap();
    assert_eq!(
        (policy.no_follow_up_days, policy.enabled, policy.version),
        (7, true, 1)
    );
    assert_eq!(opportunities::reschedule_all(&mut tx, T).await.unwrap(), 2);
    opportunities::touched(&mut tx, T, "opp_r2", 3 * DAY_MS)
        .await
        .unwrap();
    opportunities::touched(&mut tx, T, "opp_r2", DAY_MS)
        .await
        .unwrap();
    opportunities::reschedule_one(&mut tx, T, "opp_r2")
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let due = opportunities::recycle_due(db.reader(), 7 * DAY_MS, 10)
        .await
        .unwrap();
    let ids: Vec<&str> = due.iter().map(|o| o.opportunity_id.as_str()).collect();
    assert_eq!(
        ids,
        vec!["opp_r1"],
        "opp_r2 was followed up on day 3 (an older touch does not count)"
    );
    assert_eq!(
        (due[0].customer_id.as_str(), due[0].team.as_str()),
        ("cus_r", "east")
    );
    let due: Vec<String> = opportunities::recycle_due(db.reader(), 10 * DAY_MS, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.opportunity_id)
        .collect();
    assert_eq!(due, vec!["opp_r1", "opp_r2"]);

    // Opened under a policy, an opportunity is scheduled by its opening alone.
    let mut tx = db.begin().await.unwrap();
    opportunities::opened(&mut tx, T, open("opp_r3", 2 * DAY_MS))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let due: Vec<String> = opportunities::recycle_due(db.reader(), 9 * DAY_MS, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.opportunity_id)
        .collect();
    assert_eq!(due, vec!["opp_r1", "opp_r3"], "opp_r3: day 2 + 7 days");

    let mut tx = db.begin().await.unwrap();
    assert!(
        opportunities::take_due(&mut tx, T, "opp_r1", 10 * DAY_MS)
            .await
            .unwrap()
    );
    assert!(
        !opportunities::take_due(&mut tx, T, "opp_r1", 10 * DAY_MS)
            .await
            .unwrap()
    );
    opportunities::move_to(&mut tx, T, "opp_r1", "", 10 * DAY_MS)
        .await
        .unwrap();
    opportunities::closed(&mut tx, T, "opp_r2", "r1", 10 * DAY_MS)
        .await
        .unwrap();
    opportunities::closed(&mut tx, T, "opp_r3", "r1", 10 * DAY_MS)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let none = opportunities::recycle_due(db.reader(), 1000 * DAY_MS, 10)
        .await
        .unwrap();
    assert!(
        none.is_empty(),
        "pooled and closed opportunities are never due"
    );
    assert!(
        opportunities::get(db.reader(), T, "opp_r2")
            .await
            .unwrap()
            .is_none(),
        "closed"
    );
    let pooled = opportunities::get(db.reader(), T, "opp_r1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(pooled.rep_id, "", "in the pool");
}

async fn hand_over_finds_customers_and_pending_leads(db: &Db) {
    let record = |lead: &str, customer: &str| AssignmentRecord {
        lead_id: lead.into(),
        customer_id: customer.into(),
        rep_id: Some("h1".into()),
        team: "east".into(),
        rule: "round-robin:east".into(),
        reason: "turn".into(),
        candidates: vec!["h1".into()],
        pooled: false,
        decided_at: 1,
    };
    let mut tx = db.begin().await.unwrap();
    owners::set(&mut tx, T, "cus_b", "h1", 1).await.unwrap();
    owners::set(&mut tx, T, "cus_a", "h1", 1).await.unwrap();
    owners::set(&mut tx, T, "cus_c", "h2", 1).await.unwrap();
    assignments::insert(&mut tx, T, &record("lead_a", "cus_a"))
        .await
        .unwrap();
    assignments::insert(&mut tx, T, &record("lead_b", "cus_b"))
        .await
        .unwrap();
    let opened = Opened {
        opportunity_id: "opp_b",
        rep_id: "h1",
        customer_id: "cus_b",
        lead_id: "lead_b",
        team: "east",
        at: 1,
    };
    opportunities::opened(&mut tx, T, opened).await.unwrap();
    reps::record_claim(&mut tx, T, "h1", 0).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        owners::owned_by(db.reader(), T, "h1").await.unwrap(),
        vec!["cus_a", "cus_b"]
    );
    assert_eq!(
        assignments::pending_leads_of(db.reader(), T, "h1")
            .await
            .unwrap(),
        vec![("lead_a".to_owned(), "cus_a".to_owned())],
        "lead_b became an opportunity"
    );
    let open = opportunities::open_of_rep(db.reader(), T, "h1")
        .await
        .unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].lead_id, "lead_b");

    let mut tx = db.begin().await.unwrap();
    owners::release(&mut tx, T, "cus_a").await.unwrap();
    let moved = AssignmentRecord {
        rep_id: Some("h2".into()),
        ..record("lead_a", "cus_a")
    };
    assignments::reassign(&mut tx, T, &moved).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        owners::owned_by(db.reader(), T, "h1").await.unwrap(),
        vec!["cus_b"]
    );
    let now = assignments::get(db.reader(), T, "lead_a")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(now.rep_id.as_deref(), Some("h2"));
}
