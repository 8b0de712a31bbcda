//! The gRPC face of the pipeline (`shangji.pipeline.v1.PipelineService`): validate,
//! apply the domain rules through the store, map failures to statuses a caller can act
//! on. Every call is scoped to the caller's tenant.

mod advance;
mod checks;
mod close;
mod convert;
mod idempotent;
mod log_activity;
mod page_token;
mod queries;

pub use queries::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};

use shangji_contracts::pipeline as pb;
use shangji_contracts::pipeline::pipeline_service_server::PipelineService;
use shangji_platform::Db;
use shangji_platform::grpc::request_context;
use tonic::{Request, Response, Status};

/// How often a mutation is tried when a concurrent change of the same opportunity
/// keeps winning the compare-and-set.
const ATTEMPTS: usize = 3;

/// The PipelineService implementation.
#[derive(Clone, Debug)]
pub struct PipelineApi {
    db: Db,
}

impl PipelineApi {
    pub fn new(db: Db) -> PipelineApi {
        PipelineApi { db }
    }
}

#[tonic::async_trait]
impl PipelineService for PipelineApi {
    async fn list_opportunities(
        &self,
        request: Request<pb::ListOpportunitiesRequest>,
    ) -> Result<Response<pb::ListOpportunitiesResponse>, Status> {
        let ctx = request_context(&request)?;
        let response = queries::list_opportunities(&self.db, &ctx, request.into_inner()).await?;
        Ok(Response::new(response))
    }

    async fn get_opportunity(
        &self,
        request: Request<pb::GetOpportunityRequest>,
    ) -> Result<Response<pb::GetOpportunityResponse>, Status> {
        let ctx = request_context(&request)?;
        let response = queries::get_opportunity(&self.db, &ctx, request.into_inner()).await?;
        Ok(Response::new(response))
    }

    async fn advance_stage(
        &self,
        request: Request<pb::AdvanceStageRequest>,
    ) -> Result<Response<pb::AdvanceStageResponse>, Status> {
        let ctx = request_context(&request)?;
        let response = advance::advance_stage(&self.db, &ctx, request.into_inner()).await?;
        Ok(Response::new(response))
    }

    async fn log_activity(
        &self,
        request: Request<pb::LogActivityRequest>,
    ) -> Result<Response<pb::LogActivityResponse>, Status> {
        let ctx = request_context(&request)?;
        let response = log_activity::log_activity(&self.db, &ctx, request.into_inner()).await?;
        Ok(Response::new(response))
    }

    async fn close_opportunity(
        &self,
        request: Request<pb::CloseOpportunityRequest>,
    ) -> Result<Response<pb::CloseOpportunityResponse>, Status> {
        let ctx = request_context(&request)?;
        let response = close::close_opportunity(&self.db, &ctx, request.into_inner()).await?;
        Ok(Response::new(response))
    }

    async fn get_pipeline(
        &self,
        request: Request<pb::GetPipelineRequest>,
    ) -> Result<Response<pb::GetPipelineResponse>, Status> {
        let ctx = request_context(&request)?;
        let response = queries::get_pipeline(&self.db, &ctx).await?;
        Ok(Response::new(response))
    }
}
