//! Webhook connectors through a real HTTP client against intake on real NATS: a signed
//! generic JSON webhook (and bad signatures, refused), inbound e-mail parse, and a
//! WeChat Official Account callback (URL verification, XML messages, retries).

mod http_support;
mod support;

use std::collections::BTreeMap;

use hmac::{KeyInit as _, Mac as _};
use http_support::{HttpHarness, assert_no_announcement, next_announcement};
use sha1::Digest as _;
use shangji_contracts::intake::{
    Connector, ConnectorKind, GetLeadRequest, ListConnectorsRequest, UpsertConnectorRequest,
};
use support::{Backend, postgres_or_skip, with_tenant};

const SECRET: &str = "whsec-acme-0123456789";
const WECHAT_TOKEN: &str = "shangjiToken2026";

/// What a sending system computes: HMAC-SHA256 over `<timestamp>.<body>` (or the body).
fn sign(body: &str, timestamp: Option<&str>) -> String {
    let mut mac = hmac::Hmac::<webhook_sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    if let Some(ts) = timestamp {
        mac.update(format!("{ts}.").as_bytes());
    }
    mac.update(body.as_bytes());
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// WeChat's signature: sha1 of token, timestamp and nonce, sorted and joined.
fn wechat_signature(timestamp: &str, nonce: &str) -> String {
    let mut parts = [WECHAT_TOKEN, timestamp, nonce];
    parts.sort_unstable();
    hex::encode(sha1::Sha1::digest(parts.concat().as_bytes()))
}

fn connector(id: &str, kind: ConnectorKind, secret: &str, mapping: &[(&str, &str)]) -> Connector {
    Connector {
        connector_id: id.into(),
        kind: kind as i32,
        secret: secret.into(),
        field_mapping: mapping
            .iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect::<BTreeMap<_, _>>(),
        default_source: "erp".into(),
        active: true,
        ..Default::default()
    }
}

async fn upsert(h: &mut HttpHarness, key: &str, c: Connector) -> Connector {
    h.grpc
        .upsert_connector(with_tenant(
            UpsertConnectorRequest {
                idempotency_key: key.into(),
                connector: Some(c),
                expected_version: 0,
            },
            "acme",
        ))
        .await
        .expect("upsert connector")
        .into_inner()
        .connector
        .expect("connector")
}

fn now_secs() -> String {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .to_string()
}

async fn signed_json_webhooks_become_leads(backend: Backend) {
    let mut h = HttpHarness::start(backend).await;
    let mut announced = h.announcements().await;
    let stored = upsert(
        &mut h,
        "c-1",
        connector(
            "erp",
            ConnectorKind::GenericJson,
            SECRET,
            &[
                ("contact_name", "/customer/name"),
                ("phone", "customer.phones.0"),
                ("company", "$.customer.company"),
                ("need", "/request"),
                ("utm_campaign", "/tracking/campaign"),
                ("erp_id", "/id"),
            ],
        ),
    )
    .await;
    // Secrets are write-only.
    assert!(stored.secret.is_empty());
    assert!(stored.secret_set);
    let listed = h
        .grpc
        .list_connectors(with_tenant(ListConnectorsRequest {}, "acme"))
        .await
        .unwrap()
        .into_inner()
        .connectors;
    assert_eq!(listed.len(), 1);
    assert!(listed[0].secret.is_empty() && listed[0].secret_set);

    let body = r#"{"id":4711,"customer":{"name":"王伟","company":"北京华为科技有限公司",
        "phones":["13800138000"]},"request":"50 seats","tracking":{"campaign":"q4-push"}}"#;
    let path = "/hooks/acme/erp";

    // A wrong signature, a missing one and a stale timestamp are refused, storing nothing.
    let forged = h
        .post_json(path, &[("x-shangji-signature", "sha256=00ff")], body)
        .await;
    assert_eq!(forged.status, 401, "{}", forged.text());
    let unsigned = h.post_json(path, &[], body).await;
    assert_eq!(unsigned.status, 401);
    let old = "1700000000";
    let stale = h
        .post_json(
            path,
            &[
                ("x-shangji-signature", &sign(body, Some(old))),
                ("x-shangji-timestamp", old),
            ],
            body,
        )
        .await;
    assert_eq!(stale.status, 401);
    assert_no_announcement(&mut announced, "refused webhooks store nothing").await;

    // Signed (with a fresh timestamp): a lead, with the payload mapped.
    let ts = now_secs();
    let signed = [
        ("x-shangji-signature", sign(body, Some(&ts))),
        ("x-shangji-timestamp", ts.clone()),
    ];
    let signed: Vec<(&str, &str)> = signed.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let answer = h.post_json(path, &signed, body).await;
    assert_eq!(answer.status, 201, "{}", answer.text());
    let lead_id = answer.lead_id();
    let lead = h
        .grpc
        .get_lead(with_tenant(
            GetLeadRequest {
                lead_id: lead_id.clone(),
            },
            "acme",
        ))
        .await
        .unwrap()
        .into_inner()
        .lead
        .unwrap();
    assert_eq!(lead.contact_name, "王伟");
    assert_eq!(lead.phone, "13800138000");
    assert_eq!(lead.company, "北京华为科技有限公司");
    assert_eq!(lead.need, "50 seats");
    assert_eq!(lead.source, "erp");
    assert_eq!(lead.custom_fields["erp_id"], "4711");
    let source = h
        .grpc
        .get_lead_source(with_tenant(
            GetLeadRequest {
                lead_id: lead_id.clone(),
            },
            "acme",
        ))
        .await
        .unwrap()
        .into_inner()
        .attribution
        .unwrap();
    assert_eq!(
        (source.channel.as_str(), source.channel_id.as_str()),
        ("webhook", "erp")
    );
    assert_eq!(source.utm_campaign, "q4-push");
    let (_, event) = next_announcement(&mut announced).await;
    assert_eq!(event.lead_id, lead_id);
    assert_eq!(event.channel, "webhook");

    // The sender retries the same delivery: the same lead, nothing new.
    let retry = h.post_json(path, &signed, body).await;
    assert_eq!(retry.status, 200);
    assert_eq!(retry.lead_id(), lead_id);
    assert_no_announcement(&mut announced, "a retried webhook makes no second lead").await;

    // Editing the connector without sending the secret keeps the stored one.
    let edited = upsert(
        &mut h,
        "c-2",
        connector(
            "erp",
            ConnectorKind::GenericJson,
            "",
            &[("contact_name", "/name"), ("phone", "/tel")],
        ),
    )
    .await;
    assert_eq!(edited.version, 2);
    let body = r#"{"name":"赵敏","tel":"13700137000"}"#;
    let answer = h
        .post_json(path, &[("x-shangji-signature", &sign(body, None))], body)
        .await;
    assert_eq!(answer.status, 201, "{}", answer.text());
    let (_, event) = next_announcement(&mut announced).await;
    assert_eq!(event.lead.unwrap().contact_name, "赵敏");
    h.stop().await;
}

