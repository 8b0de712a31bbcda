//! Scoring rules over gRPC, versioned per tenant, and ExplainScore answering from what
//! was computed at qualification; real nats-server, on SQLite and on PostgreSQL.

mod common;

use std::time::Duration;

use common::{QualifiedFeed, TENANT, as_tenant, lead, publish, received};
use shangji_contracts::dedup::{
    ExplainScoreRequest, GetScoringRulesRequest, ScoringCondition, ScoringRule, ScoringRules,
    UpsertScoringRulesRequest,
};
use shangji_platform::ids::{new_event_id, new_id};
use shangji_testkit::{NatsServer, Postgres};
use tonic::Code;
use tonic_types::StatusExt as _;

const WAIT: Duration = Duration::from_secs(15);

fn rule(factor: &str, condition: ScoringCondition, points: f64) -> ScoringRule {
    ScoringRule {
        factor: factor.into(),
        condition: condition as i32,
        points,
        ..ScoringRule::default()
    }
}

/// A tenant's own rules: a near timeline, a trade-show source, a manufacturing
/// industry, and completeness of the contact details.
fn own_rules() -> ScoringRules {
    ScoringRules {
        rules: vec![
            ScoringRule {
                within_days: 30,
                ..rule("timeline", ScoringCondition::TimelineWithinDays, 40.0)
            },
            ScoringRule {
                field: "source".into(),
                words: vec!["展会".into(), "expo".into()],
                ..rule("trade_show", ScoringCondition::FieldContainsAny, 30.0)
            },
            ScoringRule {
                field: "industry".into(),
                words: vec!["制造".into()],
                ..rule("industry", ScoringCondition::FieldContainsAny, 10.0)
            },
            ScoringRule {
                fields: vec![
                    "phone".into(),
                    "email".into(),
                    "company".into(),
                    "budget".into(),
                ],
                ..rule("complete", ScoringCondition::Completeness, 20.0)
            },
        ],
        grade_a_min: 80.0,
        grade_b_min: 50.0,
        grade_c_min: 20.0,
        ..ScoringRules::default()
    }
}

