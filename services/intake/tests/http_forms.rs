//! Web forms through a real HTTP client against intake on real NATS, on SQLite and
//! PostgreSQL: JSON and form-encoded posts, attribution, CORS, honeypot, rate limit,
//! field-level 422s, double-click protection.

mod http_support;
mod support;

use std::collections::BTreeMap;

use http_support::{HttpHarness, assert_no_announcement, next_announcement};
use shangji_contracts::common::Lead;
use shangji_contracts::intake::{
    FieldDefinition, FieldType, GetLeadRequest, ListWebFormsRequest, SubmitLeadRequest,
    UpsertFieldSchemaRequest, UpsertWebFormRequest, WebForm,
};
use support::{Backend, postgres_or_skip, violated_fields, violation_descriptions, with_tenant};

const ORIGIN: &str = "https://www.example.com";
const PATH: &str = "/forms/acme/contact-us";

fn contact_form() -> WebForm {
    let mapping: BTreeMap<String, String> = [
        ("your-name", "contact_name"),
        ("tel", "phone"),
        ("message", "need"),
        ("company-name", "company"),
        ("wechat", "微信"),
    ]
    .into_iter()
    .map(|(a, b)| (a.to_owned(), b.to_owned()))
    .collect();
    WebForm {
        form_id: "contact-us".into(),
        field_mapping: mapping,
        allowed_origins: vec![ORIGIN.into()],
        honeypot_field: "website".into(),
        rate_limit_per_minute: 0,
        default_source: "官网".into(),
        default_campaign: "2026-winter".into(),
        active: true,
        ..Default::default()
    }
}

async fn upsert_form(h: &mut HttpHarness, key: &str, form: WebForm) -> WebForm {
    h.grpc
        .upsert_web_form(with_tenant(
            UpsertWebFormRequest {
                idempotency_key: key.into(),
                form: Some(form),
                expected_version: 0,
            },
            "acme",
        ))
        .await
        .expect("upsert form")
        .into_inner()
        .form
        .expect("form")
}

async fn lead_of(h: &mut HttpHarness, lead_id: &str) -> Lead {
    h.grpc
        .get_lead(with_tenant(
            GetLeadRequest {
                lead_id: lead_id.into(),
            },
            "acme",
        ))
        .await
        .expect("lead stored")
        .into_inner()
        .lead
        .expect("lead")
}

async fn posts_become_leads_with_their_attribution(backend: Backend) {
    let mut h = HttpHarness::start(backend).await;
    let mut announced = h.announcements().await;
    let form = upsert_form(&mut h, "form-1", contact_form()).await;
    assert_eq!(form.version, 1);
    // The same upsert again changes nothing; an edit of an older version is refused.
    let again = upsert_form(&mut h, "form-1", contact_form()).await;
    assert_eq!(again.version, 1);
    let stale = h
        .grpc
        .upsert_web_form(with_tenant(
            UpsertWebFormRequest {
                idempotency_key: "form-2".into(),
                form: Some(contact_form()),
                expected_version: 7,
            },
            "acme",
        ))
        .await
        .unwrap_err();
    assert_eq!(stale.code(), tonic::Code::FailedPrecondition);

    // JSON from a browser page, UTM parameters on the page URL and the post URL.
    let answer = h
        .post_json(
            &format!("{PATH}?utm_campaign=spring-launch"),
            &[
                ("origin", ORIGIN),
                (
                    "referer",
                    "https://www.example.com/landing?utm_source=baidu&utm_medium=cpc#form",
                ),
            ],
            r#"{"your-name":"王伟","tel":"+86 138-0013-8000","message":"需要一套 CRM",
                "wechat":"wangwei88","website":"","csrf_token":"x1"}"#,
        )
        .await;
    assert_eq!(answer.status, 201, "{}", answer.text());
    assert_eq!(answer.header("access-control-allow-origin"), Some(ORIGIN));
    let json_lead = answer.lead_id();
    let lead = lead_of(&mut h, &json_lead).await;
    assert_eq!(lead.contact_name, "王伟");
    assert_eq!(lead.phone, "+86 138-0013-8000");
    assert_eq!(lead.need, "需要一套 CRM");
    assert_eq!(lead.source, "官网");
    assert_eq!(lead.custom_fields["微信"], "wangwei88");
    assert!(!lead.custom_fields.contains_key("csrf_token"));
    let source = h
        .grpc
        .get_lead_source(with_tenant(
            GetLeadRequest {
                lead_id: json_lead.clone(),
            },
            "acme",
        ))
        .await
        .unwrap()
        .into_inner()
        .attribution
        .unwrap();
    assert_eq!(source.channel, "web_form");
    assert_eq!(source.channel_id, "contact-us");
    assert_eq!(source.utm_source, "baidu");
    assert_eq!(source.utm_medium, "cpc");
    assert_eq!(source.utm_campaign, "spring-launch");
    assert_eq!(source.campaign, "2026-winter");
    assert!(
        source
            .referrer
            .starts_with("https://www.example.com/landing?")
    );
    let (tenant, event) = next_announcement(&mut announced).await;
    assert_eq!(tenant, "acme");
    assert_eq!(event.lead_id, json_lead);
    assert_eq!(event.channel, "web_form");

    // A plain HTML form post (no Origin: same-site or server-side), with UTM fields in
    // the body; a double-click sends it twice and makes one lead.
    let body = "your-name=%E6%9D%8E%E5%A8%9C&company-name=%E4%B8%8A%E6%B5%B7%E6%9F%90%E5%85%AC%E5%8F%B8\
                &tel=13900139000&utm_source=wechat-ad&submit=Send";
    let first = h.post_form(PATH, &[], body).await;
    assert_eq!(first.status, 201, "{}", first.text());
    let second = h.post_form(PATH, &[], body).await;
    assert_eq!(second.status, 200, "{}", second.text());
    assert_eq!(second.lead_id(), first.lead_id());
    assert_eq!(second.json()["replayed"], true);
    let lead = lead_of(&mut h, &first.lead_id()).await;
    assert_eq!(lead.contact_name, "李娜");
    assert_eq!(lead.company, "上海某公司");
    let (_, event) = next_announcement(&mut announced).await;
    assert_eq!(event.lead_id, first.lead_id());
    assert_no_announcement(&mut announced, "the double-click made no second lead").await;

    // An explicit Idempotency-Key wins over the body hash: same key, one lead.
    let keyed = |n: &str| format!("your-name=Ann&tel=1390013900{n}");
    let a = h
        .post_form(PATH, &[("idempotency-key", "browser-42")], &keyed("1"))
        .await;
    let b = h
        .post_form(PATH, &[("idempotency-key", "browser-42")], &keyed("1"))
        .await;
    assert_eq!((a.status, b.status), (201, 200));
    assert_eq!(a.lead_id(), b.lead_id());

    let forms = h
        .grpc
        .list_web_forms(with_tenant(ListWebFormsRequest {}, "acme"))
        .await
        .unwrap()
        .into_inner()
        .forms;
    assert_eq!(forms.len(), 1);
    assert_eq!(forms[0].allowed_origins, vec![ORIGIN.to_owned()]);
    // Another tenant sees none, and its URL does not reach acme's form.
    let other = h
        .grpc
        .list_web_forms(with_tenant(ListWebFormsRequest {}, "globex"))
        .await
        .unwrap()
        .into_inner()
        .forms;
    assert!(other.is_empty());
    let elsewhere = h
        .post_form(
            "/forms/globex/contact-us",
            &[],
            "your-name=x&tel=13900139000",
        )
        .await;
    assert_eq!(elsewhere.status, 404);
    h.stop().await;
}

