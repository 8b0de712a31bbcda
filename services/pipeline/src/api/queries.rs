//! The read RPCs: ListOpportunities, GetOpportunity, GetHistory.

use shangji_contracts::pipeline as pb;
use shangji_platform::Db;
use shangji_platform::grpc::{ApiError, RequestContext};

use super::checks::Checks;
use super::{access, convert, page_token};
use crate::domain::access::Viewer;
use crate::store::opportunities::{self, Cursor, Filter, VisibleTo};
use crate::store::{activities, approvals, collaborators, history};

pub const DEFAULT_PAGE_SIZE: u32 = 50;
pub const MAX_PAGE_SIZE: u32 = 500;

pub async fn list_opportunities(
    db: &Db,
    ctx: &RequestContext,
    req: pb::ListOpportunitiesRequest,
) -> Result<pb::ListOpportunitiesResponse, ApiError> {
    let given = |value: &str| Some(value.trim().to_owned()).filter(|v| !v.is_empty());
    let mut conn = db.reader().acquire().await?;
    let caller = access::caller(&mut conn, ctx).await?;
    let visible_to = match caller.viewer {
        Viewer::Unrestricted | Viewer::Admin { .. } => None,
        Viewer::Scoped { rep_id, teams } => Some(VisibleTo { rep_id, teams }),
        Viewer::Nobody => return Ok(pb::ListOpportunitiesResponse::default()),
    };
    let filter = Filter {
        owner_rep_id: given(&req.owner_rep_id),
        stage: given(&req.stage),
        customer_id: given(&req.customer_id),
        status: convert::status_filter(req.status)?,
        visible_to,
    };
    let after = match req.page_token.as_str() {
        "" => None,
        token => Some(page_token::decode(token).ok_or_else(|| {
            ApiError::invalid_field(
                "page_token",
                "is not a token from a previous ListOpportunities response; list again without it",
            )
        })?),
    };
    // Larger pages are served at the maximum rather than refused.
    let page_size = match req.page_size {
        0 => DEFAULT_PAGE_SIZE,
        n => n.min(MAX_PAGE_SIZE),
    } as usize;
    let total = opportunities::count(&mut conn, &ctx.tenant_id, &filter).await?;
    let mut page = opportunities::list(
        &mut conn,
        &ctx.tenant_id,
        &filter,
        after.as_ref(),
        page_size as i64 + 1,
    )
    .await?;
    let next_page_token = if page.len() > page_size {
        page.truncate(page_size);
        page.last()
            .map(|last| {
                page_token::encode(&Cursor {
                    created_at: last.created_at,
                    opportunity_id: last.opportunity_id.clone(),
                })
            })
            .unwrap_or_default()
    } else {
        String::new()
    };
    Ok(pb::ListOpportunitiesResponse {
        opportunities: page.iter().map(convert::opportunity).collect(),
        next_page_token,
        total_count: u64::try_from(total).unwrap_or(0),
    })
}

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