#[tokio::test]
async fn signed_json_webhooks_become_leads_on_sqlite() {
    signed_json_webhooks_become_leads(Backend::Sqlite).await;
}

#[tokio::test]
async fn signed_json_webhooks_become_leads_on_postgres() {
    if postgres_or_skip("signed_json_webhooks_become_leads_on_postgres") {
        signed_json_webhooks_become_leads(Backend::Postgres).await;
    }
}

#[tokio::test]
async fn inbound_mail_becomes_a_lead() {
    let mut h = HttpHarness::start(Backend::Sqlite).await;
    let mut announced = h.announcements().await;
    upsert(
        &mut h,
        "c-1",
        connector("mailbox", ConnectorKind::EmailParse, SECRET, &[]),
    )
    .await;
    let path = "/hooks/acme/mailbox";

    let json = r#"{"from":"\"王伟\" <wang.wei@sohu.com>","subject":"CRM 报价咨询",
        "text":"您好，我们 50 人的销售团队需要 CRM。请回电 138-0013-8000。"}"#;
    let answer = h
        .post_json(path, &[("x-shangji-signature", &sign(json, None))], json)
        .await;
    assert_eq!(answer.status, 201, "{}", answer.text());
    let (_, event) = next_announcement(&mut announced).await;
    assert_eq!(event.channel, "email");
    let lead = event.lead.unwrap();
    assert_eq!(lead.contact_name, "王伟");
    assert_eq!(lead.email, "wang.wei@sohu.com");
    assert_eq!(lead.phone, "138-0013-8000");
    assert!(lead.need.starts_with("CRM 报价咨询\n\n您好"));

    // Form-encoded, as Mailgun posts it.
    let form = "sender=li.na%40sina.com&subject=Pricing&body-plain=Call+me+at+%2B86+13900139000";
    let answer = h
        .post_form(path, &[("x-shangji-signature", &sign(form, None))], form)
        .await;
    assert_eq!(answer.status, 201, "{}", answer.text());
    let (_, event) = next_announcement(&mut announced).await;
    let lead = event.lead.unwrap();
    assert_eq!(lead.contact_name, "li.na");
    assert_eq!(lead.phone, "+86 13900139000");

    // Unsigned mail is refused.
    let unsigned = h.post_form(path, &[], form).await;
    assert_eq!(unsigned.status, 401);
    assert_no_announcement(&mut announced, "unsigned mail stores nothing").await;
    h.stop().await;
}

