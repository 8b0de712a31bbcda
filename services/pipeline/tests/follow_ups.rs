//! Follow-ups through gRPC, on SQLite and on PostgreSQL: the activity template (purpose,
//! the customer's questions, next step, next follow-up), attachments by reference with
//! field-level errors, and comments (idempotent, visible exactly to whoever may see the
//! opportunity, recorded in the history).

mod support;

use shangji_contracts::events::opportunity::{ActivityAttachment, OpportunityActivityLogged};
use shangji_contracts::pipeline::{
    AddCommentRequest, Attachment, GetHistoryRequest, GetOpportunityRequest, ListCommentsRequest,
    LogActivityRequest,
};
use shangji_contracts::time::from_millis;
use support::{
    Backend, Harness, REPS, TEAMS, bad_fields, open_opportunity, publish_org, request_as,
    wait_until_visible,
};
use tonic::Code;

const TENANT: &str = "acme";

#[tokio::test]
async fn follow_ups_on_sqlite() {
    follow_ups(Backend::Sqlite).await;
}

#[tokio::test]
async fn follow_ups_on_postgres() {
    follow_ups(Backend::Postgres).await;
}

fn quote_pdf() -> Attachment {
    Attachment {
        uri: "https://files.example.cn/quotes/q-17.pdf".into(),
        name: "报价单 Q-17.pdf".into(),
        content_type: "application/pdf".into(),
        size_bytes: 52_311,
    }
}

