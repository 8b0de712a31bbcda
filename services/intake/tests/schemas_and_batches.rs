//! Field schemas and SubmitLeads through the real gRPC API, on SQLite and PostgreSQL.

mod support;

use shangji_contracts::common::{Attribution, Lead};
use shangji_contracts::intake::{
    FieldDefinition, FieldType, GetFieldSchemaRequest, GetLeadRequest, LeadSubmission,
    SubmissionOutcome, SubmitLeadRequest, UpsertFieldSchemaRequest,
};
use support::{
    Backend, Harness, lead, postgres_or_skip, violated_fields, violation_descriptions, with_tenant,
};

fn tenant_fields() -> Vec<FieldDefinition> {
    vec![
        FieldDefinition {
            key: "need".into(),
            r#type: FieldType::Text as i32,
            label_zh: "需求描述".into(),
            label_en: "Need".into(),
            required_channels: vec!["batch".into(), "web_form".into()],
            ..Default::default()
        },
        FieldDefinition {
            key: "budget".into(),
            r#type: FieldType::Money as i32,
            label_zh: "预算".into(),
            label_en: "Budget".into(),
            min: Some(10_000.0),
            ..Default::default()
        },
        FieldDefinition {
            key: "source".into(),
            r#type: FieldType::SingleChoice as i32,
            label_zh: "来源".into(),
            label_en: "Source".into(),
            allowed_values: vec!["官网".into(), "展会".into(), "转介绍".into()],
            default_value: "官网".into(),
            ..Default::default()
        },
        FieldDefinition {
            key: "employees".into(),
            r#type: FieldType::Number as i32,
            label_zh: "员工人数".into(),
            label_en: "Employees".into(),
            min: Some(1.0),
            help_zh: "公司总人数".into(),
            help_en: "Head count of the company".into(),
            ..Default::default()
        },
    ]
}

