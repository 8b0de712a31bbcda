//! Approvals: a per-tenant rule ("a discount over 15 % needs the team manager"), the gate
//! that waits for the decision, who may decide, and the history of who decided when. On
//! SQLite and on PostgreSQL.

mod support;

use shangji_contracts::pipeline::{
    AdvanceStageRequest, ApprovalRule, ApprovalStatus, ApproverKind, CloseOpportunityRequest,
    CloseOutcome, DecideRequest, Decision, GetOpportunityRequest, ListApprovalRulesRequest,
    ReopenOpportunityRequest, RequestApprovalRequest, RequiredApproval, StageDefinition, StageGate,
    UpsertApprovalRuleRequest, UpsertPipelineRequest,
};
use support::{
    Backend, Harness, REPS, TEAMS, bad_fields, open_opportunity, precondition_violations,
    publish_org, request_as, wait_until_visible,
};
use tonic::Code;

const TENANT: &str = "acme";

#[tokio::test]
async fn approvals_on_sqlite() {
    approvals(Backend::Sqlite).await;
}

#[tokio::test]
async fn approvals_on_postgres() {
    approvals(Backend::Postgres).await;
}

fn discount_rule() -> UpsertApprovalRuleRequest {
    UpsertApprovalRuleRequest {
        idempotency_key: "rule-1".into(),
        rule: Some(ApprovalRule {
            rule_id: "discount-over-15".into(),
            approval_type: "discount".into(),
            discount_over_percent: 15.0,
            amount_over: 0.0,
            approver: ApproverKind::TeamManager as i32,
            approver_rep_ids: vec![],
        }),
    }
}

fn advance(id: &str, key: &str) -> AdvanceStageRequest {
    AdvanceStageRequest {
        idempotency_key: key.into(),
        opportunity_id: id.into(),
        to_stage: "negotiation".into(),
        ..AdvanceStageRequest::default()
    }
}

fn ask(id: &str, key: &str, discount: f64) -> RequestApprovalRequest {
    RequestApprovalRequest {
        idempotency_key: key.into(),
        opportunity_id: id.into(),
        approval_type: "discount".into(),
        discount_percent: discount,
        amount: 450_000.0,
        note: "客户要求折扣".into(),
    }
}

fn decide(approval_id: &str, key: &str, decision: Decision) -> DecideRequest {
    DecideRequest {
        idempotency_key: key.into(),
        approval_id: approval_id.into(),
        decision: decision as i32,
        note: "ok for this customer".into(),
    }
}

