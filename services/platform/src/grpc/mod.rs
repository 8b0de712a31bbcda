//! gRPC plumbing shared by the services: who is calling (tenant, user), errors a
//! caller can act on, and a tower layer that traces and measures every request.

mod context;
mod error;
mod trace_layer;

pub use context::{RequestContext, TENANT_HEADER, USER_HEADER, request_context, require_tenant};
pub use error::{ApiError, FieldViolation};
pub use trace_layer::GrpcTraceLayer;