async fn schemas_are_versioned_and_applied(backend: Backend) {
    let mut h = Harness::start(backend).await;
    // No schema yet: version 0, and the built-in checks alone apply.
    let none = h
        .client
        .get_field_schema(with_tenant(GetFieldSchemaRequest { version: 0 }, "acme"))
        .await
        .unwrap()
        .into_inner()
        .schema
        .unwrap();
    assert_eq!(none.version, 0);
    assert!(none.fields.is_empty());
    let before = h
        .client
        .submit_lead(with_tenant(
            SubmitLeadRequest {
                idempotency_key: "before".into(),
                lead: Some(Lead {
                    need: String::new(),
                    ..lead()
                }),
            },
            "acme",
        ))
        .await
        .unwrap()
        .into_inner();

    // A bad definition is refused field by field.
    let err = h
        .client
        .upsert_field_schema(with_tenant(
            UpsertFieldSchemaRequest {
                idempotency_key: "bad".into(),
                fields: vec![FieldDefinition {
                    key: "size".into(),
                    r#type: FieldType::SingleChoice as i32,
                    label_zh: "规模".into(),
                    label_en: "Size".into(),
                    ..Default::default()
                }],
                expected_version: 0,
            },
            "acme",
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert_eq!(violated_fields(&err), ["fields[0].allowed_values"]);

    let upsert = UpsertFieldSchemaRequest {
        idempotency_key: "schema-1".into(),
        fields: tenant_fields(),
        expected_version: 0,
    };
    let v1 = h
        .client
        .upsert_field_schema(with_tenant(upsert.clone(), "acme"))
        .await
        .unwrap()
        .into_inner()
        .schema
        .unwrap();
    assert_eq!(v1.version, 1);
    assert_eq!(v1.created_by, "admin.li");
    // A retry replays; it does not make version 2.
    let again = h
        .client
        .upsert_field_schema(with_tenant(upsert, "acme"))
        .await
        .unwrap()
        .into_inner()
        .schema
        .unwrap();
    assert_eq!(again.version, 1);
    // An edit based on a stale version is refused, naming the current one.
    let err = h
        .client
        .upsert_field_schema(with_tenant(
            UpsertFieldSchemaRequest {
                idempotency_key: "stale".into(),
                fields: tenant_fields(),
                expected_version: 7,
            },
            "acme",
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::FailedPrecondition);
    assert!(err.message().contains("version 1"), "{}", err.message());
    let current = h
        .client
        .get_field_schema(with_tenant(GetFieldSchemaRequest { version: 0 }, "acme"))
        .await
        .unwrap()
        .into_inner()
        .schema
        .unwrap();
    assert_eq!(current.version, 1);
    assert_eq!(current.fields[3].help_en, "Head count of the company");

    // The same lead without a need: fine over plain gRPC, refused in a batch, where the
    // tenant requires it. Other fields' rules apply on every channel.
    let bad = Lead {
        need: String::new(),
        budget: "5000".into(),
        custom_fields: [("employees".to_owned(), "many".to_owned())].into(),
        ..lead()
    };
    let err = h
        .client
        .submit_lead(with_tenant(
            SubmitLeadRequest {
                idempotency_key: "grpc-bad".into(),
                lead: Some(bad.clone()),
            },
            "acme",
        ))
        .await
        .unwrap_err();
    assert_eq!(
        violated_fields(&err),
        ["lead.budget", "lead.custom_fields[employees]"]
    );
    let descriptions = violation_descriptions(&err);
    assert!(descriptions[0].starts_with("预算："), "{descriptions:?}");
    assert!(descriptions[0].contains("budget: amount 5000 is outside 10000.."));

    let good = Lead {
        budget: "50万".into(),
        custom_fields: [("employees".to_owned(), "250".to_owned())].into(),
        ..lead()
    };
    let items = vec![
        LeadSubmission {
            idempotency_key: "b-1".into(),
            lead: Some(good.clone()),
            attribution: Some(Attribution {
                campaign: "2026 秋季展会".into(),
                utm_source: "expo".into(),
                ..Default::default()
            }),
        },
        LeadSubmission {
            idempotency_key: "b-2".into(),
            lead: Some(bad),
            attribution: None,
        },
        LeadSubmission {
            idempotency_key: "b-3".into(),
            lead: Some(Lead {
                phone: "13900000000".into(),
                ..good.clone()
            }),
            attribution: None,
        },
    ];
    let batch = h
        .client
        .submit_leads(with_tenant(futures::stream::iter(items.clone()), "acme"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((batch.accepted, batch.replayed, batch.rejected), (2, 0, 1));
    let outcomes: Vec<i32> = batch.results.iter().map(|r| r.outcome).collect();
    assert_eq!(
        outcomes,
        [
            SubmissionOutcome::Accepted as i32,
            SubmissionOutcome::Rejected as i32,
            SubmissionOutcome::Accepted as i32,
        ]
    );
    let rejected = &batch.results[1];
    assert_eq!(rejected.index, 1);
    assert_eq!(rejected.idempotency_key, "b-2");
    let fields: Vec<&str> = rejected
        .violations
        .iter()
        .map(|v| v.field.as_str())
        .collect();
    assert_eq!(
        fields,
        ["lead.need", "lead.budget", "lead.custom_fields[employees]"]
    );
    assert_eq!(
        rejected.violations[0].description,
        "需求描述未填写 / need: required for channel batch"
    );

    // The whole batch again: the good ones replay, nothing new is created.
    let retry = h
        .client
        .submit_leads(with_tenant(futures::stream::iter(items), "acme"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((retry.accepted, retry.replayed, retry.rejected), (0, 2, 1));
    assert_eq!(retry.results[0].lead_id, batch.results[0].lead_id);
    assert_eq!(retry.results[2].lead_id, batch.results[2].lead_id);

    // Each lead keeps the schema version and its attribution; defaults were filled.
    let got = h
        .client
        .get_lead_source(with_tenant(
            GetLeadRequest {
                lead_id: batch.results[0].lead_id.clone(),
            },
            "acme",
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.schema_version, 1);
    let lead = h
        .client
        .get_lead(with_tenant(
            GetLeadRequest {
                lead_id: batch.results[0].lead_id.clone(),
            },
            "acme",
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(lead.lead.unwrap().source, "官网");
    let attribution = got.attribution.unwrap();
    assert_eq!(attribution.channel, "batch");
    assert_eq!(attribution.campaign, "2026 秋季展会");
    assert_eq!(attribution.utm_source, "expo");
    let old = h
        .client
        .get_lead_source(with_tenant(
            GetLeadRequest {
                lead_id: before.lead_id,
            },
            "acme",
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(old.schema_version, 0);
    assert_eq!(old.attribution.unwrap().channel, "grpc");

    // Another tenant still has no schema.
    let theirs = h
        .client
        .get_field_schema(with_tenant(GetFieldSchemaRequest { version: 0 }, "globex"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(theirs.schema.unwrap().version, 0);
    let err = h
        .client
        .get_field_schema(with_tenant(GetFieldSchemaRequest { version: 2 }, "acme"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::NotFound);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn schemas_are_versioned_and_applied_on_sqlite() {
    schemas_are_versioned_and_applied(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn schemas_are_versioned_and_applied_on_postgres() {
    if postgres_or_skip("schemas_are_versioned_and_applied_on_postgres") {
        schemas_are_versioned_and_applied(Backend::Postgres).await;
    }
}

/// Retries sent while the first UpsertFieldSchema still runs get its answer: one new
/// version, whichever call got there first, and no caller told it failed.
async fn concurrent_retries_of_a_schema_upsert(backend: Backend) {
    let h = Harness::start(backend).await;
    for round in 1..=4i64 {
        let upsert = UpsertFieldSchemaRequest {
            idempotency_key: format!("schema-race-{round}"),
            fields: tenant_fields(),
            expected_version: round - 1,
        };
        let calls = (0..4).map(|_| {
            let mut client = h.client.clone();
            let call = with_tenant(upsert.clone(), "acme");
            async move { client.upsert_field_schema(call).await }
        });
        let answers: Vec<_> = futures::future::join_all(calls)
            .await
            .into_iter()
            .map(|a| a.expect("every retry succeeds").into_inner())
            .collect();
        assert!(
            answers.iter().all(|a| a == &answers[0]),
            "round {round}: {answers:?}"
        );
        assert_eq!(answers[0].schema.as_ref().unwrap().version, round);
    }
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_retries_of_a_schema_upsert_on_sqlite() {
    concurrent_retries_of_a_schema_upsert(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_retries_of_a_schema_upsert_on_postgres() {
    if postgres_or_skip("concurrent_retries_of_a_schema_upsert_on_postgres") {
        concurrent_retries_of_a_schema_upsert(Backend::Postgres).await;
    }
}