async fn approvals(backend: Backend) {
    let h = Harness::start_on(backend).await;
    let mut client = h.client().await;
    let west = open_opportunity(&h, TENANT, "lead_w", "cus_w", "zhao", "west")
        .await
        .opportunity_id;
    // A second one, so that "wu sees only west" cannot hold before the org arrives.
    open_opportunity(&h, TENANT, "lead_e", "cus_e", "wang", "east").await;
    publish_org(&h, TENANT, &TEAMS, &REPS).await;
    wait_until_visible(&h, TENANT, "wu", &[west]).await;

    // Admins set the rule and a pipeline whose negotiation waits for the discount.
    let status = client
        .upsert_approval_rule(request_as(TENANT, "wang", discount_rule()))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    client
        .upsert_approval_rule(request_as(TENANT, "root", discount_rule()))
        .await
        .unwrap();
    let mut bad = discount_rule();
    bad.rule.as_mut().unwrap().discount_over_percent = 150.0;
    bad.rule.as_mut().unwrap().approver = ApproverKind::Named as i32;
    let status = client
        .upsert_approval_rule(request_as(TENANT, "root", bad))
        .await
        .unwrap_err();
    assert_eq!(
        bad_fields(&status),
        ["rule.discount_over_percent", "rule.approver"]
    );
    let rules = client
        .list_approval_rules(request_as(TENANT, "wang", ListApprovalRulesRequest {}))
        .await
        .unwrap()
        .into_inner()
        .rules;
    assert_eq!(rules.len(), 1);
    let gate = StageGate {
        required_approvals: vec![RequiredApproval {
            approval_type: "discount".into(),
            label_zh: "折扣".into(),
            label_en: "discount".into(),
        }],
        ..StageGate::default()
    };
    client
        .upsert_pipeline(request_as(
            TENANT,
            "root",
            UpsertPipelineRequest {
                idempotency_key: "p-1".into(),
                pipeline_id: "shanghai".into(),
                name: "上海".into(),
                team: "east_sh".into(),
                stages: vec![
                    StageDefinition {
                        name: "contact".into(),
                        win_probability: 0.1,
                        gate: None,
                    },
                    StageDefinition {
                        name: "negotiation".into(),
                        win_probability: 0.7,
                        gate: Some(gate),
                    },
                ],
            },
        ))
        .await
        .unwrap();
    let opp = open_opportunity(&h, TENANT, "lead_1", "cus_1", "wang", "east_sh")
        .await
        .opportunity_id;

    // No request yet: the gate says to ask.
    let status = client
        .advance_stage(request_as(TENANT, "wang", advance(&opp, "adv-1")))
        .await
        .unwrap_err();
    let missing = precondition_violations(&status);
    assert_eq!(
        (missing[0].0.as_str(), missing[0].1.as_str()),
        ("APPROVAL", "discount")
    );
    assert!(
        missing[0].2.contains("request discount approval"),
        "{missing:?}"
    );

    // Nor does reopening a lost deal further than where it was lost skip the gate.
    let lost = open_opportunity(&h, TENANT, "lead_lost", "cus_lost", "wang", "east_sh")
        .await
        .opportunity_id;
    client
        .close_opportunity(request_as(
            TENANT,
            "wang",
            CloseOpportunityRequest {
                idempotency_key: "lose-2".into(),
                opportunity_id: lost.clone(),
                outcome: CloseOutcome::Lost as i32,
                lost_reason: "price".into(),
                note: "预算冻结".into(),
                amount: None,
            },
        ))
        .await
        .unwrap();
    let reopen = |key: &str, to_stage: &str| ReopenOpportunityRequest {
        idempotency_key: key.into(),
        opportunity_id: lost.clone(),
        to_stage: to_stage.into(),
        reason: "budget is back".into(),
    };
    let status = client
        .reopen_opportunity(request_as(TENANT, "wang", reopen("re-1", "negotiation")))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    assert!(status.message().contains("discount"), "{status:?}");
    // Back where it was lost, no gate is crossed.
    let reopened = client
        .reopen_opportunity(request_as(TENANT, "wang", reopen("re-2", "")))
        .await
        .unwrap()
        .into_inner()
        .opportunity
        .unwrap();
    assert_eq!(reopened.stage, "contact");

    // 25 % needs the manager; the gate waits for the decision.
    let first = client
        .request_approval(request_as(TENANT, "wang", ask(&opp, "ask-1", 25.0)))
        .await
        .unwrap()
        .into_inner()
        .approval
        .unwrap();
    assert_eq!(first.status, ApprovalStatus::Pending as i32);
    assert_eq!(first.rule_id, "discount-over-15");
    let status = client
        .advance_stage(request_as(TENANT, "wang", advance(&opp, "adv-2")))
        .await
        .unwrap_err();
    assert!(
        precondition_violations(&status)[0]
            .2
            .contains("waiting for a decision")
    );

    // Neither the requester, another rep, nor another team's manager may decide.
    for user in ["wang", "li", "wu"] {
        let status = client
            .decide(request_as(
                TENANT,
                user,
                decide(&first.approval_id, &format!("d-{user}"), Decision::Approve),
            ))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::PermissionDenied, "{user}: {status:?}");
    }
    // The east manager (above east_sh) rejects; the gate says so.
    let rejected = client
        .decide(request_as(
            TENANT,
            "zhou",
            decide(&first.approval_id, "d-zhou-1", Decision::Reject),
        ))
        .await
        .unwrap()
        .into_inner()
        .approval
        .unwrap();
    assert_eq!(rejected.status, ApprovalStatus::Rejected as i32);
    assert_eq!(rejected.decided_by, "zhou");
    let status = client
        .advance_stage(request_as(TENANT, "wang", advance(&opp, "adv-3")))
        .await
        .unwrap_err();
    assert!(precondition_violations(&status)[0].2.contains("rejected"));
    let status = client
        .decide(request_as(
            TENANT,
            "zhou",
            decide(&first.approval_id, "d-zhou-2", Decision::Approve),
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition, "decided once");

    // A new request at 18 %, approved by the manager's manager, opens the gate.
    let second = client
        .request_approval(request_as(TENANT, "wang", ask(&opp, "ask-2", 18.0)))
        .await
        .unwrap()
        .into_inner()
        .approval
        .unwrap();
    let decision = decide(&second.approval_id, "d-boss", Decision::Approve);
    let approved = client
        .decide(request_as(TENANT, "boss", decision.clone()))
        .await
        .unwrap()
        .into_inner();
    let retried = client
        .decide(request_as(TENANT, "boss", decision))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(retried, approved, "a retry returns the first answer");
    let moved = client
        .advance_stage(request_as(TENANT, "wang", advance(&opp, "adv-4")))
        .await
        .unwrap()
        .into_inner()
        .opportunity
        .unwrap();
    assert_eq!(moved.stage, "negotiation");

    // The history shows who asked, who decided, and when; the approvals are listed.
    let got = client
        .get_opportunity(request_as(
            TENANT,
            "wang",
            GetOpportunityRequest {
                opportunity_id: opp.clone(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    let trail: Vec<_> = got
        .history
        .iter()
        .filter(|e| e.field == "approval.discount")
        .map(|e| (e.new_value.as_str(), e.user_id.as_str()))
        .collect();
    assert_eq!(
        trail,
        [
            ("pending", "wang"),
            ("rejected", "zhou"),
            ("pending", "wang"),
            ("approved", "boss")
        ]
    );
    assert!(got.history.iter().all(|e| e.at.is_some()));
    assert_eq!(got.approvals.len(), 2);
    assert_eq!(
        got.approvals[0].approval_id, second.approval_id,
        "newest first"
    );
    assert!(got.approvals[0].decided_at.is_some());

    // Under the threshold no decision is needed: approved by policy at once.
    let other = open_opportunity(&h, TENANT, "lead_2", "cus_2", "li", "east_sh")
        .await
        .opportunity_id;
    let small = client
        .request_approval(request_as(TENANT, "li", ask(&other, "ask-3", 10.0)))
        .await
        .unwrap()
        .into_inner()
        .approval
        .unwrap();
    assert_eq!(small.status, ApprovalStatus::Approved as i32);
    assert_eq!(small.decided_by, "policy");
    client
        .advance_stage(request_as(TENANT, "li", advance(&other, "adv-5")))
        .await
        .unwrap();
}
