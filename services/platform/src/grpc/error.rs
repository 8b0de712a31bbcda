//! One error type for RPC handlers, mapped to gRPC status codes in one place, with
//! standard error details (BadRequest field violations, PreconditionFailure) so a
//! caller can tell which field to fix.

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// A field and what is wrong with it, in words the caller can act on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldViolation {
    pub field: String,
    pub description: String,
}

impl FieldViolation {
    pub fn new(field: impl Into<String>, description: impl Into<String>) -> Self {
        FieldViolation {
            field: field.into(),
            description: description.into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{message}")]
    InvalidArgument {
        message: String,
        violations: Vec<FieldViolation>,
    },
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    AlreadyExists(String),
    /// The request is valid but the state does not allow it; `missing` lists what
    /// must happen first.
    #[error("{message}")]
    FailedPrecondition {
        message: String,
        missing: Vec<String>,
    },
    #[error("{0}")]
    PermissionDenied(String),
    #[error("{0}")]
    Unavailable(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl ApiError {
    pub fn invalid(violations: Vec<FieldViolation>) -> ApiError {
        let message = violations
            .iter()
            .map(|v| format!("{}: {}", v.field, v.description))
            .collect::<Vec<_>>()
            .join("; ");
        ApiError::InvalidArgument {
            message: format!("invalid request: {message}"),
            violations,
        }
    }

    pub fn invalid_field(field: &str, description: impl Into<String>) -> ApiError {
        ApiError::invalid(vec![FieldViolation::new(field, description)])
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> Self {
        if crate::db::is_unique_violation(&err) {
            ApiError::AlreadyExists(format!("already exists: {err}"))
        } else {
            ApiError::Internal(anyhow::Error::new(err).context("database error"))
        }
    }
}

impl From<ApiError> for Status {
    fn from(err: ApiError) -> Status {
        match err {
            ApiError::InvalidArgument {
                message,
                violations,
            } => {
                let details = ErrorDetails::with_bad_request(
                    violations
                        .into_iter()
                        .map(|v| tonic_types::FieldViolation::new(v.field, v.description))
                        .collect::<Vec<_>>(),
                );
                Status::with_error_details(Code::InvalidArgument, message, details)
            }
            ApiError::NotFound(m) => Status::not_found(m),
            ApiError::AlreadyExists(m) => Status::already_exists(m),
            ApiError::FailedPrecondition { message, missing } => {
                let details = ErrorDetails::with_precondition_failure(
                    missing
                        .into_iter()
                        .map(|m| tonic_types::PreconditionViolation::new("MISSING", "", m))
                        .collect::<Vec<_>>(),
                );
                Status::with_error_details(Code::FailedPrecondition, message, details)
            }
            ApiError::PermissionDenied(m) => Status::permission_denied(m),
            ApiError::Unavailable(m) => Status::unavailable(m),
            ApiError::Internal(err) => {
                // The cause chain is logged once, here; the caller gets no internals.
                tracing::error!(error = format!("{err:#}"), "internal error");
                Status::internal("internal error; the service logged the cause")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_argument_carries_field_violations() {
        let status: Status = ApiError::invalid(vec![
            FieldViolation::new("lead.phone", "must contain 7 to 15 digits"),
            FieldViolation::new("lead.email", "must contain @"),
        ])
        .into();
        assert_eq!(status.code(), Code::InvalidArgument);
        assert!(status.message().contains("lead.phone"));
        let details = status.get_error_details();
        let bad = details.bad_request().expect("bad request details");
        assert_eq!(bad.field_violations.len(), 2);
        assert_eq!(bad.field_violations[1].field, "lead.email");
    }

    #[test]
    fn internal_errors_hide_the_cause() {
        let status: Status = ApiError::Internal(anyhow::anyhow!("secret dsn")).into();
        assert_eq!(status.code(), Code::Internal);
        assert!(!status.message().contains("secret"));
    }
}
