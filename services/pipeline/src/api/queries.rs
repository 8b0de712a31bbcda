//! The read RPCs: ListOpportunities, GetOpportunity, GetPipeline.

use shangji_contracts::pipeline as pb;
use shangji_platform::Db;
use shangji_platform::grpc::{ApiError, RequestContext};

use super::checks::{Checks, not_found};
use super::{convert, page_token};
use crate::domain::stage::DEFAULT_PIPELINE_ID;
use crate::store::opportunities::{self, Cursor, Filter};
use crate::store::{activities, history, pipelines};

pub const DEFAULT_PAGE_SIZE: u32 = 50;
pub const MAX_PAGE_SIZE: u32 = 500;

pub async fn list_opportunities(
    db: &Db,
    ctx: &RequestContext,
    req: pb::ListOpportunitiesRequest,
) -> Result<pb::ListOpportunitiesResponse, ApiError> {
    let given = |value: &str| Some(value.trim().to_owned()).filter(|v| !v.is_empty());
    let filter = Filter {
        owner_rep_id: given(&req.owner_rep_id),
        stage: given(&req.stage),
        customer_id: given(&req.customer_id),
        status: convert::status_filter(req.status)?,
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
    let mut conn = db.reader().acquire().await?;
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
    let opp = opportunities::get(&mut conn, &ctx.tenant_id, &opportunity_id)
        .await?
        .ok_or_else(|| not_found(&opportunity_id))?;
    let activities = activities::list_for(&mut conn, &ctx.tenant_id, &opportunity_id).await?;
    let history = history::list_for(&mut conn, &ctx.tenant_id, &opportunity_id).await?;
    Ok(pb::GetOpportunityResponse {
        opportunity: Some(convert::opportunity(&opp)),
        activities: activities.iter().map(convert::activity).collect(),
        history: history.iter().map(convert::history_entry).collect(),
    })
}

/// The tenant's pipeline; a tenant that never needed one gets the default seeded now.
pub async fn get_pipeline(
    db: &Db,
    ctx: &RequestContext,
) -> Result<pb::GetPipelineResponse, ApiError> {
    let existing = {
        let mut conn = db.reader().acquire().await?;
        pipelines::load(&mut conn, &ctx.tenant_id, DEFAULT_PIPELINE_ID).await?
    };
    let pipeline = match existing {
        Some(pipeline) => pipeline,
        None => {
            let mut tx = db.begin().await?;
            let seeded =
                pipelines::load_or_seed(&mut tx, &ctx.tenant_id, DEFAULT_PIPELINE_ID).await?;
            tx.commit().await?;
            seeded.ok_or_else(|| {
                ApiError::Internal(anyhow::anyhow!("default pipeline missing after seeding"))
            })?
        }
    };
    Ok(convert::pipeline(&pipeline))
}
