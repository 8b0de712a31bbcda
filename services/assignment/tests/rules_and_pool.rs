//! Issue 4 through gRPC and real NATS: the org tree and its events, ordered rules with
//! every strategy, capacity and the pool (automatic placement and claims), the audit
//! (`ExplainAssignment`) and round-robin fairness over thousands of leads.

mod support;

use std::collections::BTreeMap;

use shangji_contracts::assignment::*;
use shangji_contracts::common::Lead;
use shangji_contracts::events::lead::{LeadPooled, LeadQualified};
use shangji_contracts::events::opportunity::{OpportunityCreated, OpportunityWon};
use shangji_contracts::events::org::{RepUpserted, TeamUpserted};
use shangji_contracts::events::{Domain, Event};
use support::{Harness, POLL, WAIT, next_of, request};
use tonic::Code;

const ACME: &str = "acme";

fn team(id: &str, parent: &str) -> UpsertTeamRequest {
    UpsertTeamRequest {
        idempotency_key: format!("team-{id}-{parent}"),
        team: Some(Team {
            team_id: id.into(),
            name: format!("Team {id}"),
            parent_team_id: parent.into(),
            ..Team::default()
        }),
    }
}

fn profile(id: &str, team: &str, tier: &str) -> RepProfile {
    RepProfile {
        rep_id: id.into(),
        name: format!("Rep {id}"),
        team_id: team.into(),
        skill_tier: tier.into(),
        status: WorkingStatus::Active as i32,
        ..RepProfile::default()
    }
}

async fn save_rep(h: &mut Harness, rep: RepProfile) -> UpsertRepProfileResponse {
    h.client
        .upsert_rep_profile(request(
            ACME,
            UpsertRepProfileRequest {
                idempotency_key: format!(
                    "{}-{}-{}",
                    rep.rep_id, rep.status, rep.max_open_opportunities
                ),
                profile: Some(rep),
            },
        ))
        .await
        .unwrap()
        .into_inner()
}

fn lead(lead_id: &str, region: &str, grade: &str, source: &str) -> LeadQualified {
    LeadQualified {
        lead_id: lead_id.into(),
        customer_id: format!("cus_{lead_id}"),
        grade: grade.into(),
        score: 80.0,
        lead: Some(Lead {
            company: "华为".into(),
            region: region.into(),
            industry: "制造".into(),
            source: source.into(),
            ..Lead::default()
        }),
        ..LeadQualified::default()
    }
}

fn rule(
    id: &str,
    conditions: RuleConditions,
    team: &str,
    tier: &str,
    strategy: AssignmentStrategy,
) -> UpsertRuleRequest {
    UpsertRuleRequest {
        idempotency_key: format!("rule-{id}"),
        rule: Some(AssignmentRule {
            rule_id: id.into(),
            enabled: true,
            conditions: Some(conditions),
            target_team_id: team.into(),
            target_skill_tier: tier.into(),
            strategy: strategy as i32,
            ..AssignmentRule::default()
        }),
    }
}

