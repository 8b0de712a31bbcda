//! HTTP answers: JSON bodies, and ApiError mapped to status codes with the same field
//! violations the gRPC API gives.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use shangji_platform::grpc::ApiError;

pub fn json(status: StatusCode, body: serde_json::Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

pub fn error(status: StatusCode, message: &str) -> Response {
    json(status, json!({ "error": message }))
}

pub fn text(status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// The lead a post created (201) or had created before (200, `replayed`).
pub fn lead(lead_id: &str, replayed: bool) -> Response {
    let status = if replayed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    json(status, json!({ "lead_id": lead_id, "replayed": replayed }))
}

/// Field violations become 422 with each field listed; the rest map by kind.
pub fn api_error(err: ApiError) -> Response {
    match err {
        ApiError::InvalidArgument {
            message,
            violations,
        } => json(
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({
                "error": message,
                "violations": violations
                    .iter()
                    .map(|v| json!({ "field": v.field, "description": v.description }))
                    .collect::<Vec<_>>(),
            }),
        ),
        ApiError::NotFound(message) => error(StatusCode::NOT_FOUND, &message),
        ApiError::AlreadyExists(message) | ApiError::FailedPrecondition { message, .. } => {
            error(StatusCode::CONFLICT, &message)
        }
        ApiError::PermissionDenied(message) => error(StatusCode::FORBIDDEN, &message),
        ApiError::Unavailable(message) => error(StatusCode::SERVICE_UNAVAILABLE, &message),
        ApiError::Internal(err) => {
            tracing::error!(error = format!("{err:#}"), "http channel failed");
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal error; the lead was not stored, try again",
            )
        }
    }
}