#[tokio::test]
async fn posts_become_leads_with_their_attribution_on_sqlite() {
    posts_become_leads_with_their_attribution(Backend::Sqlite).await;
}

#[tokio::test]
async fn posts_become_leads_with_their_attribution_on_postgres() {
    if postgres_or_skip("posts_become_leads_with_their_attribution_on_postgres") {
        posts_become_leads_with_their_attribution(Backend::Postgres).await;
    }
}

#[tokio::test]
async fn browsers_on_unlisted_origins_are_refused() {
    let mut h = HttpHarness::start(Backend::Sqlite).await;
    let mut announced = h.announcements().await;
    upsert_form(&mut h, "form-1", contact_form()).await;

    let allowed = h
        .send(
            "OPTIONS",
            PATH,
            &[
                ("origin", ORIGIN),
                ("access-control-request-method", "POST"),
                ("access-control-request-headers", "content-type"),
            ],
            "",
        )
        .await;
    assert_eq!(allowed.status, 204);
    assert_eq!(allowed.header("access-control-allow-origin"), Some(ORIGIN));
    assert!(
        allowed
            .header("access-control-allow-methods")
            .unwrap()
            .contains("POST")
    );
    assert!(
        allowed
            .header("access-control-allow-headers")
            .unwrap()
            .to_lowercase()
            .contains("content-type")
    );

    let denied = h
        .send(
            "OPTIONS",
            PATH,
            &[
                ("origin", "https://evil.example"),
                ("access-control-request-method", "POST"),
            ],
            "",
        )
        .await;
    assert_eq!(denied.status, 403);
    assert_eq!(denied.header("access-control-allow-origin"), None);

    // A post from an unlisted origin is refused too, and stores nothing.
    let post = h
        .post_json(
            PATH,
            &[("origin", "https://evil.example")],
            r#"{"your-name":"王伟","tel":"13800138000"}"#,
        )
        .await;
    assert_eq!(post.status, 403);
    assert_eq!(post.header("access-control-allow-origin"), None);
    assert_no_announcement(&mut announced, "a refused origin stores nothing").await;

    // Unknown and inactive forms are not found; other bodies are not understood.
    let unknown = h
        .send("OPTIONS", "/forms/acme/nope", &[("origin", ORIGIN)], "")
        .await;
    assert_eq!(unknown.status, 404);
    let xml = h
        .send("POST", PATH, &[("content-type", "text/xml")], "<lead/>")
        .await;
    assert_eq!(xml.status, 415);
    upsert_form(
        &mut h,
        "form-off",
        WebForm {
            active: false,
            ..contact_form()
        },
    )
    .await;
    let inactive = h.post_form(PATH, &[], "your-name=a&tel=13800138000").await;
    assert_eq!(inactive.status, 404);
    h.stop().await;
}

