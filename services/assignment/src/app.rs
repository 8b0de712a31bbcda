//! Wiring: the service's spec, its migrations, gRPC service and consumers.

use std::sync::Arc;
use std::time::Duration;

use shangji_contracts::assignment::assignment_service_server::AssignmentServiceServer;
use shangji_contracts::events::Domain;
use shangji_platform::app::Runtime;
use shangji_platform::bus::ConsumerSpec;
use shangji_platform::db::{Migration, Migrations};
use shangji_platform::{RunningService, ServiceParts, ServiceSpec, Settings};
use tonic::server::NamedService;

use crate::api::AssignmentApi;
use crate::bus::{CustomerMerges, Escalations, LeadEvents, LeadRouting, RepLoadTracking};
use crate::clock::Clock;
use crate::config::AssignmentConfig;
use crate::recycling;

/// Assignment's schema, per backend (public so store tests can migrate a database).
pub static MIGRATIONS: Migrations = Migrations {
    component: "assignment",
    list: &[
        Migration {
            version: 1,
            name: "reps, customer owners, assignments, round-robin clock, opportunity owners",
            sqlite: include_str!("../migrations/sqlite/0001_assignment.sql"),
            postgres: include_str!("../migrations/postgres/0001_assignment.sql"),
        },
        Migration {
            version: 2,
            name: "teams, rep profiles, rules, pool, decisions, recycling, transfers",
            sqlite: include_str!("../migrations/sqlite/0002_org_rules_pool.sql"),
            postgres: include_str!("../migrations/postgres/0002_org_rules_pool.sql"),
        },
    ],
};

pub static SPEC: ServiceSpec = ServiceSpec {
    name: "assignment",
    default_grpc_port: 50053,
    default_metrics_port: 9153,
    migrations: &MIGRATIONS,
};

/// Starts assignment and returns once it listens.
pub async fn start(settings: Settings, config: AssignmentConfig) -> anyhow::Result<RunningService> {
    start_with_clock(settings, config, Clock::system()).await
}

/// Starts assignment on a given clock (tests move a manual one to make time pass).
pub async fn start_with_clock(
    settings: Settings,
    config: AssignmentConfig,
    clock: Clock,
) -> anyhow::Result<RunningService> {
    shangji_platform::app::start(&SPEC, settings, |rt| build(rt, config, clock)).await
}

async fn build(
    rt: Runtime,
    config: AssignmentConfig,
    clock: Clock,
) -> anyhow::Result<ServiceParts> {
    let api = AssignmentApi::new(rt.db.clone(), clock.clone());
    let recycling = tokio::spawn(recycling::run(
        rt.db.clone(),
        clock.clone(),
        Duration::from_millis(config.recycle_tick_ms),
        config.recycle_batch,
        rt.shutdown.clone(),
    ));
    let tasks = vec![
        rt.spawn_consumer(
            ConsumerSpec::new(
                "assignment",
                Domain::Lead,
                &["qualified", "customer_merged"],
            ),
            Arc::new(LeadEvents {
                routing: LeadRouting {
                    clock: clock.clone(),
                },
                merges: CustomerMerges {
                    clock: clock.clone(),
                },
            }),
        ),
        rt.spawn_consumer(
            ConsumerSpec::new(
                "assignment",
                Domain::Opportunity,
                &["created", "won", "lost", "owner_changed", "activity_logged"],
            ),
            Arc::new(RepLoadTracking {
                clock: clock.clone(),
            }),
        ),
        rt.spawn_consumer(
            ConsumerSpec::new("assignment", Domain::Reminder, &["escalated"]),
            Arc::new(Escalations { clock }),
        ),
        recycling,
    ];
    Ok(ServiceParts {
        routes: tonic::service::Routes::new(AssignmentServiceServer::with_interceptor(
            api,
            shangji_platform::grpc::require_tenant,
        )),
        service_names: vec![<AssignmentServiceServer<AssignmentApi> as NamedService>::NAME],
        tasks,
    })
}
