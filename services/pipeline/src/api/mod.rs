//! The gRPC face of the pipeline (`shangji.pipeline.v1.PipelineService`): validate,
//! apply the domain rules through the store, map failures to statuses a caller can act
//! on. Every call is scoped to the caller's tenant.

mod access;
mod advance;
mod approvals;
mod checks;
mod close;
mod collaborators;
mod comments;
mod convert;
mod gates;
mod listing;
mod log_activity;
mod outcomes;
mod page_token;
mod pipelines;
mod queries;
mod update;

pub use listing::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};

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
        let response = listing::list_opportunities(&self.db, &ctx, request.into_inner()).await?;
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
        let response = pipelines::get_pipeline(&self.db, &ctx, request.into_inner()).await?;
        Ok(Response::new(response))
    }

    async fn upsert_pipeline(
        &self,
        request: Request<pb::UpsertPipelineRequest>,
    ) -> Result<Response<pb::UpsertPipelineResponse>, Status> {
        let ctx = request_context(&request)?;
        let response = pipelines::upsert_pipeline(&self.db, &ctx, request.into_inner()).await?;
        Ok(Response::new(response))
    }

    async fn list_pipelines(
        &self,
        request: Request<pb::ListPipelinesRequest>,
    ) -> Result<Response<pb::ListPipelinesResponse>, Status> {
        let ctx = request_context(&request)?;
        let response = pipelines::list_pipelines(&self.db, &ctx).await?;
        Ok(Response::new(response))
    }

    async fn update_opportunity(
        &self,
        request: Request<pb::UpdateOpportunityRequest>,
    ) -> Result<Response<pb::UpdateOpportunityResponse>, Status> {
        let ctx = request_context(&request)?;
        let response = update::update_opportunity(&self.db, &ctx, request.into_inner()).await?;
        Ok(Response::new(response))
    }

    async fn get_history(
        &self,
        request: Request<pb::GetHistoryRequest>,
    ) -> Result<Response<pb::GetHistoryResponse>, Status> {
        let ctx = request_context(&request)?;
        let response = queries::get_history(&self.db, &ctx, request.into_inner()).await?;
        Ok(Response::new(response))
    }

    async fn upsert_approval_rule(
        &self,
        request: Request<pb::UpsertApprovalRuleRequest>,
    ) -> Result<Response<pb::UpsertApprovalRuleResponse>, Status> {
        let ctx = request_context(&request)?;
        let response =
            approvals::upsert_approval_rule(&self.db, &ctx, request.into_inner()).await?;
        Ok(Response::new(response))
    }

    async fn list_approval_rules(
        &self,
        request: Request<pb::ListApprovalRulesRequest>,
    ) -> Result<Response<pb::ListApprovalRulesResponse>, Status> {
        let ctx = request_context(&request)?;
        let response = approvals::list_approval_rules(&self.db, &ctx).await?;
        Ok(Response::new(response))
    }

    async fn request_approval(
        &self,
        request: Request<pb::RequestApprovalRequest>,
    ) -> Result<Response<pb::RequestApprovalResponse>, Status> {
        let ctx = request_context(&request)?;
        let response = approvals::request_approval(&self.db, &ctx, request.into_inner()).await?;
        Ok(Response::new(response))
    }

    async fn decide(
        &self,
        request: Request<pb::DecideRequest>,
    ) -> Result<Response<pb::DecideResponse>, Status> {
        let ctx = request_context(&request)?;
        let response = approvals::decide(&self.db, &ctx, request.into_inner()).await?;
        Ok(Response::new(response))
    }

    async fn add_collaborator(
        &self,
        request: Request<pb::AddCollaboratorRequest>,
    ) -> Result<Response<pb::AddCollaboratorResponse>, Status> {
        let ctx = request_context(&request)?;
        let response =
            collaborators::add_collaborator(&self.db, &ctx, request.into_inner()).await?;
        Ok(Response::new(response))
    }

    async fn remove_collaborator(
        &self,
        request: Request<pb::RemoveCollaboratorRequest>,
    ) -> Result<Response<pb::RemoveCollaboratorResponse>, Status> {
        let ctx = request_context(&request)?;
        let response =
            collaborators::remove_collaborator(&self.db, &ctx, request.into_inner()).await?;
        Ok(Response::new(response))
    }

    async fn upsert_loss_reasons(
        &self,
        request: Request<pb::UpsertLossReasonsRequest>,
    ) -> Result<Response<pb::UpsertLossReasonsResponse>, Status> {
        let ctx = request_context(&request)?;
        let response = outcomes::upsert_loss_reasons(&self.db, &ctx, request.into_inner()).await?;
        Ok(Response::new(response))
    }

    async fn list_loss_reasons(
        &self,
        request: Request<pb::ListLossReasonsRequest>,
    ) -> Result<Response<pb::ListLossReasonsResponse>, Status> {
        let ctx = request_context(&request)?;
        let response = outcomes::list_loss_reasons(&self.db, &ctx).await?;
        Ok(Response::new(response))
    }

    async fn reopen_opportunity(
        &self,
        request: Request<pb::ReopenOpportunityRequest>,
    ) -> Result<Response<pb::ReopenOpportunityResponse>, Status> {
        let ctx = request_context(&request)?;
        let response = outcomes::reopen_opportunity(&self.db, &ctx, request.into_inner()).await?;
        Ok(Response::new(response))
    }

    async fn add_comment(
        &self,
        request: Request<pb::AddCommentRequest>,
    ) -> Result<Response<pb::AddCommentResponse>, Status> {
        let ctx = request_context(&request)?;
        let response = comments::add_comment(&self.db, &ctx, request.into_inner()).await?;
        Ok(Response::new(response))
    }

    async fn list_comments(
        &self,
        request: Request<pb::ListCommentsRequest>,
    ) -> Result<Response<pb::ListCommentsResponse>, Status> {
        let ctx = request_context(&request)?;
        let response = comments::list_comments(&self.db, &ctx, request.into_inner()).await?;
        Ok(Response::new(response))
    }
}
