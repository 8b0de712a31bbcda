//! Data permissions at the gRPC edge: who the caller is (from the org replica) and the
//! check every opportunity read or change goes through. An opportunity the caller may
//! not see is NOT_FOUND, exactly like one that does not exist, so ids of other reps' or
//! other tenants' opportunities reveal nothing. Set-up changes (pipelines, rules, loss
//! reasons) by a non-admin are PERMISSION_DENIED.

use shangji_platform::grpc::{ApiError, RequestContext};
use sqlx::AnyConnection;

use super::checks::not_found;
use crate::domain::Opportunity;
use crate::domain::access::{OrgTeam, Viewer};
use crate::store::{collaborators, opportunities, org};

/// The caller as permissions see them, with the tenant's teams (for approvers).
pub struct Caller {
    pub viewer: Viewer,
    pub teams: Vec<OrgTeam>,
}

pub async fn caller(conn: &mut AnyConnection, ctx: &RequestContext) -> Result<Caller, ApiError> {
    let rep = org::rep(conn, &ctx.tenant_id, &ctx.user_id).await?;
    let has_admin = org::tenant_has_admin(conn, &ctx.tenant_id).await?;
    if rep.is_none() && !has_admin {
        return Ok(Caller {
            viewer: Viewer::Unrestricted,
            teams: Vec::new(),
        });
    }
    let teams = org::teams(conn, &ctx.tenant_id).await?;
    let viewer = Viewer::of(&ctx.user_id, rep.as_ref(), has_admin, &teams);
    Ok(Caller { viewer, teams })
}

/// The opportunity, when it exists and the caller may see it; NOT_FOUND otherwise.
pub async fn visible(
    conn: &mut AnyConnection,
    ctx: &RequestContext,
    viewer: &Viewer,
    opportunity_id: &str,
) -> Result<Opportunity, ApiError> {
    let opp = opportunities::get(conn, &ctx.tenant_id, opportunity_id)
        .await?
        .ok_or_else(|| not_found(opportunity_id))?;
    if viewer.sees_all() {
        return Ok(opp);
    }
    let team: Vec<String> = collaborators::list_for(conn, &ctx.tenant_id, opportunity_id)
        .await?
        .into_iter()
        .map(|c| c.rep_id)
        .collect();
    if viewer.can_see(&opp.owner_rep_id, &opp.team, &team) {
        Ok(opp)
    } else {
        tracing::info!(
            opportunity_id,
            user_id = %ctx.user_id,
            "refused an opportunity the caller may not see"
        );
        Err(not_found(opportunity_id))
    }
}

/// Refuses set-up changes by anyone but an admin.
pub fn require_admin(viewer: &Viewer, what: &str) -> Result<(), ApiError> {
    if viewer.is_admin() {
        Ok(())
    } else {
        Err(ApiError::PermissionDenied(format!(
            "only a tenant admin may {what}"
        )))
    }
}
