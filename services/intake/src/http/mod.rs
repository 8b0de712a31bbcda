//! Intake's HTTP channels, on their own listener (`http_addr`): web forms
//! (`/forms/{tenant}/{form}`) and webhook connectors (`/hooks/{tenant}/{connector}`).
//! Every lead goes through `Capture::accept`, like a gRPC submission: the same schema
//! checks, attribution, idempotency and lead.received in one transaction.

mod body;
pub mod cors;
mod email;
mod form_post;
mod hooks;
mod json_path;
pub mod mapping;
mod rate_limit;
mod reply;
mod signature;
mod wechat;

use axum::serve::ListenerExt as _;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::post;
use shangji_platform::grpc::{RequestContext, TENANT_HEADER, USER_HEADER};

use crate::capture::Capture;
use crate::config::IntakeConfig;
use rate_limit::RateLimiter;

/// What the handlers share.
pub struct HttpChannels {
    capture: Arc<Capture>,
    config: IntakeConfig,
    limiter: RateLimiter,
}

/// Serves the HTTP channels on `listener` until `shutdown` completes, then lets the
/// requests in flight finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    capture: Arc<Capture>,
    config: IntakeConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let max_body = config.http_max_body_bytes;
    let state = Arc::new(HttpChannels {
        capture,
        config,
        limiter: RateLimiter::default(),
    });
    let app = Router::new()
        .route(
            "/forms/{tenant}/{form}",
            post(form_post::post).options(form_post::preflight),
        )
        .route(
            "/hooks/{tenant}/{connector}",
            post(hooks::post).get(hooks::verify),
        )
        .layer(DefaultBodyLimit::max(max_body))
        .with_state(state);
    // Small answers go out at once, not after the client's delayed ACK (Nagle).
    let listener = listener.tap_io(|stream| {
        if let Err(err) = stream.set_nodelay(true) {
            tracing::debug!(error = %err, "cannot set TCP_NODELAY on a form or webhook connection");
        }
    });
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
    .context("HTTP channels server failed")
}

/// The request context of a post to `tenant`'s form or connector; None when the tenant
/// in the path is not a valid tenant id (answered like an unknown form).
fn context(tenant: &str, user: &str) -> Option<RequestContext> {
    let mut metadata = tonic::metadata::MetadataMap::new();
    metadata.insert(TENANT_HEADER, tenant.parse().ok()?);
    metadata.insert(USER_HEADER, user.parse().ok()?);
    RequestContext::from_metadata(&metadata).ok()
}

/// A header's value when it is visible ASCII.
fn header_text<K: axum::http::header::AsHeaderName>(
    headers: &axum::http::HeaderMap,
    name: K,
) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}
