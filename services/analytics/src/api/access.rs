//! Who may see what: the caller (`x-user-id`) as the org replica knows them, narrowed
//! by the team or rep a request asks for.

use shangji_platform::Db;
use shangji_platform::grpc::{ApiError, RequestContext};

use crate::domain::{Role, Scope, scope_of};
use crate::store::org;

/// Callers the org replica does not know.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnknownCaller {
    /// Refused (every report but the original funnel).
    Refuse,
    /// The whole tenant: the funnel answered everyone before data permissions existed,
    /// and service-to-service callers (the CLI, end-to-end checks) still rely on it.
    Tenant,
}

/// The caller's scope.
pub async fn caller_scope(
    db: &Db,
    ctx: &RequestContext,
    unknown: UnknownCaller,
) -> Result<Scope, ApiError> {
    match org::caller(db, &ctx.tenant_id, &ctx.user_id).await? {
        Some(caller) => {
            let subtree = if caller.role == Role::Manager {
                org::subtree(db, &ctx.tenant_id, &caller.team_id).await?
            } else {
                Vec::new()
            };
            Ok(scope_of(&caller, subtree))
        }
        None if unknown == UnknownCaller::Tenant => Ok(Scope::tenant()),
        None => Err(ApiError::PermissionDenied(format!(
            "`x-user-id` `{}` is not an active rep of this tenant as far as analytics knows; \
             reps and their roles come from the assignment service's org events",
            ctx.user_id
        ))),
    }
}

/// Whether the caller is a known admin.
pub async fn require_admin(db: &Db, ctx: &RequestContext) -> Result<(), ApiError> {
    match org::caller(db, &ctx.tenant_id, &ctx.user_id).await? {
        Some(c) if c.role == Role::Admin => Ok(()),
        _ => Err(ApiError::PermissionDenied(format!(
            "only an admin may rebuild the read models; `{}` is not an admin of this tenant",
            ctx.user_id
        ))),
    }
}

/// The caller's scope narrowed to the team subtree and rep the request names.
pub async fn narrowed(
    db: &Db,
    ctx: &RequestContext,
    scope: Scope,
    team_id: Option<&str>,
    rep_id: Option<&str>,
) -> Result<Scope, ApiError> {
    let subtree = match team_id {
        Some(team) => Some(org::subtree(db, &ctx.tenant_id, team).await?),
        None => None,
    };
    scope.narrow(subtree, rep_id).ok_or_else(|| {
        ApiError::PermissionDenied(format!(
            "`{}` may not see {}",
            ctx.user_id,
            match (team_id, rep_id) {
                (Some(t), Some(r)) => format!("rep `{r}` of team `{t}`"),
                (Some(t), None) => format!("team `{t}`"),
                (None, Some(r)) => format!("rep `{r}`'s figures"),
                (None, None) => "these figures".to_owned(),
            }
        ))
    })
}