async fn scoring_over_grpc(database_url: Option<String>) {
    let nats = NatsServer::start().await.unwrap();
    let data = tempfile::tempdir().unwrap();
    let dedup = common::start(common::settings(&nats.url(), data.path(), database_url)).await;
    let nats_client = async_nats::connect(nats.url()).await.unwrap();
    let js = async_nats::jetstream::new(nats_client.clone());
    let mut qualified = QualifiedFeed::subscribe(&nats_client).await;
    let mut client = common::client(&dedup).await;
    let as_admin = |message| {
        let mut request = as_tenant(TENANT, message);
        request
            .metadata_mut()
            .insert("x-user-id", "admin".parse().unwrap());
        request
    };

    // Until the tenant saves its own, version 1 (the built-in rules) is in force.
    let builtin = client
        .get_scoring_rules(as_tenant(TENANT, GetScoringRulesRequest::default()))
        .await
        .unwrap()
        .into_inner()
        .rules
        .unwrap();
    assert_eq!(builtin.version, 1);
    assert_eq!(builtin.rules.len(), 8);
    assert_eq!(
        (
            builtin.grade_a_min,
            builtin.grade_b_min,
            builtin.grade_c_min
        ),
        (70.0, 50.0, 30.0)
    );

    // A lead qualified under version 1 explains itself, factor by factor.
    let first_id = new_id("lead");
    let mut first = lead("王伟", "+86 138-0013-8000", "");
    first.budget = "50万".into();
    first.title = "采购总监".into();
    first.company = "华为".into();
    publish(
        &js,
        TENANT,
        &first_id,
        &received(&first_id, first),
        &new_event_id(),
    )
    .await;
    let (_, event) = qualified.next(WAIT).await;
    assert_eq!((event.score, event.grade.as_str()), (55.0, "B"));
    let explained = client
        .explain_score(as_tenant(
            TENANT,
            ExplainScoreRequest {
                lead_id: first_id.clone(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((explained.score, explained.grade.as_str()), (55.0, "B"));
    assert_eq!(
        (explained.model.as_str(), explained.rules_version),
        ("rules", 1)
    );
    assert_eq!(explained.customer_id, event.customer_id);
    let factors: Vec<(&str, f64)> = explained
        .factors
        .iter()
        .map(|f| (f.factor.as_str(), f.points))
        .collect();
    assert_eq!(
        factors,
        [
            ("budget", 20.0),
            ("company", 10.0),
            ("decision_maker", 15.0),
            ("phone", 10.0)
        ]
    );
    let missed: Vec<&str> = explained.missed.iter().map(|f| f.factor.as_str()).collect();
    assert_eq!(missed, ["need", "timeline", "email", "source"]);
    assert_eq!(explained.missed[0].detail, "no need stated");

    // Saving rules makes version 2; a retry with the key changes nothing; a save based
    // on a stale version is refused.
    let save = UpsertScoringRulesRequest {
        rules: Some(own_rules()),
        base_version: 1,
        idempotency_key: "rules-1".into(),
    };
    let saved = client
        .upsert_scoring_rules(as_admin(save.clone()))
        .await
        .unwrap()
        .into_inner()
        .rules
        .unwrap();
    assert_eq!(saved.version, 2);
    assert_eq!(saved.created_by, "admin");
    let retried = client
        .upsert_scoring_rules(as_admin(save.clone()))
        .await
        .unwrap()
        .into_inner()
        .rules
        .unwrap();
    assert_eq!(retried.version, 2);
    let stale = client
        .upsert_scoring_rules(as_admin(UpsertScoringRulesRequest {
            idempotency_key: "rules-2".into(),
            ..save.clone()
        }))
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::FailedPrecondition);
    assert!(stale.message().contains("version 2"), "{}", stale.message());
    let in_force = client
        .get_scoring_rules(as_tenant(TENANT, GetScoringRulesRequest::default()))
        .await
        .unwrap()
        .into_inner()
        .rules
        .unwrap();
    assert_eq!(in_force.version, 2);
    assert_eq!(in_force.rules[1].words, vec!["展会", "expo"]);
    let old = client
        .get_scoring_rules(as_tenant(TENANT, GetScoringRulesRequest { version: 1 }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(old.rules.unwrap().rules.len(), 8);
    let missing = client
        .get_scoring_rules(as_tenant(TENANT, GetScoringRulesRequest { version: 9 }))
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
    let other_tenant = client
        .get_scoring_rules(as_tenant("globex", GetScoringRulesRequest::default()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        other_tenant.rules.unwrap().version,
        1,
        "rules are per tenant"
    );

    // Bad rules are refused with the path of each bad field.
    let mut bad = own_rules();
    bad.rules[0].within_days = 0;
    bad.rules[1].field = "salary".into();
    bad.grade_c_min = 90.0;
    let refused = client
        .upsert_scoring_rules(as_admin(UpsertScoringRulesRequest {
            rules: Some(bad),
            ..UpsertScoringRulesRequest::default()
        }))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    let fields: Vec<String> = refused
        .get_error_details()
        .bad_request()
        .unwrap()
        .field_violations
        .iter()
        .map(|v| v.field.clone())
        .collect();
    assert_eq!(
        fields,
        [
            "rules.rules[0].within_days",
            "rules.rules[1].field",
            "rules.grade_c_min"
        ]
    );

    // A lead qualified now is scored by version 2 and records it.
    let second_id = new_id("lead");
    let mut second = lead("李娜", "13900139000", "li@example.com");
    second.source = "2026 上海工业展会".into();
    second.timeline = "两周内".into();
    second.company = "上海机床厂".into();
    publish(
        &js,
        TENANT,
        &second_id,
        &received(&second_id, second),
        &new_event_id(),
    )
    .await;
    let (_, event) = qualified.next(WAIT).await;
    assert_eq!(event.lead_id, second_id);
    // timeline 40 + trade show 30 + 3 of 4 contact fields (15) = 85
    assert_eq!((event.score, event.grade.as_str()), (85.0, "A"));
    let explained = client
        .explain_score(as_tenant(
            TENANT,
            ExplainScoreRequest {
                lead_id: second_id.clone(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(explained.rules_version, 2);
    assert_eq!(explained.score, 85.0);
    assert!(
        explained.factors[0]
            .detail
            .starts_with("timeline 两周内 is within 30 days"),
        "{:?}",
        explained.factors
    );
    assert_eq!(
        explained.factors[2].detail,
        "3 of 4 fields filled; missing budget"
    );
    assert_eq!(explained.missed[0].factor, "industry");

    // Unknown leads, and other tenants' leads, have no score to explain.
    for (tenant, lead_id) in [(TENANT, "lead_nobody"), ("globex", second_id.as_str())] {
        let err = client
            .explain_score(as_tenant(
                tenant,
                ExplainScoreRequest {
                    lead_id: lead_id.into(),
                },
            ))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::NotFound);
    }
    let err = client
        .explain_score(as_tenant(TENANT, ExplainScoreRequest::default()))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);

    dedup.stop().await.unwrap();
}

#[tokio::test]
async fn scoring_rules_and_explanations_on_sqlite() {
    scoring_over_grpc(None).await;
}

#[tokio::test]
async fn scoring_rules_and_explanations_on_postgres() {
    let postgres = Postgres::start().await.unwrap();
    scoring_over_grpc(Some(
        postgres.create_database("dedup_scoring").await.unwrap(),
    ))
    .await;
}