#[tokio::test]
async fn wechat_official_account_callbacks_are_verified_and_deduplicated() {
    let mut h = HttpHarness::start(Backend::Sqlite).await;
    let mut announced = h.announcements().await;
    upsert(
        &mut h,
        "c-1",
        connector(
            "wx-main",
            ConnectorKind::WechatOfficialAccount,
            WECHAT_TOKEN,
            &[],
        ),
    )
    .await;
    let ts = now_secs();
    let nonce = "438291";
    let good = wechat_signature(&ts, nonce);
    let query = |sig: &str| format!("?signature={sig}&timestamp={ts}&nonce={nonce}");

    // The console's URL check: echo echostr when the signature is right.
    let verified = h
        .send(
            "GET",
            &format!("/hooks/acme/wx-main{}&echostr=7342018264738", query(&good)),
            &[],
            "",
        )
        .await;
    assert_eq!(verified.status, 200);
    assert_eq!(verified.text(), "7342018264738");
    let bad = h
        .send(
            "GET",
            &format!(
                "/hooks/acme/wx-main{}&echostr=1",
                query(&wechat_signature(&ts, "other"))
            ),
            &[],
            "",
        )
        .await;
    assert_eq!(bad.status, 401);

    let xml = format!(
        "<xml><ToUserName><![CDATA[gh_0123456789ab]]></ToUserName>\
         <FromUserName><![CDATA[oX3kT5abcdEFGH12345]]></FromUserName>\
         <CreateTime>{ts}</CreateTime><MsgType><![CDATA[text]]></MsgType>\
         <Content><![CDATA[想了解你们的 CRM，电话 13800138000]]></Content>\
         <MsgId>23456789012345678</MsgId></xml>"
    );
    let path = format!(
        "/hooks/acme/wx-main{}&openid=oX3kT5abcdEFGH12345",
        query(&good)
    );
    let headers = [("content-type", "text/xml")];

    // A wrong signature stores nothing.
    let forged = h
        .send(
            "POST",
            &format!("/hooks/acme/wx-main{}", query("0123abcd")),
            &headers,
            xml.clone(),
        )
        .await;
    assert_eq!(forged.status, 401);
    assert_no_announcement(&mut announced, "a forged WeChat call stores nothing").await;

    let first = h.send("POST", &path, &headers, xml.clone()).await;
    assert_eq!(first.status, 200);
    assert_eq!(first.text(), "success");
    let (_, event) = next_announcement(&mut announced).await;
    assert_eq!(event.channel, "wechat");
    let lead = event.lead.unwrap();
    assert_eq!(lead.custom_fields["wechat_openid"], "oX3kT5abcdEFGH12345");
    assert_eq!(lead.phone, "13800138000");
    assert_eq!(lead.need, "想了解你们的 CRM，电话 13800138000");

    // WeChat retries when it does not hear back in time: the MsgId makes it one lead.
    for _ in 0..2 {
        let retry = h.send("POST", &path, &headers, xml.clone()).await;
        assert_eq!((retry.status, retry.text().as_str()), (200, "success"));
    }
    assert_no_announcement(&mut announced, "WeChat's retries make no second lead").await;

    // A subscription event is acknowledged and is no lead.
    let subscribe = "<xml><ToUserName><![CDATA[gh_0123456789ab]]></ToUserName>\
        <FromUserName><![CDATA[oNew]]></FromUserName><CreateTime>1</CreateTime>\
        <MsgType><![CDATA[event]]></MsgType><Event><![CDATA[subscribe]]></Event></xml>";
    let ack = h.send("POST", &path, &headers, subscribe.to_owned()).await;
    assert_eq!((ack.status, ack.text().as_str()), (200, "success"));
    assert_no_announcement(&mut announced, "events are not leads").await;
    h.stop().await;
}
