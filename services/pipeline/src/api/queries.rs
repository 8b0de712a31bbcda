//! The read RPCs of one opportunity: GetOpportunity, GetHistory (ListOpportunities is
//! in `listing`).

use shangji_contracts::pipeline as pb;
use shangji_platform::Db;
use shangji_platform::grpc::{ApiError, RequestContext};

use super::checks::Checks;
use super::{access, convert};
use crate::store::{activities, approvals, collaborators, history};

pub async fn get_opportunity(
    db: &Db,
    ctx: &RequestContext,
    req: pb::GetOpportunityRequest,
) -> Result<pb::GetOpportunityResponse, ApiError> {
    let mut checks = Checks::default();
    let opportunity_id = checks.id("opportunity_id", &req.opportunity_id);
    checks.finish()?;
    let mut conn = db.reader().acquire().await?;
    let caller = access::caller(&mut conn, ctx).await?;
    let opp = access::visible(&mut conn, ctx, &caller.viewer, &opportunity_id).await?;
    let activities = activities::list_for(&mut conn, &ctx.tenant_id, &opportunity_id).await?;
    let history = history::list_for(&mut conn, &ctx.tenant_id, &opportunity_id).await?;
    let team = collaborators::list_for(&mut conn, &ctx.tenant_id, &opportunity_id).await?;
    let requests = approvals::list_for(&mut conn, &ctx.tenant_id, &opportunity_id).await?;
    Ok(pb::GetOpportunityResponse {
        opportunity: Some(convert::opportunity(&opp)),
        activities: activities.iter().map(convert::activity).collect(),
        history: history.iter().map(convert::history_entry).collect(),
        collaborators: team.iter().map(convert::collaborator).collect(),
        approvals: requests.iter().map(convert::approval).collect(),
    })
}

/// The opportunity's history, oldest first, optionally of one field only.
pub async fn get_history(
    db: &Db,
    ctx: &RequestContext,
    req: pb::GetHistoryRequest,
) -> Result<pb::GetHistoryResponse, ApiError> {
    let mut checks = Checks::default();
    let opportunity_id = checks.id("opportunity_id", &req.opportunity_id);
    checks.finish()?;
    let field = req.field.trim();
    let mut conn = db.reader().acquire().await?;
    let caller = access::caller(&mut conn, ctx).await?;
    access::visible(&mut conn, ctx, &caller.viewer, &opportunity_id).await?;
    let history = history::list_for(&mut conn, &ctx.tenant_id, &opportunity_id).await?;
    Ok(pb::GetHistoryResponse {
        entries: history
            .iter()
            .filter(|h| field.is_empty() || h.field == field)
            .map(convert::history_entry)
            .collect(),
    })
}
