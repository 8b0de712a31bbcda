//! What can go wrong in a command, how it is shown (status code, message, the fields to
//! fix) and which exit code it gives.

use serde_json::json;
use tonic::{Code, Status};
use tonic_types::StatusExt;

/// Exit codes: 1 when the system said no or could not be reached, 2 when the input
/// (arguments, file) is unusable, like clap's own usage errors.
pub const EXIT_FAILURE: u8 = 1;
pub const EXIT_BAD_INPUT: u8 = 2;

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A service answered with an error status.
    #[error("{rpc} failed ({}): {}", code_name(.status.code()), .status.message())]
    Rpc { rpc: &'static str, status: Status },
    #[error("cannot connect to {service} at {endpoint}: {reason}")]
    Connect {
        service: &'static str,
        endpoint: String,
        reason: String,
    },
    /// Arguments that parse but make no sense together, or metadata that cannot be sent.
    #[error("{0}")]
    Usage(String),
    /// The input file is missing, unreadable or not a CSV we can use.
    #[error("cannot read {path}: {reason}")]
    Input { path: String, reason: String },
    /// The command ran but did not get everything done (rows that failed for reasons
    /// other than their content, a wait that ran out of time, a bench that did not drain).
    #[error("{0}")]
    Incomplete(String),
    #[error("cannot write output: {0}")]
    Output(#[source] std::io::Error),
}

impl CliError {
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) | CliError::Input { .. } => EXIT_BAD_INPUT,
            CliError::Rpc { .. }
            | CliError::Connect { .. }
            | CliError::Incomplete(_)
            | CliError::Output(_) => EXIT_FAILURE,
        }
    }

    /// The error for people: the first line says what failed, the following lines list
    /// the fields to fix and the preconditions that are missing.
    pub fn render_text(&self) -> String {
        let mut text = format!("error: {self}");
        if let CliError::Rpc { status, .. } = self {
            for line in StatusDetails::of(status).lines() {
                text.push_str("\n  ");
                text.push_str(&line);
            }
        }
        text
    }

    pub fn to_json(&self) -> serde_json::Value {
        match self {
            CliError::Rpc { rpc, status } => {
                let mut error = StatusDetails::of(status).to_json();
                error["rpc"] = json!(rpc);
                json!({ "error": error })
            }
            other => json!({ "error": { "message": other.to_string() } }),
        }
    }
}

/// Adapts a tonic status into a [`CliError`] naming the RPC, for `map_err`.
pub fn rpc_failed(rpc: &'static str) -> impl FnOnce(Status) -> CliError {
    move |status| CliError::Rpc { rpc, status }
}

/// The canonical gRPC name of a status code, as grpcurl and the gRPC docs spell it.
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// True when the request itself was refused, so sending it again cannot help; false for
/// failures of the moment (unavailable, timeouts, internal errors) worth a retry.
pub fn is_rejection(code: Code) -> bool {
    matches!(
        code,
        Code::InvalidArgument
            | Code::FailedPrecondition
            | Code::AlreadyExists
            | Code::NotFound
            | Code::OutOfRange
            | Code::PermissionDenied
            | Code::Unauthenticated
    )
}

/// The parts of an error status a caller can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusDetails {
    pub code: &'static str,
    pub message: String,
    /// (field, description) from a BadRequest detail.
    pub field_violations: Vec<(String, String)>,
    /// What must happen first, from a PreconditionFailure detail.
    pub preconditions: Vec<String>,
}

impl StatusDetails {
    pub fn of(status: &Status) -> StatusDetails {
        let details = status.get_error_details();
        let field_violations = details
            .bad_request()
            .map(|bad| {
                bad.field_violations
                    .iter()
                    .map(|v| (v.field.clone(), v.description.clone()))
                    .collect()
            })
            .unwrap_or_default();
        let preconditions = details
            .precondition_failure()
            .map(|failure| {
                failure
                    .violations
                    .iter()
                    .map(|v| {
                        if v.subject.is_empty() {
                            v.description.clone()
                        } else {
                            format!("{}: {}", v.subject, v.description)
                        }
                    })
                    .collect()
            })
            .unwrap_or_default();
        StatusDetails {
            code: code_name(status.code()),
            message: status.message().to_owned(),
            field_violations,
            preconditions,
        }
    }

    /// One line per field violation and per missing precondition.
    pub fn lines(&self) -> Vec<String> {
        self.field_violations
            .iter()
            .map(|(field, description)| format!("{field}: {description}"))
            .chain(
                self.preconditions
                    .iter()
                    .map(|missing| format!("first: {missing}")),
            )
            .collect()
    }

    pub fn to_json(&self) -> serde_json::Value {
        json!({
            "code": self.code,
            "message": self.message,
            "field_violations": self
                .field_violations
                .iter()
                .map(|(field, description)| json!({ "field": field, "description": description }))
                .collect::<Vec<_>>(),
            "preconditions": self.preconditions,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic_types::{ErrorDetails, FieldViolation, PreconditionViolation};

    fn bad_phone() -> Status {
        Status::with_error_details(
            Code::InvalidArgument,
            "invalid request: lead.phone: must contain 7 to 15 digits",
            ErrorDetails::with_bad_request(vec![FieldViolation::new(
                "lead.phone",
                "must contain 7 to 15 digits",
            )]),
        )
    }

    #[test]
    fn rpc_errors_show_code_message_and_fields() {
        let err = rpc_failed("SubmitLead")(bad_phone());
        assert_eq!(
            err.render_text(),
            "error: SubmitLead failed (INVALID_ARGUMENT): invalid request: lead.phone: must contain 7 to 15 digits\n  lead.phone: must contain 7 to 15 digits"
        );
        assert_eq!(err.exit_code(), EXIT_FAILURE);
        let json = err.to_json();
        assert_eq!(json["error"]["code"], "INVALID_ARGUMENT");
        assert_eq!(json["error"]["rpc"], "SubmitLead");
        assert_eq!(json["error"]["field_violations"][0]["field"], "lead.phone");
    }

    #[test]
    fn precondition_failures_say_what_must_happen_first() {
        let status = Status::with_error_details(
            Code::FailedPrecondition,
            "stage gate not met",
            ErrorDetails::with_precondition_failure(vec![PreconditionViolation::new(
                "MISSING",
                "",
                "an activity of kind visit",
            )]),
        );
        let details = StatusDetails::of(&status);
        assert_eq!(details.code, "FAILED_PRECONDITION");
        assert_eq!(details.lines(), vec!["first: an activity of kind visit"]);
    }

    #[test]
    fn bad_input_exits_with_two() {
        let err = CliError::Input {
            path: "a.csv".into(),
            reason: "no such file".into(),
        };
        assert_eq!(err.exit_code(), EXIT_BAD_INPUT);
        assert_eq!(err.render_text(), "error: cannot read a.csv: no such file");
    }

    #[test]
    fn only_refusals_count_as_rejections() {
        assert!(is_rejection(Code::InvalidArgument));
        assert!(!is_rejection(Code::Unavailable));
        assert!(!is_rejection(Code::Internal));
    }
}