async fn follow_ups(backend: Backend) {
    let h = Harness::start_on(backend).await;
    let mut client = h.client().await;
    let opp = open_opportunity(&h, TENANT, "lead_w", "cus_w", "wang", "east_sh")
        .await
        .opportunity_id;
    let zhao = open_opportunity(&h, TENANT, "lead_z", "cus_z", "zhao", "west")
        .await
        .opportunity_id;
    publish_org(&h, TENANT, &TEAMS, &REPS).await;
    wait_until_visible(&h, TENANT, "wu", std::slice::from_ref(&zhao)).await;

    // A visit logged with the whole template and an attachment.
    let visit = LogActivityRequest {
        idempotency_key: "visit-1".into(),
        opportunity_id: opp.clone(),
        kind: "Visit".into(),
        summary: "上门拜访，演示了方案".into(),
        purpose: " 方案演示 ".into(),
        customer_questions: "能否分期付款？交付周期多久？".into(),
        next_step: "发送分期报价".into(),
        next_follow_up_at: Some(from_millis(1_900_000_000_000)),
        attachments: vec![quote_pdf()],
    };
    let logged = client
        .log_activity(request_as(TENANT, "wang", visit.clone()))
        .await
        .unwrap()
        .into_inner()
        .activity
        .unwrap();
    assert_eq!(logged.kind, "visit");
    assert_eq!(logged.purpose, "方案演示");
    assert_eq!(logged.customer_questions, "能否分期付款？交付周期多久？");
    assert_eq!(logged.attachments, [quote_pdf()]);
    let again = client
        .log_activity(request_as(TENANT, "wang", visit))
        .await
        .unwrap()
        .into_inner()
        .activity
        .unwrap();
    assert_eq!(again, logged, "a retry answers the first result");
    let (_, event) = h
        .wait_for::<OpportunityActivityLogged>("activity_logged for the visit", |e| {
            e.activity_id == logged.activity_id
        })
        .await;
    assert_eq!(
        (
            event.kind.as_str(),
            event.purpose.as_str(),
            event.customer_questions.as_str(),
            event.next_step.as_str(),
            event.next_follow_up_at,
        ),
        (
            "visit",
            "方案演示",
            "能否分期付款？交付周期多久？",
            "发送分期报价",
            Some(from_millis(1_900_000_000_000)),
        ),
        "the event carries the whole follow-up template"
    );
    assert_eq!(
        event.attachments,
        [ActivityAttachment {
            uri: "https://files.example.cn/quotes/q-17.pdf".into(),
            name: "报价单 Q-17.pdf".into(),
            content_type: "application/pdf".into(),
            size_bytes: 52_311,
        }]
    );
    let detail = client
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
    let stored: Vec<_> = detail
        .activities
        .iter()
        .filter(|a| a.kind == "visit")
        .collect();
    assert_eq!(stored, [&logged], "logged once, read back whole");
    assert_eq!(
        detail.opportunity.unwrap().next_follow_up_at,
        Some(from_millis(1_900_000_000_000))
    );

    // Bad kinds and attachments are refused field by field.
    let bad = client
        .log_activity(request_as(
            TENANT,
            "wang",
            LogActivityRequest {
                opportunity_id: opp.clone(),
                kind: "fax".into(),
                summary: "x".into(),
                attachments: vec![
                    quote_pdf(),
                    Attachment {
                        uri: "javascript:alert(1)".into(),
                        name: String::new(),
                        content_type: "pdf".into(),
                        size_bytes: 1,
                    },
                ],
                ..Default::default()
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert_eq!(
        bad_fields(&bad),
        [
            "kind",
            "attachments[1].uri",
            "attachments[1].name",
            "attachments[1].content_type"
        ]
    );
    let too_many = client
        .log_activity(request_as(
            TENANT,
            "wang",
            LogActivityRequest {
                opportunity_id: opp.clone(),
                kind: "email".into(),
                summary: "x".into(),
                attachments: vec![quote_pdf(); 21],
                ..Default::default()
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&too_many), ["attachments"]);

    // Comments: the author is the caller; a retry adds nothing.
    let comment = |key: &str, body: &str| AddCommentRequest {
        idempotency_key: key.into(),
        opportunity_id: opp.clone(),
        body: body.into(),
    };
    let first = client
        .add_comment(request_as(TENANT, "wang", comment("c-1", "客户倾向分期")))
        .await
        .unwrap()
        .into_inner()
        .comment
        .unwrap();
    assert_eq!(
        (first.author_id.as_str(), first.body.as_str()),
        ("wang", "客户倾向分期")
    );
    let retried = client
        .add_comment(request_as(TENANT, "wang", comment("c-1", "客户倾向分期")))
        .await
        .unwrap()
        .into_inner()
        .comment
        .unwrap();
    assert_eq!(retried, first);
    // The east manager sees wang's deal and may comment on it.
    client
        .add_comment(request_as(TENANT, "zhou", comment("c-2", "下周我一起去")))
        .await
        .unwrap();
    let listed = client
        .list_comments(request_as(
            TENANT,
            "zhou",
            ListCommentsRequest {
                opportunity_id: opp.clone(),
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .comments;
    assert_eq!(
        listed
            .iter()
            .map(|c| (c.author_id.as_str(), c.body.as_str()))
            .collect::<Vec<_>>(),
        [("wang", "客户倾向分期"), ("zhou", "下周我一起去")]
    );
    assert_eq!(listed[0], first);
    let history = client
        .get_history(request_as(
            TENANT,
            "wang",
            GetHistoryRequest {
                opportunity_id: opp.clone(),
                field: "comment".into(),
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .entries;
    assert_eq!(
        history
            .iter()
            .map(|e| (e.user_id.as_str(), e.new_value.as_str()))
            .collect::<Vec<_>>(),
        [("wang", "客户倾向分期"), ("zhou", "下周我一起去")]
    );

    // Someone who may not see the deal can neither read nor add comments.
    let err = client
        .list_comments(request_as(
            TENANT,
            "zhao",
            ListCommentsRequest {
                opportunity_id: opp.clone(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = client
        .add_comment(request_as(TENANT, "zhao", comment("c-3", "我也看看")))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = client
        .add_comment(request_as(TENANT, "wang", comment("c-4", "  ")))
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&err), ["body"]);
    let count = client
        .list_comments(request_as(
            TENANT,
            "wang",
            ListCommentsRequest {
                opportunity_id: opp.clone(),
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .comments
        .len();
    assert_eq!(count, 2, "refused comments left nothing behind");
}
