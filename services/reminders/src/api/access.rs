//! Data permissions at the gRPC edge: who the caller is, from the org replica. A
//! reminder the caller may not see is NOT_FOUND, exactly like one that does not exist
//! (as in the pipeline service), so ids of other reps' or tenants' reminders reveal
//! nothing.

use shangji_platform::grpc::{ApiError, RequestContext};
use sqlx::AnyConnection;

use crate::domain::access::Viewer;
use crate::store::{VisibleTo, org, visible};

/// The caller as permissions see them.
pub async fn viewer(conn: &mut AnyConnection, ctx: &RequestContext) -> Result<Viewer, ApiError> {
    let rep = org::rep(conn, &ctx.tenant_id, &ctx.user_id).await?;
    let has_admin = org::tenant_has_admin(conn, &ctx.tenant_id).await?;
    if rep.is_none() && !has_admin {
        return Ok(Viewer::Unrestricted);
    }
    let teams = org::teams(conn, &ctx.tenant_id).await?;
    Ok(Viewer::of(&ctx.user_id, rep.as_ref(), has_admin, &teams))
}

/// What a list may show: `Some(None)` everything, `Some(Some(scope))` the scope,
/// `None` nothing at all.
pub fn scope(viewer: Viewer) -> Option<Option<VisibleTo>> {
    match viewer {
        Viewer::Unrestricted | Viewer::Admin { .. } => Some(None),
        Viewer::Scoped { rep_id, teams } => Some(Some(VisibleTo { rep_id, teams })),
        Viewer::Nobody => None,
    }
}

/// NOT_FOUND unless the caller may see the tenant's reminder `reminder_id` (whether it
/// exists is the caller's next read).
pub async fn require_visible(
    conn: &mut AnyConnection,
    ctx: &RequestContext,
    reminder_id: &str,
) -> Result<(), ApiError> {
    let allowed = match scope(viewer(conn, ctx).await?) {
        Some(None) => true,
        Some(Some(scope)) => visible::can_see(conn, &ctx.tenant_id, reminder_id, &scope).await?,
        None => false,
    };
    if allowed {
        Ok(())
    } else {
        tracing::info!(tenant_id = %ctx.tenant_id, reminder_id, user_id = %ctx.user_id, "refused a reminder the caller may not see");
        Err(not_found(reminder_id))
    }
}

/// The answer for a reminder that does not exist or may not be seen.
pub fn not_found(reminder_id: &str) -> ApiError {
    ApiError::NotFound(format!("no reminder {reminder_id}"))
}
