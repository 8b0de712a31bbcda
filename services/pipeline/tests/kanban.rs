//! The kanban listing through gRPC, on SQLite and on PostgreSQL: filters by the owner's
//! team and amount, sorts with page tokens that keep to their sort, the per-stage column
//! totals, data permissions under every filter, and INVALID_ARGUMENT for bad values.

mod support;

use shangji_contracts::pipeline::{
    AdvanceStageRequest, ListOpportunitiesRequest, SortOrder, StageSummary,
    UpdateOpportunityRequest,
};
use support::{
    Backend, Harness, REPS, TEAMS, bad_fields, open_opportunity, publish_org, request_as,
    wait_until_visible,
};

const TENANT: &str = "acme";
/// The tenant admin: sees everything, so filters alone decide what is listed.
const ADMIN: &str = "root";

#[tokio::test]
async fn kanban_on_sqlite() {
    kanban(Backend::Sqlite).await;
}

#[tokio::test]
async fn kanban_on_postgres() {
    kanban(Backend::Postgres).await;
}

async fn kanban(backend: Backend) {
    let h = Harness::start_on(backend).await;
    let mut client = h.client().await;
    // (lead, owner, team, amount)
    let deals = [
        ("lead_1", "wang", "east_sh", 100.0),
        ("lead_2", "wang", "east_sh", 300.0),
        ("lead_3", "li", "east_sh", 200.0),
        ("lead_4", "zhao", "west", 400.0),
    ];
    let mut ids = Vec::new();
    for (lead, owner, team, _) in deals {
        let created = open_opportunity(&h, TENANT, lead, &format!("cus_{lead}"), owner, team).await;
        ids.push(created.opportunity_id);
    }
    publish_org(&h, TENANT, &TEAMS, &REPS).await;
    wait_until_visible(&h, TENANT, "wu", std::slice::from_ref(&ids[3])).await;
    for (id, (_, _, _, amount)) in ids.iter().zip(deals) {
        client
            .update_opportunity(request_as(
                TENANT,
                ADMIN,
                UpdateOpportunityRequest {
                    idempotency_key: format!("amount-{id}"),
                    opportunity_id: id.clone(),
                    amount: Some(amount),
                    ..Default::default()
                },
            ))
            .await
            .unwrap();
    }
    client
        .advance_stage(request_as(
            TENANT,
            ADMIN,
            AdvanceStageRequest {
                idempotency_key: "adv-4".into(),
                opportunity_id: ids[3].clone(),
                to_stage: "qualified".into(),
                ..Default::default()
            },
        ))
        .await
        .unwrap();

    let list = |user: &'static str, req: ListOpportunitiesRequest| {
        let mut client = client.clone();
        async move {
            client
                .list_opportunities(request_as(TENANT, user, req))
                .await
                .map(|r| r.into_inner())
        }
    };
    let listed_ids = |r: &shangji_contracts::pipeline::ListOpportunitiesResponse| {
        r.opportunities
            .iter()
            .map(|o| o.opportunity_id.clone())
            .collect::<Vec<_>>()
    };

    // Amount ascending, one per page: every deal once, in order, the count on each page.
    let by_amount = |token: String| ListOpportunitiesRequest {
        sort_by: "amount".into(),
        sort_order: SortOrder::Ascending as i32,
        page_size: 1,
        page_token: token,
        ..Default::default()
    };
    let mut seen = Vec::new();
    let mut token = String::new();
    let mut first_token = String::new();
    loop {
        let page = list(ADMIN, by_amount(token)).await.unwrap();
        assert_eq!(page.total_count, 4);
        seen.extend(listed_ids(&page));
        if page.next_page_token.is_empty() {
            break;
        }
        if first_token.is_empty() {
            first_token = page.next_page_token.clone();
        }
        token = page.next_page_token;
    }
    assert_eq!(
        seen,
        [
            ids[0].clone(),
            ids[2].clone(),
            ids[1].clone(),
            ids[3].clone()
        ]
    );

    // The owner's team and an amount range, combined.
    let east_mid = list(
        ADMIN,
        ListOpportunitiesRequest {
            team: "east_sh".into(),
            amount_min: Some(150.0),
            amount_max: Some(300.0),
            sort_by: "amount".into(),
            sort_order: SortOrder::Descending as i32,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(listed_ids(&east_mid), [ids[1].clone(), ids[2].clone()]);
    assert_eq!(east_mid.total_count, 2);
    // Nothing here has gone a day without a touch.
    let stalled = list(
        ADMIN,
        ListOpportunitiesRequest {
            stalled_for_days: 1,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!((stalled.total_count, stalled.opportunities.len()), (0, 0));

    // Kanban columns: every stage, even when the list is filtered to one.
    let board = list(
        ADMIN,
        ListOpportunitiesRequest {
            stage: "lead".into(),
            include_stage_summary: true,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(board.total_count, 3);
    assert_eq!(
        board.stage_summary,
        [
            StageSummary {
                stage: "lead".into(),
                count: 3,
                amount: 600.0
            },
            StageSummary {
                stage: "qualified".into(),
                count: 1,
                amount: 400.0
            },
        ]
    );
    let plain = list(ADMIN, ListOpportunitiesRequest::default())
        .await
        .unwrap();
    assert!(plain.stage_summary.is_empty(), "only when asked for");

    // Permissions hold under every filter: a rep's columns and lists are their own.
    let wang_board = list(
        "wang",
        ListOpportunitiesRequest {
            include_stage_summary: true,
            amount_min: Some(50.0),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(wang_board.total_count, 2);
    assert_eq!(
        wang_board
            .stage_summary
            .iter()
            .map(|s| (s.stage.as_str(), s.count, s.amount))
            .collect::<Vec<_>>(),
        [("lead", 2, 400.0)]
    );
    let east_manager_on_west = list(
        "zhou",
        ListOpportunitiesRequest {
            team: "west".into(),
            include_stage_summary: true,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(east_manager_on_west.total_count, 0);
    assert!(east_manager_on_west.opportunities.is_empty());
    assert!(east_manager_on_west.stage_summary.is_empty());

    // Bad values are INVALID_ARGUMENT naming each field.
    let bad = list(
        ADMIN,
        ListOpportunitiesRequest {
            amount_min: Some(500.0),
            amount_max: Some(100.0),
            expected_close_from: Some(prost_types::Timestamp {
                seconds: 2_000_000_000,
                nanos: 0,
            }),
            expected_close_to: Some(prost_types::Timestamp {
                seconds: 1_000_000_000,
                nanos: 0,
            }),
            sort_by: "size".into(),
            sort_order: 9,
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert_eq!(bad.code(), tonic::Code::InvalidArgument);
    assert_eq!(
        bad_fields(&bad),
        ["amount_min", "expected_close_from", "sort_by", "sort_order"]
    );
    let negative = list(
        ADMIN,
        ListOpportunitiesRequest {
            amount_max: Some(-1.0),
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert_eq!(bad_fields(&negative), ["amount_max"]);
    for token in ["not-a-token".to_owned(), first_token.clone()] {
        // The amount-sorted token is refused under the default sort.
        let err = list(
            ADMIN,
            ListOpportunitiesRequest {
                page_token: token,
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
        assert_eq!(bad_fields(&err), ["page_token"]);
    }
    // With its own sort the same token still serves the next page.
    let second = list(ADMIN, by_amount(first_token)).await.unwrap();
    assert_eq!(listed_ids(&second), [ids[2].clone()]);
}
