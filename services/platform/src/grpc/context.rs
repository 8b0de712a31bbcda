//! The caller's tenant and user travel in gRPC metadata (`x-tenant-id`, `x-user-id`).
//! A request without a valid tenant never reaches a handler.

use tonic::{Request, Status};

pub const TENANT_HEADER: &str = "x-tenant-id";
pub const USER_HEADER: &str = "x-user-id";

/// Who is calling. Every store query and every event carries `tenant_id`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestContext {
    pub tenant_id: String,
    /// The acting user; `anonymous` when the caller did not say.
    pub user_id: String,
}

impl RequestContext {
    pub fn from_metadata(
        metadata: &tonic::metadata::MetadataMap,
    ) -> Result<RequestContext, Status> {
        let tenant = metadata
            .get(TENANT_HEADER)
            .ok_or_else(|| {
                Status::unauthenticated(format!(
                    "missing `{TENANT_HEADER}` metadata: every call must name its tenant"
                ))
            })?
            .to_str()
            .map_err(|_| Status::unauthenticated(format!("`{TENANT_HEADER}` must be ASCII")))?
            .trim();
        validate_tenant(tenant)?;
        let user = match metadata.get(USER_HEADER) {
            None => "anonymous".to_owned(),
            Some(v) => {
                let user = v
                    .to_str()
                    .map_err(|_| Status::unauthenticated(format!("`{USER_HEADER}` must be ASCII")))?
                    .trim();
                if user.is_empty() || user.len() > 128 {
                    return Err(Status::unauthenticated(format!(
                        "`{USER_HEADER}` must be 1 to 128 characters"
                    )));
                }
                user.to_owned()
            }
        };
        Ok(RequestContext {
            tenant_id: tenant.to_owned(),
            user_id: user,
        })
    }
}

fn validate_tenant(tenant: &str) -> Result<(), Status> {
    let ok = !tenant.is_empty()
        && tenant.len() <= 64
        && tenant
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(Status::unauthenticated(format!(
            "`{TENANT_HEADER}` must be 1 to 64 characters of letters, digits, '-', '_' or '.', got `{tenant}`"
        )))
    }
}

/// Interceptor for the domain services: rejects calls without a tenant with
/// UNAUTHENTICATED, and puts the [`RequestContext`] into the request's extensions.
#[allow(clippy::result_large_err)] // the signature tonic's interceptors require
pub fn require_tenant(mut request: Request<()>) -> Result<Request<()>, Status> {
    let ctx = RequestContext::from_metadata(request.metadata())?;
    request.extensions_mut().insert(ctx);
    Ok(request)
}

/// The context the interceptor stored, or (for a service called without it, as in
/// unit tests) parsed from the metadata.
#[allow(clippy::result_large_err)]
pub fn request_context<T>(request: &Request<T>) -> Result<RequestContext, Status> {
    match request.extensions().get::<RequestContext>() {
        Some(ctx) => Ok(ctx.clone()),
        None => RequestContext::from_metadata(request.metadata()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(tenant: Option<&str>, user: Option<&str>) -> Request<()> {
        let mut r = Request::new(());
        if let Some(t) = tenant {
            r.metadata_mut().insert(TENANT_HEADER, t.parse().unwrap());
        }
        if let Some(u) = user {
            r.metadata_mut().insert(USER_HEADER, u.parse().unwrap());
        }
        r
    }

    #[test]
    fn missing_tenant_is_unauthenticated_and_says_what_is_missing() {
        let err = require_tenant(request(None, None)).unwrap_err();
        assert_eq!(err.code(), tonic::Code::Unauthenticated);
        assert!(err.message().contains("x-tenant-id"));
    }

    #[test]
    fn bad_tenant_is_rejected() {
        let err = require_tenant(request(Some("a b"), None)).unwrap_err();
        assert_eq!(err.code(), tonic::Code::Unauthenticated);
    }

    #[test]
    fn context_lands_in_extensions() {
        let r = require_tenant(request(Some("acme"), Some("wang"))).unwrap();
        let ctx = request_context(&r).unwrap();
        assert_eq!(ctx.tenant_id, "acme");
        assert_eq!(ctx.user_id, "wang");
        let anon = request_context(&request(Some("acme"), None)).unwrap();
        assert_eq!(anon.user_id, "anonymous");
    }
}
