//! The pipeline service: what it is (`SPEC`) and how it is wired.

use std::sync::Arc;

use shangji_contracts::pipeline::pipeline_service_server::PipelineServiceServer;
use shangji_platform::app::Runtime;
use shangji_platform::grpc::require_tenant;
use shangji_platform::{RunningService, ServiceParts, ServiceSpec, Settings};
use tonic::server::NamedService;
use tonic::service::Routes;

use crate::api::PipelineApi;
use crate::bus::{
    CustomerMergesHandler, LeadAssignedHandler, OrgHandler, OwnershipHandler,
    customer_merges_consumer, lead_assigned_consumer, org_consumer, ownership_consumer,
};
use crate::config::PipelineConfig;
use crate::stage_gauge;
use crate::store::MIGRATIONS;

pub const SPEC: ServiceSpec = ServiceSpec {
    name: "pipeline",
    default_grpc_port: 50054,
    default_metrics_port: 9154,
    migrations: &MIGRATIONS,
};

/// Starts the service; returns once gRPC listens (see `shangji_platform::app::start`).
pub async fn start(settings: Settings, config: PipelineConfig) -> anyhow::Result<RunningService> {
    config.validate()?;
    shangji_platform::app::start(&SPEC, settings, |rt| build(rt, config)).await
}

async fn build(rt: Runtime, config: PipelineConfig) -> anyhow::Result<ServiceParts> {
    let api = PipelineApi::new(rt.db.clone());
    let handler = LeadAssignedHandler::new(config.default_currency);
    Ok(ServiceParts {
        routes: Routes::new(PipelineServiceServer::with_interceptor(api, require_tenant)),
        service_names: vec![<PipelineServiceServer<PipelineApi> as NamedService>::NAME],
        tasks: vec![
            rt.spawn_consumer(lead_assigned_consumer(), Arc::new(handler)),
            rt.spawn_consumer(org_consumer(), Arc::new(OrgHandler)),
            rt.spawn_consumer(ownership_consumer(), Arc::new(OwnershipHandler)),
            rt.spawn_consumer(customer_merges_consumer(), Arc::new(CustomerMergesHandler)),
            tokio::spawn(stage_gauge::run(rt.db.clone(), rt.shutdown.clone())),
        ],
    })
}
