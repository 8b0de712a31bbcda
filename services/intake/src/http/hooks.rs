//! `/hooks/{tenant}/{connector}`: systems that push leads. Each connector kind checks
//! its own signature before anything is read or stored (401 otherwise), then maps its
//! payload to a lead that goes through capture like any other.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use sha2::{Digest as _, Sha256};
use shangji_contracts::intake::{Connector, ConnectorKind};
use shangji_contracts::time::now_millis;
use shangji_platform::grpc::{ApiError, RequestContext};

use super::body::{self, BodyError};
use super::mapping::Filled;
use super::signature::{self, SignatureError};
use super::{HttpChannels, context, email, header_text, json_path, reply, wechat};
use crate::capture::Submission;
use crate::store;

const SIGNATURE_HEADER: &str = "x-shangji-signature";
const TIMESTAMP_HEADER: &str = "x-shangji-timestamp";

pub async fn post(
    State(http): State<Arc<HttpChannels>>,
    Path((tenant, connector_id)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some((ctx, connector)) = active_connector(&http, &tenant, &connector_id).await else {
        return no_such_connector();
    };
    match ConnectorKind::try_from(connector.kind).unwrap_or(ConnectorKind::Unspecified) {
        ConnectorKind::GenericJson => {
            if let Err(err) = check_hmac(&http, &connector, &headers, &body) {
                return unauthorized(&ctx, &connector, err.describe());
            }
            let payload: serde_json::Value = match serde_json::from_slice(&body) {
                Ok(payload) => payload,
                Err(e) => {
                    return reply::error(
                        StatusCode::BAD_REQUEST,
                        &format!("the body is not valid JSON: {e}"),
                    );
                }
            };
            let mut filled = Filled::default();
            for (target, path) in &connector.field_mapping {
                if let Some(value) = json_path::lookup(&payload, path).and_then(body::as_text) {
                    filled.set(target.trim(), &value);
                }
            }
            let key = body_key(&connector, &headers, &body);
            capture(&http, &ctx, &connector, "webhook", filled, key).await
        }
        ConnectorKind::EmailParse => {
            if let Err(err) = check_hmac(&http, &connector, &headers, &body) {
                return unauthorized(&ctx, &connector, err.describe());
            }
            let fields = match body::fields(&headers, &body) {
                Ok(fields) => fields,
                Err(BodyError::Unsupported(why)) => {
                    return reply::error(StatusCode::UNSUPPORTED_MEDIA_TYPE, &why);
                }
                Err(BodyError::Malformed(why)) => {
                    return reply::error(StatusCode::BAD_REQUEST, &why);
                }
            };
            let key = body_key(&connector, &headers, &body);
            capture(
                &http,
                &ctx,
                &connector,
                "email",
                email::lead_of(&fields),
                key,
            )
            .await
        }
        ConnectorKind::WechatOfficialAccount => {
            let query = WechatQuery::parse(query.as_deref());
            if !wechat::verify(
                &connector.secret,
                &query.timestamp,
                &query.nonce,
                &query.signature,
            ) {
                return unauthorized(&ctx, &connector, "the WeChat signature does not match");
            }
            wechat_message(&http, &ctx, &connector, &body).await
        }
        ConnectorKind::Unspecified => no_such_connector(),
    }
}

/// GET: WeChat verifies the server URL; a correct signature is answered with `echostr`.
pub async fn verify(
    State(http): State<Arc<HttpChannels>>,
    Path((tenant, connector_id)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Response {
    let Some((ctx, connector)) = active_connector(&http, &tenant, &connector_id).await else {
        return no_such_connector();
    };
    if connector.kind != ConnectorKind::WechatOfficialAccount as i32 {
        return reply::error(
            StatusCode::METHOD_NOT_ALLOWED,
            "only WeChat connectors answer GET; post the payload",
        );
    }
    let query = WechatQuery::parse(query.as_deref());
    if !wechat::verify(
        &connector.secret,
        &query.timestamp,
        &query.nonce,
        &query.signature,
    ) {
        return unauthorized(&ctx, &connector, "the WeChat signature does not match");
    }
    reply::text(StatusCode::OK, query.echostr)
}

async fn wechat_message(
    http: &HttpChannels,
    ctx: &RequestContext,
    connector: &Connector,
    body: &[u8],
) -> Response {
    let message = match std::str::from_utf8(body)
        .map_err(|_| "the body must be UTF-8 XML".to_owned())
        .and_then(wechat::parse)
    {
        Ok(message) => message,
        Err(why) => return reply::error(StatusCode::BAD_REQUEST, &why),
    };
    // Only text messages describe a need; subscriptions, clicks and media are
    // acknowledged and left alone.
    if message.msg_type != "text" || message.content.trim().is_empty() {
        return reply::text(StatusCode::OK, "success".to_owned());
    }
    let mut filled = Filled::default();
    filled.set("wechat_openid", &message.from_user);
    filled.set("need", &message.content);
    if let Some(phone) = email::find_phone(&message.content) {
        filled.set("phone", &phone);
    }
    // A lead names somebody; all WeChat tells is the follower's OpenID.
    filled.set(
        "contact_name",
        &format!("微信用户 {}", short(&message.from_user)),
    );
    // WeChat retries a message it got no answer for; its MsgId makes them one lead.
    let id = if message.msg_id.is_empty() {
        format!("{}:{}", message.from_user, message.create_time)
    } else {
        message.msg_id.clone()
    };
    let key = format!(
        "wechat:{}:{}",
        connector.connector_id,
        digest(id.as_bytes())
    );
    let answer = capture(http, ctx, connector, "wechat", filled, key).await;
    match answer.status() {
        status if status.is_success() => reply::text(StatusCode::OK, "success".to_owned()),
        // A message intake cannot take (a field over its length limit, say) would make
        // WeChat retry and then tell the follower the account is unavailable:
        // acknowledge it, keep nothing. (The OpenID makes every text message reachable.)
        StatusCode::UNPROCESSABLE_ENTITY => {
            metrics::counter!("shangji_intake_http_rejected_total", "reason" => "wechat_not_a_lead")
                .increment(1);
            tracing::info!(tenant.id = %ctx.tenant_id, connector.id = %connector.connector_id, "wechat message is not a lead: acknowledged, not stored");
            reply::text(StatusCode::OK, "success".to_owned())
        }
        _ => answer,
    }
}

async fn capture(
    http: &HttpChannels,
    ctx: &RequestContext,
    connector: &Connector,
    channel: &str,
    mut filled: Filled,
    idempotency_key: String,
) -> Response {
    filled.set_if_empty("source", &connector.default_source);
    filled.set_if_empty("campaign", &connector.default_campaign);
    let submission = Submission {
        idempotency_key,
        lead: Some(filled.lead),
        attribution: Some(filled.attribution),
        channel: channel.to_owned(),
        channel_id: connector.connector_id.clone(),
    };
    match http.capture.accept(ctx, submission).await {
        Ok(accepted) => reply::lead(&accepted.lead_id, accepted.replayed),
        Err(err) => reply::api_error(err),
    }
}

fn check_hmac(
    http: &HttpChannels,
    connector: &Connector,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), SignatureError> {
    signature::verify(
        &connector.secret,
        body,
        header_text(headers, SIGNATURE_HEADER),
        header_text(headers, TIMESTAMP_HEADER),
        now_millis() / 1000,
        http.config.webhook_max_skew_secs,
    )
}

/// The sender's `Idempotency-Key`, else the body itself: a webhook retry resends the
/// same body, and it must not make a second lead.
fn body_key(connector: &Connector, headers: &HeaderMap, body: &[u8]) -> String {
    let material = match header_text(headers, "idempotency-key") {
        Some(key) if !key.trim().is_empty() => key.trim().as_bytes(),
        _ => body,
    };
    format!("hook:{}:{}", connector.connector_id, digest(material))
}

fn digest(material: &[u8]) -> String {
    hex::encode(&Sha256::digest(material)[..16])
}

fn short(open_id: &str) -> String {
    let chars: Vec<char> = open_id.chars().collect();
    chars[chars.len().saturating_sub(6)..].iter().collect()
}

async fn active_connector(
    http: &HttpChannels,
    tenant: &str,
    connector_id: &str,
) -> Option<(RequestContext, Connector)> {
    let ctx = context(tenant, &format!("connector:{connector_id}"))?;
    let row = match store::connectors::load_connector(
        http.capture.db().reader(),
        tenant,
        connector_id,
    )
    .await
    {
        Ok(row) => row?,
        Err(err) => {
            tracing::error!(tenant.id = %tenant, connector.id = %connector_id, error = %err, "loading a connector failed");
            return None;
        }
    };
    let connector = crate::api::connectors::decode_with_secret(row).ok()?;
    connector.active.then_some((ctx, connector))
}

fn unauthorized(ctx: &RequestContext, connector: &Connector, why: &str) -> Response {
    metrics::counter!("shangji_intake_http_rejected_total", "reason" => "bad_signature")
        .increment(1);
    tracing::warn!(tenant.id = %ctx.tenant_id, connector.id = %connector.connector_id, reason = why, "webhook refused");
    reply::error(StatusCode::UNAUTHORIZED, why)
}

fn no_such_connector() -> Response {
    reply::api_error(ApiError::NotFound(
        "no such connector (or it is not active)".to_owned(),
    ))
}

/// WeChat's query parameters.
#[derive(Default)]
struct WechatQuery {
    signature: String,
    timestamp: String,
    nonce: String,
    echostr: String,
}

impl WechatQuery {
    fn parse(query: Option<&str>) -> WechatQuery {
        let mut q = WechatQuery::default();
        for (name, value) in body::form_fields(query.unwrap_or_default().as_bytes()) {
            match name.as_str() {
                "signature" => q.signature = value,
                "timestamp" => q.timestamp = value,
                "nonce" => q.nonce = value,
                "echostr" => q.echostr = value,
                _ => {}
            }
        }
        q
    }
}
