//! `Funnel`: how many opportunities reached each stage, their value, and how many went on.

use shangji_contracts::analytics::analytics_service_server::AnalyticsService;
use shangji_contracts::analytics::{FunnelRequest, FunnelResponse, FunnelStage};
use shangji_platform::Db;
use shangji_platform::grpc::{ApiError, request_context};
use tonic::{Request, Response, Status};

use crate::domain::{self, is_terminal_stage};
use crate::store;

/// Longest owner id accepted in a filter; longer ones cannot exist.
const MAX_OWNER_LEN: usize = 128;

#[derive(Clone, Debug)]
pub struct AnalyticsApi {
    db: Db,
}

impl AnalyticsApi {
    pub fn new(db: Db) -> AnalyticsApi {
        AnalyticsApi { db }
    }
}

#[tonic::async_trait]
impl AnalyticsService for AnalyticsApi {
    async fn funnel(
        &self,
        request: Request<FunnelRequest>,
    ) -> Result<Response<FunnelResponse>, Status> {
        let ctx = request_context(&request)?;
        let req = request.into_inner();
        let owner = req.owner_rep_id.trim();
        if owner.len() > MAX_OWNER_LEN {
            return Err(ApiError::invalid_field(
                "owner_rep_id",
                format!(
                    "must be at most {MAX_OWNER_LEN} characters, or empty for the whole tenant"
                ),
            )
            .into());
        }
        let owner = (!owner.is_empty()).then_some(owner);
        let tenant = ctx.tenant_id.as_str();
        // Separate reads, not one snapshot: a funnel may lag an event it is racing, never more.
        let (catalog, reached, occupancy, leads_received) = futures::try_join!(
            store::catalog::stages(&self.db, tenant),
            store::funnel::reached(&self.db, tenant, owner),
            store::funnel::occupancy(&self.db, tenant, owner),
            store::leads::count(&self.db, tenant),
        )
        .map_err(ApiError::from)?;
        let catalog: Vec<_> = catalog
            .into_iter()
            .filter(|c| !is_terminal_stage(&c.stage))
            .collect();
        let funnel = domain::funnel(&catalog, &reached, &occupancy);
        Ok(Response::new(FunnelResponse {
            stages: funnel
                .stages
                .into_iter()
                .map(|s| FunnelStage {
                    stage: s.stage,
                    count: s.count,
                    amount: s.amount,
                    conversion_to_next: s.conversion_to_next,
                    current_count: s.current_count,
                    order: s.order,
                })
                .collect(),
            leads_received,
            opportunities_won: funnel.won,
            opportunities_lost: funnel.lost,
            won_amount: funnel.won_amount,
        }))
    }
}
