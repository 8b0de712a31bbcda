//! Data permissions, proven by reading and writing across reps, teams and tenants: a rep
//! sees their own opportunities and their collaborations, a manager their team's
//! subtree, an admin the whole tenant. What a caller may not see is NOT_FOUND; set-up
//! changes by a non-admin are PERMISSION_DENIED. On SQLite and on PostgreSQL.

mod support;

use shangji_contracts::pipeline::{
    AddCollaboratorRequest, AdvanceStageRequest, GetHistoryRequest, GetOpportunityRequest,
    StageDefinition, UpsertPipelineRequest,
};
use support::{
    Backend, Harness, REPS, TEAMS, open_opportunity, publish_org, request_as, visible_ids,
    wait_until_visible,
};
use tonic::Code;

const TENANT: &str = "acme";

#[tokio::test]
async fn permissions_on_sqlite() {
    permissions(Backend::Sqlite).await;
}

#[tokio::test]
async fn permissions_on_postgres() {
    permissions(Backend::Postgres).await;
}

async fn permissions(backend: Backend) {
    let h = Harness::start_on(backend).await;
    let mut client = h.client().await;
    let wang = open_opportunity(&h, TENANT, "lead_w", "cus_w", "wang", "east_sh")
        .await
        .opportunity_id;
    let li = open_opportunity(&h, TENANT, "lead_l", "cus_l", "li", "east_sh")
        .await
        .opportunity_id;
    let zhao = open_opportunity(&h, TENANT, "lead_z", "cus_z", "zhao", "west")
        .await
        .opportunity_id;
    let elsewhere = open_opportunity(&h, "globex", "lead_x", "cus_x", "wang", "east_sh")
        .await
        .opportunity_id;

    // Before the organisation arrives, the tenant works as it always did.
    assert_eq!(visible_ids(&h, TENANT, "stranger").await.len(), 3);

    publish_org(&h, TENANT, &TEAMS, &REPS).await;
    wait_until_visible(&h, TENANT, "wu", std::slice::from_ref(&zhao)).await;

    // A rep sees their own; a manager the subtree; strangers and departed reps nothing.
    assert_eq!(
        visible_ids(&h, TENANT, "wang").await,
        std::slice::from_ref(&wang)
    );
    let mut east = vec![wang.clone(), li.clone()];
    east.sort();
    assert_eq!(visible_ids(&h, TENANT, "zhou").await, east);
    assert_eq!(visible_ids(&h, TENANT, "boss").await.len(), 3);
    assert_eq!(
        visible_ids(&h, TENANT, "wu").await,
        std::slice::from_ref(&zhao)
    );
    assert!(visible_ids(&h, TENANT, "stranger").await.is_empty());
    assert!(visible_ids(&h, TENANT, "gone").await.is_empty());

    // Reading or changing another rep's opportunity looks like it does not exist.
    let status = client
        .get_opportunity(request_as(
            TENANT,
            "wang",
            GetOpportunityRequest {
                opportunity_id: li.clone(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    let status = client
        .advance_stage(request_as(
            TENANT,
            "wang",
            AdvanceStageRequest {
                opportunity_id: li.clone(),
                to_stage: "qualified".into(),
                ..AdvanceStageRequest::default()
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    let status = client
        .get_history(request_as(
            TENANT,
            "zhou",
            GetHistoryRequest {
                opportunity_id: zhao.clone(),
                field: String::new(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound, "west is not under east");
    // A manager may act on the subtree.
    client
        .advance_stage(request_as(
            TENANT,
            "zhou",
            AdvanceStageRequest {
                opportunity_id: li.clone(),
                to_stage: "qualified".into(),
                ..AdvanceStageRequest::default()
            },
        ))
        .await
        .unwrap();

    // Across tenants: the id of another tenant's opportunity finds nothing.
    let status = client
        .get_opportunity(request_as(
            TENANT,
            "root",
            GetOpportunityRequest {
                opportunity_id: elsewhere.clone(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    assert_eq!(visible_ids(&h, "globex", "anyone").await, [elsewhere]);

    // Collaborations: zhao's owner adds li, who then sees it but may not re-team it.
    let team = client
        .add_collaborator(request_as(
            TENANT,
            "zhao",
            AddCollaboratorRequest {
                idempotency_key: "collab-1".into(),
                opportunity_id: zhao.clone(),
                rep_id: "li".into(),
                role: "presales".into(),
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .collaborators;
    assert_eq!(
        (team[0].rep_id.as_str(), team[0].role.as_str()),
        ("li", "presales")
    );
    let mut li_sees = vec![li.clone(), zhao.clone()];
    li_sees.sort();
    assert_eq!(visible_ids(&h, TENANT, "li").await, li_sees);
    let status = client
        .add_collaborator(request_as(
            TENANT,
            "li",
            AddCollaboratorRequest {
                opportunity_id: zhao.clone(),
                rep_id: "wang".into(),
                role: "technical".into(),
                ..AddCollaboratorRequest::default()
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    let status = client
        .add_collaborator(request_as(
            TENANT,
            "wang",
            AddCollaboratorRequest {
                opportunity_id: zhao.clone(),
                rep_id: "wang".into(),
                role: "technical".into(),
                ..AddCollaboratorRequest::default()
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);

    // Set-up is for admins.
    let pipeline = UpsertPipelineRequest {
        pipeline_id: "mine".into(),
        name: "Mine".into(),
        stages: vec![StageDefinition {
            name: "contact".into(),
            win_probability: 0.1,
            gate: None,
        }],
        ..UpsertPipelineRequest::default()
    };
    let status = client
        .upsert_pipeline(request_as(TENANT, "zhou", pipeline.clone()))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    client
        .upsert_pipeline(request_as(TENANT, "root", pipeline))
        .await
        .unwrap();
}
