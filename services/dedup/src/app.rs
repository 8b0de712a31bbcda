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
use crate::bus::{LeadReceivedHandler, OUTCOME_EVENTS, OpportunityOutcomeHandler};
use crate::config::DedupConfig;
use crate::domain::GradeThresholds;
use crate::domain::matching::MatchThresholds;

/// The durable consumer shared by every replica; also the inbox key.
pub const CONSUMER: &str = "dedup";

const MIGRATIONS: Migrations = Migrations {
    component: "dedup",
    list: &[
        Migration {
            version: 1,
            name: "customers, match keys, customer leads",
            sqlite: include_str!("../migrations/sqlite/0001_customers.sql"),
            postgres: include_str!("../migrations/postgres/0001_customers.sql"),
        },
        Migration {
            version: 10,
            name: "accounts, match profiles, blocking keys, match partitions and thresholds",
            sqlite: include_str!("../migrations/sqlite/0010_fuzzy_matching.sql"),
            postgres: include_str!("../migrations/postgres/0010_fuzzy_matching.sql"),
        },
        Migration {
            version: 20,
            name: "review queue, merges and their history",
            sqlite: include_str!("../migrations/sqlite/0020_review_and_merges.sql"),
            postgres: include_str!("../migrations/postgres/0020_review_and_merges.sql"),
        },
        Migration {
            version: 21,
            name: "scoring rule versions and lead scores",
            sqlite: include_str!("../migrations/sqlite/0021_scoring.sql"),
            postgres: include_str!("../migrations/postgres/0021_scoring.sql"),
        },
        Migration {
            version: 22,
            name: "opportunity outcomes and learned-score counts",
            sqlite: include_str!("../migrations/sqlite/0022_outcomes.sql"),
            postgres: include_str!("../migrations/postgres/0022_outcomes.sql"),
        },
        Migration {
            version: 23,
            name: "key scheme version and re-filing progress",
            sqlite: include_str!("../migrations/sqlite/0023_key_scheme.sql"),
            postgres: include_str!("../migrations/postgres/0023_key_scheme.sql"),
        },
    ],
};

pub const SPEC: ServiceSpec = ServiceSpec {
    name: "dedup",
    default_grpc_port: 50052,
    default_metrics_port: 9152,
    migrations: &MIGRATIONS,
};

/// Starts dedup: gRPC on `settings.listen_addr`, consuming lead.received and the
/// opportunity outcomes it learns from.
pub async fn start(settings: Settings, config: DedupConfig) -> anyhow::Result<RunningService> {
    // A bad threshold must stop the start before anything is connected.
    let thresholds = config.thresholds()?;
    let match_thresholds = config.match_thresholds()?;
    shangji_platform::app::start(&SPEC, settings, |rt| {
        build(rt, thresholds, match_thresholds)
    })
    .await
    .context("starting dedup")
}

async fn build(
    rt: Runtime,
    thresholds: GradeThresholds,
    match_thresholds: MatchThresholds,
) -> anyhow::Result<ServiceParts> {
    let api = DedupApi::new(rt.db.clone())
        .with_match_thresholds(match_thresholds)
        .with_grade_thresholds(thresholds);
    let consumer = rt.spawn_consumer(
        ConsumerSpec::new(CONSUMER, Domain::Lead, &["received"]),
        Arc::new(LeadReceivedHandler {
            thresholds,
            match_thresholds,
        }),
    );
    // Won and lost opportunities train the learned lead score.
    let outcomes = rt.spawn_consumer(
        ConsumerSpec::new(CONSUMER, Domain::Opportunity, OUTCOME_EVENTS),
        Arc::new(OpportunityOutcomeHandler),
    );
    // Customers filed under older key rules are re-filed in the background.
    let refiling = tokio::spawn(crate::refile::run(rt.db.clone(), rt.shutdown.clone()));
    Ok(ServiceParts {
        routes: Routes::new(DedupServiceServer::with_interceptor(api, require_tenant)),
        service_names: vec![<DedupServiceServer<DedupApi> as NamedService>::NAME],
        tasks: vec![consumer, outcomes, refiling],
    })
}
