//! `POST /forms/{tenant}/{form}` and its CORS preflight: a web form's post becomes a lead.
//! Order of checks: the form exists and is active (404), the browser origin is listed
//! (403), the client is under its rate (429), the body parses (415/400), the honeypot
//! is empty (else a fake success), then the lead is checked and stored (422 / 201).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest as _, Sha256};
use shangji_contracts::intake::WebForm;
use shangji_contracts::time::now_millis;
use shangji_platform::grpc::{ApiError, RequestContext};
use shangji_platform::ids;

use super::body::{self, BodyError};
use super::mapping::{Filled, is_known_target};
use super::rate_limit::retry_after_secs;
use super::{HttpChannels, context, cors, header_text, reply};
use crate::capture::Submission;
use crate::store;

const CHANNEL: &str = "web_form";
const UTM: [&str; 5] = [
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_term",
    "utm_content",
];

pub async fn post(
    State(http): State<Arc<HttpChannels>>,
    Path((tenant, form_id)): Path<(String, String)>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Response {
    let Some((ctx, form)) = active_form(&http, &tenant, &form_id).await else {
        return no_such_form();
    };
    let origin = header_text(&headers, header::ORIGIN);
    if let Some(origin) = origin
        && !cors::allows(&form.allowed_origins, origin)
    {
        return reply::error(
            StatusCode::FORBIDDEN,
            "this origin may not post to the form; add it to the form's allowed_origins",
        );
    }
    let mut response = handle_post(&http, &ctx, &form, peer, &headers, &uri, &body).await;
    if let Some(origin) = origin {
        cors::add_headers(response.headers_mut(), origin);
    }
    response
}

async fn handle_post(
    http: &HttpChannels,
    ctx: &RequestContext,
    form: &WebForm,
    peer: SocketAddr,
    headers: &HeaderMap,
    uri: &Uri,
    body: &[u8],
) -> Response {
    let limit = match form.rate_limit_per_minute {
        0 => http.config.form_rate_limit_per_minute,
        n => n.unsigned_abs(),
    };
    let client = client_address(http, peer, headers);
    let key = format!("{}/{}/{client}", ctx.tenant_id, form.form_id);
    if let Err(wait) = http.limiter.check(&key, limit, Instant::now()) {
        metrics::counter!("shangji_intake_http_rejected_total", "reason" => "rate_limited")
            .increment(1);
        return too_many(wait);
    }
    let fields = match body::fields(headers, body) {
        Ok(fields) => fields,
        Err(BodyError::Unsupported(why)) => {
            return reply::error(StatusCode::UNSUPPORTED_MEDIA_TYPE, &why);
        }
        Err(BodyError::Malformed(why)) => return reply::error(StatusCode::BAD_REQUEST, &why),
    };
    let honeypot = form.honeypot_field.as_str();
    if !honeypot.is_empty()
        && fields
            .iter()
            .any(|(name, value)| name == honeypot && !value.trim().is_empty())
    {
        return honeypot_hit(http, ctx, form).await;
    }
    let filled = fill(form, &fields, uri, headers);
    let submission = Submission {
        idempotency_key: idempotency_key(http, form, headers, body),
        lead: Some(filled.lead),
        attribution: Some(filled.attribution),
        channel: CHANNEL.to_owned(),
        channel_id: form.form_id.clone(),
    };
    // The client address lets screening flag floods from one machine.
    match http
        .capture
        .accept_from(ctx, submission, Some(&client))
        .await
    {
        Ok(accepted) => reply::lead(&accepted.lead_id, accepted.replayed),
        Err(err) => reply::api_error(err),
    }
}

/// OPTIONS: a browser asks whether a page on `Origin` may post. Only listed origins get
/// the CORS headers; others get 403 and the browser does not send the post.
pub async fn preflight(
    State(http): State<Arc<HttpChannels>>,
    Path((tenant, form_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let Some((_, form)) = active_form(&http, &tenant, &form_id).await else {
        return no_such_form();
    };
    let method_ok = header_text(&headers, header::ACCESS_CONTROL_REQUEST_METHOD)
        .is_none_or(|m| m.eq_ignore_ascii_case("POST"));
    match header_text(&headers, header::ORIGIN) {
        Some(origin) if method_ok && cors::allows(&form.allowed_origins, origin) => {
            let mut response = StatusCode::NO_CONTENT.into_response();
            cors::add_preflight_headers(response.headers_mut(), origin);
            response
        }
        _ => reply::error(
            StatusCode::FORBIDDEN,
            "this origin may not post to the form; add it to the form's allowed_origins",
        ),
    }
}

/// The tenant's form when it exists and is active.
async fn active_form(
    http: &HttpChannels,
    tenant: &str,
    form_id: &str,
) -> Option<(RequestContext, WebForm)> {
    let ctx = context(tenant, &format!("web_form:{form_id}"))?;
    let row = match store::forms::load_form(http.capture.db().reader(), tenant, form_id).await {
        Ok(row) => row?,
        Err(err) => {
            tracing::error!(tenant.id = %tenant, form.id = %form_id, error = %err, "loading a web form failed");
            return None;
        }
    };
    let form = crate::api::forms::decode(row).ok()?;
    form.active.then_some((ctx, form))
}

/// Maps posted names to lead and attribution fields, then fills UTM parameters from
/// the post's own URL and the page (Referer) when the body left them out, and the
/// form's defaults last.
fn fill(form: &WebForm, fields: &[(String, String)], uri: &Uri, headers: &HeaderMap) -> Filled {
    let mut filled = Filled::default();
    for (name, value) in fields {
        if name == &form.honeypot_field {
            continue;
        }
        match form.field_mapping.get(name) {
            Some(target) => filled.set(target.trim(), value),
            None if is_known_target(name) => filled.set(name, value),
            None => {}
        }
    }
    let referer = header_text(headers, header::REFERER).unwrap_or_default();
    let referer_query = referer.split_once('?').map_or("", |(_, q)| q);
    let page_query = referer_query.split('#').next().unwrap_or_default();
    for query in [uri.query().unwrap_or_default(), page_query] {
        for (name, value) in body::form_fields(query.as_bytes()) {
            if UTM.contains(&name.as_str()) {
                filled.set_if_empty(&name, &value);
            }
        }
    }
    filled.set_if_empty("referrer", referer);
    filled.set_if_empty("source", &form.default_source);
    filled.set_if_empty("campaign", &form.default_campaign);
    filled
}

/// The post's own `Idempotency-Key`, else the body's hash within the duplicate window,
/// so a double-click makes one lead. Hashed to stay within the key length.
fn idempotency_key(
    http: &HttpChannels,
    form: &WebForm,
    headers: &HeaderMap,
    body: &[u8],
) -> String {
    let (kind, material) = match header_text(headers, "idempotency-key") {
        Some(key) if !key.trim().is_empty() => ("key", key.trim().as_bytes().to_vec()),
        _ => {
            let window_ms = http.config.form_duplicate_window_secs.max(1) * 1000;
            let window = now_millis().max(0).unsigned_abs() / window_ms;
            let mut material = window.to_be_bytes().to_vec();
            material.extend_from_slice(body);
            ("body", material)
        }
    };
    let digest = hex::encode(Sha256::digest(&material));
    format!("form:{}:{kind}:{}", form.form_id, &digest[..32])
}

/// Answers like a success so the bot learns nothing, stores nothing, counts the hit.
async fn honeypot_hit(http: &HttpChannels, ctx: &RequestContext, form: &WebForm) -> Response {
    metrics::counter!("shangji_intake_http_rejected_total", "reason" => "honeypot").increment(1);
    tracing::info!(tenant.id = %ctx.tenant_id, form.id = %form.form_id, "honeypot filled: post dropped");
    let counted = async {
        let mut tx = http.capture.db().begin().await?;
        store::forms::count_honeypot_hit(&mut tx, &ctx.tenant_id, &form.form_id).await?;
        tx.commit().await
    }
    .await;
    if let Err(err) = counted {
        tracing::warn!(tenant.id = %ctx.tenant_id, form.id = %form.form_id, error = %err, "counting a honeypot hit failed");
    }
    reply::lead(&ids::new_id("lead"), false)
}

fn client_address(http: &HttpChannels, peer: SocketAddr, headers: &HeaderMap) -> String {
    if http.config.http_trust_forwarded_for
        && let Some(client) = header_text(headers, "x-forwarded-for").and_then(forwarded_client)
    {
        return client.to_owned();
    }
    peer.ip().to_string()
}

/// The client address in an `X-Forwarded-For` value: its last entry, the one the
/// trusted proxy (the ingress) added, the address it saw. Entries before it come from
/// the client and can say anything.
fn forwarded_client(value: &str) -> Option<&str> {
    value
        .rsplit(',')
        .next()
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

fn too_many(wait: Duration) -> Response {
    let mut response = reply::error(
        StatusCode::TOO_MANY_REQUESTS,
        "too many posts from this address; try again later",
    );
    response.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from(retry_after_secs(wait)),
    );
    response
}

fn no_such_form() -> Response {
    reply::api_error(ApiError::NotFound(
        "no such form (or it is not active)".to_owned(),
    ))
}

#[cfg(test)]
mod tests {
    use super::forwarded_client;

    #[test]
    fn the_proxy_added_entry_counts_not_what_the_client_claimed() {
        assert_eq!(forwarded_client("203.0.113.7"), Some("203.0.113.7"));
        assert_eq!(
            forwarded_client("1.2.3.4, 10.0.0.1 , 203.0.113.7"),
            Some("203.0.113.7")
        );
        assert_eq!(forwarded_client("1.2.3.4, "), None);
        assert_eq!(forwarded_client(""), None);
    }
}