async fn explain(h: &mut Harness, lead_id: &str) -> Vec<AssignmentDecision> {
    h.client
        .explain_assignment(request(
            ACME,
            ExplainAssignmentRequest {
                lead_id: lead_id.into(),
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .decisions
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_org_is_a_tree_and_every_change_is_published() {
    let mut h = Harness::start().await.unwrap();
    let mut org = h
        .watch(
            Domain::Org,
            vec![TeamUpserted::subject(), RepUpserted::subject()],
        )
        .await
        .unwrap();
    for request_ in [
        team("sales", ""),
        team("east", "sales"),
        team("east-1", "east"),
    ] {
        h.client.upsert_team(request(ACME, request_)).await.unwrap();
    }
    let mut published = Vec::new();
    for _ in 0..3 {
        published.push(next_of::<TeamUpserted>(&mut org).await.unwrap());
    }
    assert_eq!(published[2].team_id, "east-1");
    assert_eq!(published[2].ancestor_team_ids, vec!["sales", "east"]);
    assert_eq!(published[2].version, 1);

    // A retry returns the first answer and publishes nothing new.
    let again = h
        .client
        .upsert_team(request(ACME, team("east-1", "east")))
        .await
        .unwrap()
        .into_inner();
    assert!(again.created, "the replayed answer");

    let mut manager = profile("m1", "east-1", "senior");
    manager.role = RepRole::Manager as i32;
    manager.email = "m1@example.com".into();
    assert!(save_rep(&mut h, manager).await.created);
    let rep = next_of::<RepUpserted>(&mut org).await.unwrap();
    assert_eq!(
        (
            rep.rep_id.as_str(),
            rep.role.as_str(),
            rep.status.as_str(),
            rep.version
        ),
        ("m1", "manager", "active", 1)
    );
    assert_eq!(rep.team_path, vec!["sales", "east", "east-1"]);

    // Moving east under a new department re-publishes its subtree and its reps.
    h.client
        .upsert_team(request(ACME, team("hq", "")))
        .await
        .unwrap();
    h.client
        .upsert_team(request(ACME, team("sales", "hq")))
        .await
        .unwrap();
    let hq = next_of::<TeamUpserted>(&mut org).await.unwrap();
    assert_eq!(hq.team_id, "hq");
    let mut moved = BTreeMap::new();
    for _ in 0..3 {
        let t = next_of::<TeamUpserted>(&mut org).await.unwrap();
        moved.insert(t.team_id.clone(), t.ancestor_team_ids);
    }
    assert_eq!(moved["east-1"], vec!["hq", "sales", "east"]);
    let rep = next_of::<RepUpserted>(&mut org).await.unwrap();
    assert_eq!(rep.team_path, vec!["hq", "sales", "east", "east-1"]);

    let listed = h
        .client
        .list_teams(request(
            ACME,
            ListTeamsRequest {
                root_team_id: "sales".into(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    let ids: Vec<&str> = listed.teams.iter().map(|t| t.team_id.as_str()).collect();
    assert_eq!(ids, vec!["sales", "east", "east-1"], "depth first");

    // A cycle and a missing parent are refused, naming what to fix.
    let cycle = h
        .client
        .upsert_team(request(ACME, team("sales", "east-1")))
        .await
        .unwrap_err();
    assert_eq!(cycle.code(), Code::InvalidArgument);
    assert!(
        cycle.message().contains("team.parent_team_id"),
        "{}",
        cycle.message()
    );
    let orphan = h
        .client
        .upsert_team(request(ACME, team("x", "nowhere")))
        .await
        .unwrap_err();
    assert_eq!(orphan.code(), Code::FailedPrecondition);
    let bad = h
        .client
        .upsert_rep_profile(request(
            ACME,
            UpsertRepProfileRequest {
                idempotency_key: String::new(),
                profile: Some(RepProfile {
                    email: "nope".into(),
                    ..profile("", "east", "")
                }),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert!(
        bad.message().contains("profile.rep_id") && bad.message().contains("profile.email"),
        "{}",
        bad.message()
    );
    h.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rules_decide_capacity_pools_and_every_decision_is_explained() {
    rules_capacity_pool_and_audit(Harness::start().await.unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rules_decide_capacity_pools_and_every_decision_is_explained_on_postgres() {
    if let Some(h) = Harness::start_on_postgres().await.unwrap() {
        rules_capacity_pool_and_audit(h).await;
    }
}

async fn rules_capacity_pool_and_audit(mut h: Harness) {
    h.client
        .upsert_team(request(ACME, team("east", "")))
        .await
        .unwrap();
    h.client
        .upsert_team(request(ACME, team("west", "")))
        .await
        .unwrap();
    let mut senior = profile("s1", "east", "senior");
    senior.max_open_opportunities = 1;
    save_rep(&mut h, senior).await;
    let mut junior = profile("j1", "east", "junior");
    junior.daily_claim_limit = 1;
    save_rep(&mut h, junior).await;
    save_rep(&mut h, profile("w1", "west", "")).await;
    save_rep(&mut h, profile("w2", "west", "")).await;

    let grade_a = RuleConditions {
        grades: vec!["A".into()],
        regions: vec!["华东".into()],
        ..RuleConditions::default()
    };
    let expo = RuleConditions {
        sources: vec!["expo".into()],
        ..RuleConditions::default()
    };
    for r in [
        rule(
            "east-a",
            grade_a,
            "east",
            "senior",
            AssignmentStrategy::RoundRobin,
        ),
        rule("expo", expo, "east", "", AssignmentStrategy::ToPool),
        rule(
            "rest",
            RuleConditions::default(),
            "west",
            "",
            AssignmentStrategy::LeastLoaded,
        ),
    ] {
        h.client.upsert_rule(request(ACME, r)).await.unwrap();
    }
    let rules = h
        .client
        .list_rules(request(ACME, ListRulesRequest {}))
        .await
        .unwrap()
        .into_inner()
        .rules;
    let order: Vec<(&str, u32)> = rules
        .iter()
        .map(|r| (r.rule_id.as_str(), r.position))
        .collect();
    assert_eq!(order, vec![("east-a", 1), ("expo", 2), ("rest", 3)]);

    // Grade A in 华东: the senior tier of east.
    h.publish(ACME, "l1", &lead("l1", "华东", "A", "web"))
        .await
        .unwrap();
    let (_, a) = h.next_assigned().await.unwrap();
    assert_eq!(
        (a.rep_id.as_str(), a.rule.as_str()),
        ("s1", "rule:east-a:round_robin")
    );
    // Grade B: east-a and expo do not match; rest sends it west, least loaded.
    h.publish(ACME, "l2", &lead("l2", "华东", "B", "web"))
        .await
        .unwrap();
    let (_, b) = h.next_assigned().await.unwrap();
    assert_eq!(
        (b.rep_id.as_str(), b.rule.as_str()),
        ("w1", "rule:rest:least_loaded")
    );
    let decisions = explain(&mut h, "l2").await;
    assert_eq!(decisions.len(), 1);
    let seen: Vec<(&str, bool, &str)> = decisions[0]
        .rules
        .iter()
        .map(|r| (r.rule_id.as_str(), r.matched, r.detail.as_str()))
        .collect();
    assert_eq!(
        seen,
        vec![
            ("east-a", false, "grade B is not one of A"),
            ("expo", false, "source web is not one of expo"),
            ("rest", true, "matched")
        ]
    );
    let candidates: Vec<(&str, bool)> = decisions[0]
        .candidates
        .iter()
        .map(|c| (c.rep_id.as_str(), c.eligible))
        .collect();
    assert_eq!(candidates, vec![("w1", true), ("w2", true)]);
    assert_eq!(
        (
            decisions[0].strategy.as_str(),
            decisions[0].trigger.as_str()
        ),
        ("least_loaded", "qualified")
    );

    // The expo rule pools for claiming; j1 claims once, the daily limit stops a second claim.
    h.publish(ACME, "l3", &lead("l3", "华南", "C", "expo"))
        .await
        .unwrap();
    let pooled = h.next_event().await.unwrap();
    assert_eq!(pooled.event_type, LeadPooled::TYPE);
    h.publish(ACME, "l4", &lead("l4", "华南", "C", "expo"))
        .await
        .unwrap();
    h.next_event().await.unwrap();
    let pool = h
        .client
        .list_pool(request(
            ACME,
            ListPoolRequest {
                team_id: "east".into(),
                limit: 0,
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .entries;
    assert_eq!(pool.len(), 2);
    assert_eq!(
        (
            pool[0].lead_id.as_str(),
            pool[0].kind.as_str(),
            pool[0].auto_assign
        ),
        ("l3", "lead", false)
    );
    assert_eq!(
        (pool[0].region.as_str(), pool[0].grade.as_str()),
        ("华南", "C")
    );
    let claim = |entry: &str, key: &str| ClaimFromPoolRequest {
        idempotency_key: key.into(),
        entry_id: entry.into(),
        rep_id: "j1".into(),
    };
    let claimed = h
        .client
        .claim_from_pool(request(ACME, claim(&pool[0].entry_id, "c1")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (
            claimed.rep_id.as_str(),
            claimed.claims_today,
            claimed.daily_claim_limit
        ),
        ("j1", 1, 1)
    );
    let (_, c) = h.next_assigned().await.unwrap();
    assert_eq!(
        (c.lead_id.as_str(), c.rep_id.as_str(), c.rule.as_str()),
        ("l3", "j1", "pool-claim")
    );
    let retry = h
        .client
        .claim_from_pool(request(ACME, claim(&pool[0].entry_id, "c1")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(retry, claimed, "a retried claim returns the first answer");
    let over = h
        .client
        .claim_from_pool(request(ACME, claim(&pool[1].entry_id, "c2")))
        .await
        .unwrap_err();
    assert_eq!(over.code(), Code::FailedPrecondition);
    assert!(
        over.message().contains("already claimed 1 of 1"),
        "{}",
        over.message()
    );

    // s1 is full (one open opportunity): the next grade A lead waits in east's pool and
    // is placed as soon as s1's deal is won.
    let created = OpportunityCreated {
        opportunity_id: "opp_1".into(),
        customer_id: "cus_l1".into(),
        owner_rep_id: "s1".into(),
        lead_id: "l1".into(),
        ..OpportunityCreated::default()
    };
    h.publish(ACME, "l1", &created).await.unwrap();
    shangji_testkit::poll_until("s1 to count one open opportunity", WAIT, POLL, || {
        let mut client = h.client.clone();
        async move {
            let reps = client
                .list_rep_profiles(request(
                    ACME,
                    ListRepProfilesRequest {
                        team_id: "east".into(),
                        status: 0,
                    },
                ))
                .await
                .map_err(|e| e.to_string())?
                .into_inner()
                .reps;
            match reps
                .iter()
                .find(|r| r.profile.as_ref().is_some_and(|p| p.rep_id == "s1"))
            {
                Some(r) if r.open_opportunities == 1 => Ok(()),
                other => Err(format!("{other:?}")),
            }
        }
    })
    .await
    .unwrap();
    h.publish(ACME, "l5", &lead("l5", "华东", "A", "web"))
        .await
        .unwrap();
    let waiting = h.next_event().await.unwrap();
    assert_eq!(waiting.event_type, LeadPooled::TYPE);
    let won = OpportunityWon {
        opportunity_id: "opp_1".into(),
        customer_id: "cus_l1".into(),
        owner_rep_id: "s1".into(),
        ..OpportunityWon::default()
    };
    h.publish(ACME, "l1", &won).await.unwrap();
    let (_, placed) = h.next_assigned().await.unwrap();
    assert_eq!(
        (placed.lead_id.as_str(), placed.rep_id.as_str()),
        ("l5", "s1")
    );
    let history = explain(&mut h, "l5").await;
    let steps: Vec<(&str, bool, &str)> = history
        .iter()
        .map(|d| (d.trigger.as_str(), d.pooled, d.rep_id.as_str()))
        .collect();
    assert_eq!(
        steps,
        vec![("qualified", true, ""), ("pool_drain", false, "s1")]
    );
    assert!(
        history[0].candidates[0]
            .skipped_because
            .starts_with("at capacity"),
        "{:?}",
        history[0].candidates
    );
    let current = h
        .client
        .get_assignment(request(
            ACME,
            GetAssignmentRequest {
                lead_id: "l5".into(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((current.rep_id.as_str(), current.pooled), ("s1", false));

    // Reorder and delete: expo first, then gone.
    let reordered = h
        .client
        .reorder_rules(request(
            ACME,
            ReorderRulesRequest {
                idempotency_key: "o1".into(),
                rule_ids: vec!["expo".into(), "east-a".into(), "rest".into()],
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reordered.rules[0].rule_id, "expo");
    let partial = h
        .client
        .reorder_rules(request(
            ACME,
            ReorderRulesRequest {
                idempotency_key: "o2".into(),
                rule_ids: vec!["expo".into()],
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(partial.code(), Code::InvalidArgument);
    let deleted = h
        .client
        .delete_rule(request(
            ACME,
            DeleteRuleRequest {
                idempotency_key: "d1".into(),
                rule_id: "expo".into(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(deleted.deleted);
    let left = h
        .client
        .list_rules(request(ACME, ListRulesRequest {}))
        .await
        .unwrap()
        .into_inner()
        .rules;
    let order: Vec<(&str, u32)> = left
        .iter()
        .map(|r| (r.rule_id.as_str(), r.position))
        .collect();
    assert_eq!(order, vec![("east-a", 1), ("rest", 2)]);
    h.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_robin_is_fair_within_one_lead_over_two_thousand_leads() {
    let mut h = Harness::start().await.unwrap();
    for i in 1..=7 {
        save_rep(&mut h, profile(&format!("r{i}"), "east", "")).await;
    }
    // A rep outside the rule's team never takes part.
    save_rep(&mut h, profile("outsider", "west", "")).await;
    h.client
        .upsert_rule(request(
            ACME,
            rule(
                "east",
                RuleConditions::default(),
                "east",
                "",
                AssignmentStrategy::RoundRobin,
            ),
        ))
        .await
        .unwrap();
    const LEADS: u64 = 2000;
    for i in 0..LEADS {
        let id = format!("f{i}");
        h.publish(ACME, &id, &lead(&id, "华东", "B", "web"))
            .await
            .unwrap();
    }
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    for _ in 0..LEADS {
        let (_, assigned) = h.next_assigned().await.unwrap();
        *counts.entry(assigned.rep_id).or_default() += 1;
    }
    assert_eq!(counts.len(), 7, "{counts:?}");
    assert!(!counts.contains_key("outsider"));
    let (min, max) = (
        counts.values().min().unwrap(),
        counts.values().max().unwrap(),
    );
    assert!(max - min <= 1, "{counts:?}");
    assert_eq!(counts.values().sum::<u64>(), LEADS);
    h.stop().await.unwrap();
}
