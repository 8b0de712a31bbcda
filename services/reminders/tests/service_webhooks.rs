//! Outbound webhooks end to end: the service POSTs to a real HTTP endpoint on 127.0.0.1
//! that counts calls, retries one that fails twice, and sends nothing twice across a
//! restart.

mod support;

use shangji_contracts::events::Domain;
use shangji_contracts::events::opportunity::OpportunityCreated;
use shangji_contracts::reminders::{
    Delivery, DeliveryState, ListDeliveriesRequest, UpsertWebhookRequest, Webhook, WebhookFormat,
};
use shangji_contracts::time::{from_millis, now_millis};
use shangji_reminders::RemindersConfig;
use shangji_testkit::poll_until;
use support::http_sink::HttpSink;
use support::{Harness, POLL, WAIT, request};
use tonic::Code;

fn config() -> RemindersConfig {
    RemindersConfig {
        // First contact due at once, so each new opportunity fires straight away.
        first_contact_hours: 0,
        tick_ms: 20,
        webhook_tick_ms: 20,
        webhook_retry_base_ms: 50,
        webhook_timeout_ms: 2_000,
        ..Default::default()
    }
}

async fn add_webhook(h: &Harness, url: String, format: WebhookFormat, secret: &str) -> Webhook {
    h.grpc
        .clone()
        .upsert_webhook(request(
            "acme",
            UpsertWebhookRequest {
                webhook: Some(Webhook {
                    url,
                    format: format as i32,
                    secret: secret.to_owned(),
                    enabled: true,
                    ..Default::default()
                }),
                idempotency_key: String::new(),
            },
        ))
        .await
        .expect("webhook stored")
        .into_inner()
        .webhook
        .expect("webhook")
}

async fn deliveries(h: &Harness) -> Vec<Delivery> {
    h.grpc
        .clone()
        .list_deliveries(request("acme", ListDeliveriesRequest::default()))
        .await
        .expect("ListDeliveries answers")
        .into_inner()
        .deliveries
}

async fn open(h: &Harness, opportunity_id: &str) {
    let (_, seq) = h
        .publish(
            "acme",
            &OpportunityCreated {
                opportunity_id: opportunity_id.to_owned(),
                owner_rep_id: "rep_a".to_owned(),
                name: format!("{opportunity_id} deal"),
                created_at: Some(from_millis(now_millis())),
                ..Default::default()
            },
        )
        .await;
    h.consumed(Domain::Opportunity, seq).await;
}

/// Waits until `n` deliveries are logged and none is pending.
async fn settled(h: &Harness, n: usize) -> Vec<Delivery> {
    poll_until("deliveries settled", WAIT, POLL, || async {
        let all = deliveries(h).await;
        let pending = all
            .iter()
            .filter(|d| d.state == DeliveryState::Pending as i32)
            .count();
        if all.len() == n && pending == 0 {
            Ok(all)
        } else {
            Err(format!("{} logged, {pending} pending", all.len()))
        }
    })
    .await
    .expect("deliveries settle")
}

