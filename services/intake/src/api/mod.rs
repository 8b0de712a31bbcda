//! The gRPC face of intake: each RPC validates its request and hands over to capture,
//! the domain and the store.

mod batch;
pub mod connectors;
mod flagged;
pub mod forms;
mod import;
mod lead;
pub mod schema;

use std::sync::Arc;

use shangji_contracts::intake::intake_service_server::IntakeService;
use shangji_contracts::intake::{
    GetFieldSchemaRequest, GetFieldSchemaResponse, GetImportReportRequest, GetLeadRequest,
    GetLeadResponse, ImportLeadsRequest, ImportReport, LeadSource, LeadSubmission,
    ListMappingPresetsRequest, ListMappingPresetsResponse, SubmitLeadRequest, SubmitLeadResponse,
    SubmitLeadsResponse, UpsertFieldSchemaRequest, UpsertFieldSchemaResponse,
    UpsertMappingPresetRequest, UpsertMappingPresetResponse,
};
use shangji_platform::grpc::request_context;
use tonic::{Request, Response, Status, Streaming};

use crate::capture::{Capture, Submission};
use crate::config::IntakeConfig;

pub struct IntakeApi {
    capture: Arc<Capture>,
    config: IntakeConfig,
}

impl IntakeApi {
    pub fn new(capture: Arc<Capture>, config: IntakeConfig) -> IntakeApi {
        IntakeApi { capture, config }
    }
}

#[tonic::async_trait]
impl IntakeService for IntakeApi {
    async fn submit_lead(
        &self,
        request: Request<SubmitLeadRequest>,
    ) -> Result<Response<SubmitLeadResponse>, Status> {
        let ctx = request_context(&request)?;
        let request = request.into_inner();
        let submission = Submission {
            idempotency_key: request.idempotency_key,
            lead: request.lead,
            attribution: None,
            channel: self.config.grpc_channel_name.clone(),
            channel_id: String::new(),
        };
        Ok(Response::new(self.capture.accept(&ctx, submission).await?))
    }

    async fn get_lead(
        &self,
        request: Request<GetLeadRequest>,
    ) -> Result<Response<GetLeadResponse>, Status> {
        let ctx = request_context(&request)?;
        let lead_id = &request.get_ref().lead_id;
        Ok(Response::new(
            lead::get_lead(self.capture.db(), &ctx.tenant_id, lead_id).await?,
        ))
    }

    async fn get_lead_source(
        &self,
        request: Request<GetLeadRequest>,
    ) -> Result<Response<LeadSource>, Status> {
        let ctx = request_context(&request)?;
        let lead_id = &request.get_ref().lead_id;
        Ok(Response::new(
            lead::get_lead_source(self.capture.db(), &ctx.tenant_id, lead_id).await?,
        ))
    }

    async fn submit_leads(
        &self,
        request: Request<Streaming<LeadSubmission>>,
    ) -> Result<Response<SubmitLeadsResponse>, Status> {
        let ctx = request_context(&request)?;
        let items = request.into_inner();
        Ok(Response::new(
            batch::submit_leads(&self.capture, &ctx, items).await?,
        ))
    }

    async fn get_field_schema(
        &self,
        request: Request<GetFieldSchemaRequest>,
    ) -> Result<Response<GetFieldSchemaResponse>, Status> {
        let ctx = request_context(&request)?;
        Ok(Response::new(
            schema::get_field_schema(self.capture.db(), &ctx, request.get_ref()).await?,
        ))
    }

    async fn upsert_field_schema(
        &self,
        request: Request<UpsertFieldSchemaRequest>,
    ) -> Result<Response<UpsertFieldSchemaResponse>, Status> {
        let ctx = request_context(&request)?;
        let upserted =
            schema::upsert_field_schema(self.capture.db(), &ctx, request.into_inner()).await;
        // Forgotten either way: a failed upsert may still have committed.
        self.capture.schema_changed(&ctx.tenant_id);
        Ok(Response::new(upserted?))
    }

    type ImportLeadsStream = import::ProgressStream;

