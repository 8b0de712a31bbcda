//! Pipelines per team, stage gates, pipeline versions and field updates with history,
//! through gRPC and the bus, on SQLite and on PostgreSQL.

mod support;

use std::collections::BTreeMap;

use shangji_contracts::events::opportunity::{OpportunityStageChanged, OpportunityUpdated};
use shangji_contracts::pipeline::{
    AdvanceStageRequest, GetHistoryRequest, GetPipelineRequest, ListPipelinesRequest,
    LogActivityRequest, RequiredActivity, RequiredField, StageDefinition, StageGate,
    UpdateOpportunityRequest, UpsertPipelineRequest,
};
use shangji_contracts::time::from_millis;
use support::{Backend, Harness, bad_fields, open_opportunity, precondition_violations, request};

const TENANT: &str = "acme";

#[tokio::test]
async fn pipelines_gates_and_versions_on_sqlite() {
    pipelines_gates_and_versions(Backend::Sqlite).await;
}

#[tokio::test]
async fn pipelines_gates_and_versions_on_postgres() {
    pipelines_gates_and_versions(Backend::Postgres).await;
}

fn stage(name: &str, win_probability: f64, gate: Option<StageGate>) -> StageDefinition {
    StageDefinition {
        name: name.into(),
        win_probability,
        gate,
    }
}

/// "Budget and decision maker known, and a visit made, before proposal."
fn proposal_gate() -> StageGate {
    StageGate {
        required_fields: vec![
            RequiredField {
                field: "amount".into(),
                ..RequiredField::default()
            },
            RequiredField {
                field: "decision_maker".into(),
                label_zh: "决策人".into(),
                label_en: "decision maker".into(),
            },
        ],
        required_activities: vec![RequiredActivity {
            kind: "visit".into(),
            min_count: 1,
        }],
        ..StageGate::default()
    }
}

fn east_v1() -> UpsertPipelineRequest {
    UpsertPipelineRequest {
        idempotency_key: "east-v1".into(),
        pipeline_id: "east".into(),
        name: "华东销售流程".into(),
        team: "team_east".into(),
        stages: vec![
            stage("contact", 0.1, None),
            stage("proposal", 0.4, Some(proposal_gate())),
            stage("negotiation", 0.7, None),
        ],
    }
}