#[tokio::test]
async fn reminders_reach_robots_with_retries_and_no_repeats_after_a_restart() {
    let sink = HttpSink::start(&[("/dingtalk", 2)]).await;
    let mut h = Harness::start(config()).await;
    let wecom = add_webhook(
        &h,
        format!("{}/wecom?key=k1", sink.base_url),
        WebhookFormat::WecomMarkdown,
        "",
    )
    .await;
    let ding = add_webhook(
        &h,
        format!("{}/dingtalk?access_token=t1", sink.base_url),
        WebhookFormat::DingtalkText,
        "SECtest",
    )
    .await;
    assert!(
        ding.has_secret && ding.secret.is_empty(),
        "the secret is never echoed"
    );

    open(&h, "opp_1").await;
    let log = settled(&h, 2).await;
    let by_hook = |id: &str| {
        log.iter()
            .find(|d| d.webhook_id == id)
            .expect("a delivery per webhook")
            .clone()
    };
    let to_wecom = by_hook(&wecom.webhook_id);
    let to_ding = by_hook(&ding.webhook_id);
    assert_eq!(
        (to_wecom.state, to_wecom.attempts),
        (DeliveryState::Delivered as i32, 1)
    );
    assert_eq!(
        (to_ding.state, to_ding.attempts, to_ding.last_status),
        (DeliveryState::Delivered as i32, 3, 200),
        "failed twice, then delivered"
    );
    assert_eq!(to_ding.event_type, "reminder.due");

    let wecom_calls = sink.calls_to("/wecom");
    assert_eq!(wecom_calls.len(), 1);
    let body: serde_json::Value = serde_json::from_str(&wecom_calls[0].body).expect("json");
    assert_eq!(body["msgtype"], "markdown");
    assert!(
        body["markdown"]["content"]
            .as_str()
            .expect("content")
            .contains("first contact due for opportunity opp_1 deal"),
        "{body}"
    );
    let ding_calls = sink.calls_to("/dingtalk");
    assert_eq!(ding_calls.len(), 3);
    for call in &ding_calls {
        assert_eq!(
            call.headers.get("idempotency-key"),
            Some(&to_ding.delivery_id),
            "every retry carries the same key"
        );
        assert!(
            call.target.contains("access_token=t1&timestamp="),
            "{}",
            call.target
        );
        assert!(call.target.contains("&sign="), "signed: {}", call.target);
    }
    let body: serde_json::Value = serde_json::from_str(&ding_calls[2].body).expect("json");
    assert_eq!(body["msgtype"], "text");

    // A restart sends nothing again; a reminder after it is delivered once per webhook.
    h.restart(config()).await;
    open(&h, "opp_2").await;
    settled(&h, 4).await;
    assert_eq!(sink.calls_to("/wecom").len(), 2, "one call per reminder");
    assert_eq!(
        sink.calls_to("/dingtalk").len(),
        4,
        "three for opp_1, one for opp_2"
    );
    h.stop().await;
}

#[tokio::test]
async fn a_webhook_that_always_fails_is_logged_as_failed() {
    let sink = HttpSink::start(&[("/down", 100)]).await;
    let h = Harness::start(RemindersConfig {
        webhook_max_attempts: 3,
        ..config()
    })
    .await;
    add_webhook(
        &h,
        format!("{}/down", sink.base_url),
        WebhookFormat::GenericJson,
        "",
    )
    .await;
    open(&h, "opp_1").await;
    let log = settled(&h, 1).await;
    assert_eq!(
        (log[0].state, log[0].attempts, log[0].last_status),
        (DeliveryState::Failed as i32, 3, 500)
    );
    assert!(
        log[0].last_error.contains("HTTP 500"),
        "{}",
        log[0].last_error
    );
    assert_eq!(sink.calls_to("/down").len(), 3, "no attempt after the last");
    let body: serde_json::Value =
        serde_json::from_str(&sink.calls_to("/down")[0].body).expect("json");
    assert_eq!(
        (body["event"].as_str(), body["opportunity_id"].as_str()),
        (Some("reminder.due"), Some("opp_1"))
    );
    h.stop().await;
}

#[tokio::test]
async fn bad_webhooks_are_refused_by_field() {
    let h = Harness::start(config()).await;
    let err = h
        .grpc
        .clone()
        .upsert_webhook(request(
            "acme",
            UpsertWebhookRequest {
                webhook: Some(Webhook {
                    url: "ftp://example.com".to_owned(),
                    ..Default::default()
                }),
                idempotency_key: String::new(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("webhook.url"), "{}", err.message());
    assert!(
        err.message().contains("webhook.format"),
        "{}",
        err.message()
    );
    let err = h
        .grpc
        .clone()
        .upsert_webhook(request(
            "acme",
            UpsertWebhookRequest {
                webhook: Some(Webhook {
                    webhook_id: "whk_missing".to_owned(),
                    url: "https://example.com/hook".to_owned(),
                    format: WebhookFormat::GenericJson as i32,
                    ..Default::default()
                }),
                idempotency_key: String::new(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    h.stop().await;
}