    async fn import_leads(
        &self,
        request: Request<Streaming<ImportLeadsRequest>>,
    ) -> Result<Response<Self::ImportLeadsStream>, Status> {
        let ctx = request_context(&request)?;
        let upload = request.into_inner();
        Ok(Response::new(
            import::import_leads(self.capture.clone(), ctx, upload).await?,
        ))
    }

    async fn get_import_report(
        &self,
        request: Request<GetImportReportRequest>,
    ) -> Result<Response<ImportReport>, Status> {
        let ctx = request_context(&request)?;
        Ok(Response::new(
            import::get_import_report(&self.capture, &ctx, request.get_ref()).await?,
        ))
    }

    async fn upsert_mapping_preset(
        &self,
        request: Request<UpsertMappingPresetRequest>,
    ) -> Result<Response<UpsertMappingPresetResponse>, Status> {
        let ctx = request_context(&request)?;
        Ok(Response::new(
            import::upsert_mapping_preset(&self.capture, &ctx, request.into_inner()).await?,
        ))
    }

    async fn list_mapping_presets(
        &self,
        request: Request<ListMappingPresetsRequest>,
    ) -> Result<Response<ListMappingPresetsResponse>, Status> {
        let ctx = request_context(&request)?;
        Ok(Response::new(
            import::list_mapping_presets(&self.capture, &ctx).await?,
        ))
    }

    async fn upsert_web_form(
        &self,
        request: Request<shangji_contracts::intake::UpsertWebFormRequest>,
    ) -> Result<Response<shangji_contracts::intake::UpsertWebFormResponse>, Status> {
        let ctx = request_context(&request)?;
        Ok(Response::new(
            forms::upsert_web_form(self.capture.db(), &ctx, request.into_inner()).await?,
        ))
    }

    async fn list_web_forms(
        &self,
        request: Request<shangji_contracts::intake::ListWebFormsRequest>,
    ) -> Result<Response<shangji_contracts::intake::ListWebFormsResponse>, Status> {
        let ctx = request_context(&request)?;
        Ok(Response::new(
            forms::list_web_forms(self.capture.db(), &ctx).await?,
        ))
    }

    async fn upsert_connector(
        &self,
        request: Request<shangji_contracts::intake::UpsertConnectorRequest>,
    ) -> Result<Response<shangji_contracts::intake::UpsertConnectorResponse>, Status> {
        let ctx = request_context(&request)?;
        Ok(Response::new(
            connectors::upsert_connector(self.capture.db(), &ctx, request.into_inner()).await?,
        ))
    }

    async fn list_connectors(
        &self,
        request: Request<shangji_contracts::intake::ListConnectorsRequest>,
    ) -> Result<Response<shangji_contracts::intake::ListConnectorsResponse>, Status> {
        let ctx = request_context(&request)?;
        Ok(Response::new(
            connectors::list_connectors(self.capture.db(), &ctx).await?,
        ))
    }

    async fn list_flagged_leads(
        &self,
        request: Request<shangji_contracts::intake::ListFlaggedLeadsRequest>,
    ) -> Result<Response<shangji_contracts::intake::ListFlaggedLeadsResponse>, Status> {
        let ctx = request_context(&request)?;
        Ok(Response::new(
            flagged::list_flagged_leads(self.capture.db(), &ctx, request.get_ref()).await?,
        ))
    }

    async fn release_flagged_lead(
        &self,
        request: Request<shangji_contracts::intake::ReleaseFlaggedLeadRequest>,
    ) -> Result<Response<shangji_contracts::intake::FlaggedLeadDecision>, Status> {
        let ctx = request_context(&request)?;
        Ok(Response::new(
            flagged::release_flagged_lead(self.capture.db(), &ctx, request.get_ref()).await?,
        ))
    }

    async fn discard_flagged_lead(
        &self,
        request: Request<shangji_contracts::intake::DiscardFlaggedLeadRequest>,
    ) -> Result<Response<shangji_contracts::intake::FlaggedLeadDecision>, Status> {
        let ctx = request_context(&request)?;
        Ok(Response::new(
            flagged::discard_flagged_lead(self.capture.db(), &ctx, request.get_ref()).await?,
        ))
    }
}
