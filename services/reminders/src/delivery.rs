//! The webhook sender: claims pending deliveries whose attempt is due and POSTs them.
//!
//! Delivery rows are written by the timer in the transaction that fires the reminder, so
//! nothing is lost or added by a restart. Each attempt is claimed first (a lease in the
//! row), then sent with the delivery id as `Idempotency-Key`, then recorded: delivered, or
//! retried after an exponentially growing wait, or failed after the last attempt. A
//! sender that dies between sending and recording leaves the lease to run out and the
//! delivery to be sent again: at least once, and the key lets the endpoint drop repeats.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use shangji_contracts::time::now_millis;
use shangji_platform::Db;
use tokio_util::sync::CancellationToken;

use crate::config::RemindersConfig;
use crate::domain::{WebhookFormat, dingtalk_url, retry_delay_ms};
use crate::store::webhooks::{self, ClaimedDelivery, Outcome};

/// Deliveries claimed per round at most.
const BATCH: u32 = 100;
/// Longest answer body read (robots answer a few bytes of JSON).
const MAX_ANSWER_BYTES: usize = 64 * 1024;

pub type HttpClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// An HTTP/1 client for http:// and https:// endpoints (rustls on ring, the system's
/// root certificates).
pub fn http_client() -> anyhow::Result<HttpClient> {
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for cert in native.certs {
        // A certificate the system has but rustls cannot use is skipped, not fatal.
        let _ = roots.add(cert);
    }
    if roots.is_empty() {
        tracing::warn!("no system root certificates found; https webhooks will fail");
    }
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .build();
    Ok(Client::builder(TokioExecutor::new()).build(connector))
}

/// What one round did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SendRound {
    pub claimed: usize,
    pub delivered: usize,
    pub failed: usize,
}

/// Sends due deliveries every `webhook_tick_ms` until `shutdown`.
pub async fn run(
    db: Db,
    config: RemindersConfig,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let client = http_client()?;
    let tick = Duration::from_millis(config.webhook_tick_ms);
    loop {
        let pause = match send_due(&db, &client, &config, now_millis()).await {
            Ok(round) if round.claimed >= BATCH as usize => Duration::ZERO,
            Ok(_) => tick,
            Err(err) => {
                tracing::warn!(
                    error = format!("{err:#}"),
                    "webhook round failed; retrying next tick"
                );
                tick
            }
        };
        tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            _ = tokio::time::sleep(pause) => {}
        }
    }
}

/// One round: claims the deliveries due by `now` and attempts each.
pub async fn send_due(
    db: &Db,
    client: &HttpClient,
    config: &RemindersConfig,
    now: i64,
) -> anyhow::Result<SendRound> {
    // The lease outlasts an attempt, so a live sender is never overtaken by another.
    let lease_ms = i64::try_from(config.webhook_timeout_ms.saturating_mul(2))
        .unwrap_or(i64::MAX)
        .saturating_add(1_000);
    let claimed = webhooks::claim_due(db, now, lease_ms, BATCH).await?;
    let mut round = SendRound {
        claimed: claimed.len(),
        ..SendRound::default()
    };
    for delivery in &claimed {
        let outcome = match attempt(client, delivery, config).await {
            Ok(status) => Outcome::Delivered { status },
            Err((status, error)) => {
                let retry_at = (delivery.attempts < config.webhook_max_attempts).then(|| {
                    now_millis() + retry_delay_ms(config.webhook_retry_base_ms, delivery.attempts)
                });
                tracing::warn!(
                    tenant_id = %delivery.tenant_id,
                    delivery_id = %delivery.delivery_id,
                    webhook_id = %delivery.webhook_id,
                    attempt = delivery.attempts,
                    status,
                    error = %error,
                    gives_up = retry_at.is_none(),
                    "webhook delivery failed"
                );
                Outcome::Failed {
                    status,
                    error,
                    retry_at,
                }
            }
        };
        match &outcome {
            Outcome::Delivered { .. } => round.delivered += 1,
            Outcome::Failed { .. } => round.failed += 1,
        }
        webhooks::record_attempt(db, &delivery.delivery_id, &outcome, now_millis()).await?;
    }
    if round.delivered > 0 {
        metrics::counter!("shangji_reminders_webhook_delivered_total")
            .increment(round.delivered as u64);
    }
    if round.failed > 0 {
        metrics::counter!("shangji_reminders_webhook_failed_attempts_total")
            .increment(round.failed as u64);
    }
    Ok(round)
}

/// One POST: the HTTP status when the endpoint accepted it, else the status (0 for no
/// answer) and why.
async fn attempt(
    client: &HttpClient,
    delivery: &ClaimedDelivery,
    config: &RemindersConfig,
) -> Result<u16, (u16, String)> {
    let url = if delivery.format.is_dingtalk() {
        dingtalk_url(&delivery.url, &delivery.secret, now_millis())
    } else {
        delivery.url.clone()
    };
    let request = http::Request::post(url)
        .header(
            http::header::CONTENT_TYPE,
            "application/json; charset=utf-8",
        )
        .header("idempotency-key", &delivery.delivery_id)
        .header("x-shangji-delivery-attempt", delivery.attempts.to_string())
        .body(Full::new(Bytes::from(delivery.body.clone())))
        .map_err(|e| (0, format!("bad request: {e}")))?;
    let timeout = Duration::from_millis(config.webhook_timeout_ms);
    let exchange = async {
        let response = client
            .request(request)
            .await
            .map_err(|e| (0, format!("no answer: {e}")))?;
        let status = response.status().as_u16();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| (status, format!("answer cut off: {e}")))?
            .to_bytes();
        Ok::<_, (u16, String)>((status, body))
    };
    let (status, body) = tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| {
            (
                0,
                format!("no answer within {} ms", config.webhook_timeout_ms),
            )
        })??;
    if !(200..300).contains(&status) {
        let text = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
        return Err((status, format!("HTTP {status}: {text}")));
    }
    if delivery.format.is_robot() {
        robot_verdict(delivery.format, &body[..body.len().min(MAX_ANSWER_BYTES)])
            .map_err(|e| (status, e))?;
    }
    Ok(status)
}

/// WeCom and DingTalk answer 200 even when they refuse; `errcode` 0 means accepted.
fn robot_verdict(format: WebhookFormat, body: &[u8]) -> Result<(), String> {
    let answer: serde_json::Value = serde_json::from_slice(body)
        .map_err(|_| format!("{} robot answered no JSON", format.as_str()))?;
    match answer.get("errcode").and_then(|c| c.as_i64()) {
        Some(0) => Ok(()),
        Some(code) => Err(format!(
            "robot errcode {code}: {}",
            answer.get("errmsg").and_then(|m| m.as_str()).unwrap_or("")
        )),
        None => Err("robot answer has no errcode".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn robots_refuse_with_a_nonzero_errcode() {
        let wecom = WebhookFormat::WecomText;
        assert_eq!(
            robot_verdict(wecom, br#"{"errcode":0,"errmsg":"ok"}"#),
            Ok(())
        );
        assert_eq!(
            robot_verdict(
                wecom,
                br#"{"errcode":93000,"errmsg":"invalid webhook url"}"#
            ),
            Err("robot errcode 93000: invalid webhook url".to_owned())
        );
        assert!(robot_verdict(WebhookFormat::DingtalkText, b"<html>").is_err());
    }
}
