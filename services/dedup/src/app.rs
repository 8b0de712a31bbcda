//! What makes the dedup binary: its spec, migrations and wiring.

use std::sync::Arc;

use anyhow::Context as _;
use shangji_contracts::dedup::dedup_service_server::DedupServiceServer;
use shangji_contracts::events::Domain;
use shangji_platform::app::Runtime;
use shangji_platform::bus::ConsumerSpec;
use shangji_platform::db::{Migration, Migrations};
use shangji_platform::grpc::require_tenant;
use shangji_platform::{RunningService, ServiceParts, ServiceSpec, Settings};
use tonic::server::NamedService;
use tonic::service::Routes;

use crate::api::DedupApi;
use crate::bus::LeadReceivedHandler;
use crate::config::DedupConfig;
use crate::domain::GradeThresholds;

/// The durable consumer shared by every replica; also the inbox key.
pub const CONSUMER: &str = "dedup";

const MIGRATIONS: Migrations = Migrations {
    component: "dedup",
    list: &[Migration {
        version: 1,
        name: "customers, match keys, customer leads",
        sqlite: include_str!("../migrations/sqlite/0001_customers.sql"),
        postgres: include_str!("../migrations/postgres/0001_customers.sql"),
    }],
};

pub const SPEC: ServiceSpec = ServiceSpec {
    name: "dedup",
    default_grpc_port: 50052,
    default_metrics_port: 9152,
    migrations: &MIGRATIONS,
};

/// Starts dedup: gRPC on `settings.listen_addr`, consuming lead.received.
pub async fn start(settings: Settings, config: DedupConfig) -> anyhow::Result<RunningService> {
    // A bad threshold must stop the start before anything is connected.
    let thresholds = config.thresholds()?;
    shangji_platform::app::start(&SPEC, settings, |rt| build(rt, thresholds))
        .await
        .context("starting dedup")
}

async fn build(rt: Runtime, thresholds: GradeThresholds) -> anyhow::Result<ServiceParts> {
    let api = DedupApi::new(rt.db.clone());
    let consumer = rt.spawn_consumer(
        ConsumerSpec::new(CONSUMER, Domain::Lead, &["received"]),
        Arc::new(LeadReceivedHandler { thresholds }),
    );
    Ok(ServiceParts {
        routes: Routes::new(DedupServiceServer::with_interceptor(api, require_tenant)),
        service_names: vec![<DedupServiceServer<DedupApi> as NamedService>::NAME],
        tasks: vec![consumer],
    })
}