#[tokio::test]
async fn bots_filling_the_honeypot_are_answered_but_nothing_is_stored() {
    let mut h = HttpHarness::start(Backend::Sqlite).await;
    let mut announced = h.announcements().await;
    upsert_form(&mut h, "form-1", contact_form()).await;

    let bot = h
        .post_form(
            PATH,
            &[],
            "your-name=Buy+cheap&tel=13800138000&website=http%3A%2F%2Fspam.example",
        )
        .await;
    // Looks exactly like a success...
    assert_eq!(bot.status, 201);
    let fake = bot.lead_id();
    assert!(fake.starts_with("lead_"));
    // ...but there is no such lead and nothing was announced; the hit is counted.
    let missing = h
        .grpc
        .get_lead(with_tenant(GetLeadRequest { lead_id: fake }, "acme"))
        .await
        .unwrap_err();
    assert_eq!(missing.code(), tonic::Code::NotFound);
    assert_no_announcement(&mut announced, "a honeypot post stores nothing").await;
    let forms = h
        .grpc
        .list_web_forms(with_tenant(ListWebFormsRequest {}, "acme"))
        .await
        .unwrap()
        .into_inner()
        .forms;
    assert_eq!(forms[0].honeypot_hits, 1);
    h.stop().await;
}

#[tokio::test]
async fn a_client_over_the_rate_limit_is_told_to_wait() {
    let mut h = HttpHarness::start(Backend::Sqlite).await;
    upsert_form(
        &mut h,
        "form-1",
        WebForm {
            rate_limit_per_minute: 2,
            ..contact_form()
        },
    )
    .await;
    for n in 0..2 {
        let ok = h
            .post_form(PATH, &[], &format!("your-name=Ann&tel=1380013800{n}"))
            .await;
        assert_eq!(ok.status, 201, "{}", ok.text());
    }
    let third = h
        .post_form(PATH, &[], "your-name=Ann&tel=13800138009")
        .await;
    assert_eq!(third.status, 429);
    let wait: u64 = third
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .expect("seconds");
    assert!((1..=60).contains(&wait), "retry after {wait}");
    h.stop().await;
}

#[tokio::test]
async fn bad_posts_get_each_field_violation_in_the_grpc_words() {
    let mut h = HttpHarness::start(Backend::Sqlite).await;
    let mut announced = h.announcements().await;
    upsert_form(&mut h, "form-1", contact_form()).await;
    h.grpc
        .upsert_field_schema(with_tenant(
            UpsertFieldSchemaRequest {
                idempotency_key: "schema-1".into(),
                fields: vec![FieldDefinition {
                    key: "need".into(),
                    r#type: FieldType::Text as i32,
                    label_zh: "需求描述".into(),
                    label_en: "Need".into(),
                    required_channels: vec!["web_form".into()],
                    ..Default::default()
                }],
                expected_version: 0,
            },
            "acme",
        ))
        .await
        .unwrap();

    let answer = h
        .post_json(
            PATH,
            &[("origin", ORIGIN)],
            r#"{"your-name":"王伟","tel":"12","email":"not-an-email"}"#,
        )
        .await;
    assert_eq!(answer.status, 422, "{}", answer.text());
    // The browser may read the refusal too.
    assert_eq!(answer.header("access-control-allow-origin"), Some(ORIGIN));
    let body = answer.json();
    let violations = body["violations"].as_array().expect("violations");
    let fields: Vec<&str> = violations
        .iter()
        .map(|v| v["field"].as_str().unwrap())
        .collect();
    assert!(fields.contains(&"lead.need"), "{fields:?}");
    assert!(fields.contains(&"lead.phone"), "{fields:?}");
    assert!(fields.contains(&"lead.email"), "{fields:?}");
    assert_no_announcement(&mut announced, "a refused post stores nothing").await;

    // The same lead through gRPC on the web_form channel's rules would read the same:
    // compare with SubmitLead on a schema that requires `need` everywhere.
    let grpc = h
        .grpc
        .submit_lead(with_tenant(
            SubmitLeadRequest {
                idempotency_key: String::new(),
                lead: Some(Lead {
                    contact_name: "王伟".into(),
                    phone: "12".into(),
                    email: "not-an-email".into(),
                    ..Default::default()
                }),
            },
            "acme",
        ))
        .await
        .unwrap_err();
    let grpc_fields = violated_fields(&grpc);
    let grpc_words = violation_descriptions(&grpc);
    for (field, words) in grpc_fields.iter().zip(&grpc_words) {
        let http = violations
            .iter()
            .find(|v| v["field"] == field.as_str())
            .unwrap_or_else(|| panic!("{field} missing over HTTP"));
        assert_eq!(http["description"].as_str().unwrap(), words);
    }
    h.stop().await;
}