async fn pipelines_gates_and_versions(backend: Backend) {
    let h = Harness::start_on(backend).await;
    let mut client = h.client().await;

    // An admin defines the east team's pipeline; a retry and a repeat change nothing.
    let first = client
        .upsert_pipeline(request(TENANT, east_v1()))
        .await
        .unwrap()
        .into_inner();
    assert!(first.changed);
    let pipeline = first.pipeline.clone().unwrap();
    assert_eq!((pipeline.version, pipeline.team.as_str()), (1, "team_east"));
    let names: Vec<_> = pipeline.stages.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["contact", "proposal", "negotiation", "won", "lost"]);
    let retried = client
        .upsert_pipeline(request(TENANT, east_v1()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(retried, first);
    let mut again = east_v1();
    again.idempotency_key = "east-v1-again".into();
    let again = client
        .upsert_pipeline(request(TENANT, again))
        .await
        .unwrap()
        .into_inner();
    assert!(!again.changed, "the same definition makes no new version");
    assert_eq!(again.pipeline.unwrap().version, 1);

    // A bad definition names every bad part.
    let mut bad = east_v1();
    bad.idempotency_key = "bad".into();
    bad.pipeline_id = "East Team".into();
    bad.stages[0].win_probability = 2.0;
    bad.stages[1].gate.as_mut().unwrap().required_activities[0].kind = "lunch".into();
    bad.stages.push(stage("won", 1.0, None));
    let status = client
        .upsert_pipeline(request(TENANT, bad))
        .await
        .unwrap_err();
    assert_eq!(
        bad_fields(&status),
        [
            "stages[1].gate",
            "pipeline_id",
            "stages[0].win_probability",
            "stages[3].name"
        ]
    );

    // A lead of the east team opens in the east pipeline's first stage.
    let created = open_opportunity(&h, TENANT, "lead_1", "cus_1", "rep_wang", "team_east").await;
    assert_eq!(
        (created.pipeline_id.as_str(), created.stage.as_str()),
        ("east", "contact")
    );
    assert_eq!(created.stage_probability, 0.1);
    let opp_id = created.opportunity_id.clone();

    // Skipping proposal does not skip its gate: every missing item is listed.
    let status = client
        .advance_stage(request(
            TENANT,
            AdvanceStageRequest {
                idempotency_key: "adv-1".into(),
                opportunity_id: opp_id.clone(),
                to_stage: "negotiation".into(),
                ..AdvanceStageRequest::default()
            },
        ))
        .await
        .unwrap_err();
    let missing = precondition_violations(&status);
    let subjects: Vec<_> = missing
        .iter()
        .map(|(kind, subject, _)| (kind.as_str(), subject.as_str()))
        .collect();
    assert_eq!(
        subjects,
        [
            ("FIELD", "amount"),
            ("FIELD", "decision_maker"),
            ("ACTIVITY", "visit")
        ]
    );
    assert!(missing[1].2.contains("决策人") && missing[1].2.contains("decision maker"));
    assert!(missing[2].2.contains("拜访") && missing[2].2.contains("visit"));
    assert!(status.message().contains("3 item(s) missing"), "{status:?}");

    // The rep fills in the fields; each change is in the history with its old value.
    let close_at = 1_893_456_000_000; // 2030-01-01
    let updated = client
        .update_opportunity(request(
            TENANT,
            UpdateOpportunityRequest {
                idempotency_key: "upd-1".into(),
                opportunity_id: opp_id.clone(),
                amount: Some(800_000.0),
                expected_close_at: Some(from_millis(close_at)),
                fields: BTreeMap::from([("decision_maker".into(), "李总".into())]),
                note: "after the first call".into(),
                ..UpdateOpportunityRequest::default()
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .opportunity
        .unwrap();
    assert_eq!(updated.amount, 800_000.0);
    assert_eq!(updated.fields["decision_maker"], "李总");
    let (_, event) = h
        .wait_for::<OpportunityUpdated>("opportunity.updated", |e| e.opportunity_id == opp_id)
        .await;
    assert_eq!(
        event.changed_fields,
        ["amount", "expected_close_at", "fields.decision_maker"]
    );
    assert_eq!(event.expected_close_at, Some(from_millis(close_at)));
    let amounts = client
        .get_history(request(
            TENANT,
            GetHistoryRequest {
                opportunity_id: opp_id.clone(),
                field: "amount".into(),
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .entries;
    assert_eq!(amounts.len(), 1);
    assert_eq!(
        (
            amounts[0].old_value.as_str(),
            amounts[0].new_value.as_str(),
            amounts[0].user_id.as_str(),
            amounts[0].note.as_str()
        ),
        ("0", "800000", "wang", "after the first call")
    );
    assert!(amounts[0].at.is_some());
    let bad = client
        .update_opportunity(request(
            TENANT,
            UpdateOpportunityRequest {
                opportunity_id: opp_id.clone(),
                currency: Some("rmb".into()),
                amount: Some(-1.0),
                fields: BTreeMap::from([("Decision Maker".into(), "x".into())]),
                ..UpdateOpportunityRequest::default()
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(
        bad_fields(&bad),
        ["amount", "currency", "fields[Decision Maker]"]
    );

    // Still one visit short.
    let status = client
        .advance_stage(request(
            TENANT,
            AdvanceStageRequest {
                idempotency_key: "adv-2".into(),
                opportunity_id: opp_id.clone(),
                to_stage: "proposal".into(),
                ..AdvanceStageRequest::default()
            },
        ))
        .await
        .unwrap_err();
    let missing = precondition_violations(&status);
    assert_eq!(missing.len(), 1);
    assert_eq!(missing[0].1, "visit");

    client
        .log_activity(request(
            TENANT,
            LogActivityRequest {
                idempotency_key: "visit-1".into(),
                opportunity_id: opp_id.clone(),
                kind: "visit".into(),
                summary: "上门拜访李总".into(),
                ..LogActivityRequest::default()
            },
        ))
        .await
        .unwrap();
    let moved = client
        .advance_stage(request(
            TENANT,
            AdvanceStageRequest {
                idempotency_key: "adv-3".into(),
                opportunity_id: opp_id.clone(),
                to_stage: "proposal".into(),
                ..AdvanceStageRequest::default()
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .opportunity
        .unwrap();
    assert_eq!(moved.stage, "proposal");
    let (_, changed) = h
        .wait_for::<OpportunityStageChanged>("stage_changed to proposal", |e| {
            e.opportunity_id == opp_id && e.to_stage == "proposal"
        })
        .await;
    assert_eq!(
        (changed.to_stage_order, changed.to_stage_probability),
        (1, 0.4)
    );
    assert_eq!(changed.expected_close_at, Some(from_millis(close_at)));

    // Version 2 drops negotiation; the open opportunity keeps following version 1.
    let mut v2 = east_v1();
    v2.idempotency_key = "east-v2".into();
    v2.stages.remove(2);
    let v2 = client
        .upsert_pipeline(request(TENANT, v2))
        .await
        .unwrap()
        .into_inner();
    assert!(v2.changed);
    assert_eq!(v2.pipeline.unwrap().version, 2);
    let moved = client
        .advance_stage(request(
            TENANT,
            AdvanceStageRequest {
                idempotency_key: "adv-4".into(),
                opportunity_id: opp_id.clone(),
                to_stage: "negotiation".into(),
                ..AdvanceStageRequest::default()
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .opportunity
        .unwrap();
    assert_eq!(
        (moved.stage.as_str(), moved.pipeline_version),
        ("negotiation", 1)
    );
    let newer = open_opportunity(&h, TENANT, "lead_2", "cus_2", "rep_li", "team_east").await;
    assert_eq!(newer.pipeline_id, "east");
    let status = client
        .advance_stage(request(
            TENANT,
            AdvanceStageRequest {
                idempotency_key: "adv-5".into(),
                opportunity_id: newer.opportunity_id.clone(),
                to_stage: "negotiation".into(),
                ..AdvanceStageRequest::default()
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(
        bad_fields(&status),
        ["to_stage"],
        "version 2 has no negotiation"
    );

    // Other teams follow the default pipeline; both are listed.
    let west = open_opportunity(&h, TENANT, "lead_3", "cus_3", "rep_zhao", "team_west").await;
    assert_eq!(
        (west.pipeline_id.as_str(), west.stage.as_str()),
        ("default", "lead")
    );
    let listed = client
        .list_pipelines(request(TENANT, ListPipelinesRequest::default()))
        .await
        .unwrap()
        .into_inner()
        .pipelines;
    let ids: Vec<_> = listed
        .iter()
        .map(|p| (p.pipeline_id.as_str(), p.version))
        .collect();
    assert_eq!(ids, [("default", 1), ("east", 2)]);
    let east = client
        .get_pipeline(request(
            TENANT,
            GetPipelineRequest {
                pipeline_id: "east".into(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    let gate = east.stages[1].gate.clone().unwrap();
    assert_eq!(gate.required_fields.len(), 2);
    let missing = client
        .get_pipeline(request(
            TENANT,
            GetPipelineRequest {
                pipeline_id: "nope".into(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(missing.code(), tonic::Code::NotFound);
}
