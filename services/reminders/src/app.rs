//! The reminders service: its spec, migrations and wiring.

use std::sync::Arc;

use shangji_contracts::events::Domain;
use shangji_contracts::reminders::reminder_service_server::ReminderServiceServer;
use shangji_platform::app::Runtime;
use shangji_platform::bus::ConsumerSpec;
use shangji_platform::db::{Migration, Migrations};
use shangji_platform::grpc::require_tenant;
use shangji_platform::{RunningService, ServiceParts, ServiceSpec, Settings};
use tonic::server::NamedService;
use tonic::service::Routes;

use crate::api::ReminderApi;
use crate::bus::{
    CONSUMED_EVENTS, LEAD_EVENTS, LeadEvents, ORG_CONSUMER, ORG_EVENTS, OpportunityEvents,
    OrgEvents,
};
use crate::config::RemindersConfig;
use crate::{delivery, timer};

pub const MIGRATIONS: Migrations = Migrations {
    component: "reminders",
    list: &[
        Migration {
            version: 1,
            name: "reminders and opportunity facts",
            sqlite: include_str!("../migrations/sqlite/0001_reminders.sql"),
            postgres: include_str!("../migrations/postgres/0001_reminders.sql"),
        },
        Migration {
            version: 2,
            name: "policies, escalation ladders, org replica",
            sqlite: include_str!("../migrations/sqlite/0002_policies_ladders.sql"),
            postgres: include_str!("../migrations/postgres/0002_policies_ladders.sql"),
        },
        Migration {
            version: 3,
            name: "business calendars",
            sqlite: include_str!("../migrations/sqlite/0003_calendars.sql"),
            postgres: include_str!("../migrations/postgres/0003_calendars.sql"),
        },
        Migration {
            version: 4,
            name: "webhooks and the delivery log",
            sqlite: include_str!("../migrations/sqlite/0004_webhooks.sql"),
            postgres: include_str!("../migrations/postgres/0004_webhooks.sql"),
        },
        Migration {
            version: 5,
            name: "first contact per lead, roles for data permissions",
            sqlite: include_str!("../migrations/sqlite/0005_lead_first_contact.sql"),
            postgres: include_str!("../migrations/postgres/0005_lead_first_contact.sql"),
        },
    ],
};

pub const SPEC: ServiceSpec = ServiceSpec {
    name: "reminders",
    default_grpc_port: 50055,
    default_metrics_port: 9155,
    migrations: &MIGRATIONS,
};

/// Starts the service; returns once it listens.
pub async fn start(settings: Settings, config: RemindersConfig) -> anyhow::Result<RunningService> {
    config.validate()?;
    shangji_platform::app::start(&SPEC, settings, |rt| build(rt, config)).await
}

async fn build(rt: Runtime, config: RemindersConfig) -> anyhow::Result<ServiceParts> {
    let api = ReminderApi::new(rt.db.clone(), config.first_contact_hours);
    let consumer = rt.spawn_consumer(
        ConsumerSpec::new(SPEC.name, Domain::Opportunity, CONSUMED_EVENTS),
        Arc::new(OpportunityEvents::new(config.first_contact_hours)),
    );
    let leads = rt.spawn_consumer(
        ConsumerSpec::new(SPEC.name, Domain::Lead, LEAD_EVENTS),
        Arc::new(LeadEvents::new(config.first_contact_hours)),
    );
    let org = rt.spawn_consumer(
        ConsumerSpec::new(ORG_CONSUMER, Domain::Org, ORG_EVENTS),
        Arc::new(OrgEvents),
    );
    let sender = tokio::spawn(delivery::run(
        rt.db.clone(),
        config.clone(),
        rt.shutdown.clone(),
    ));
    let timer = tokio::spawn(timer::run(rt.db.clone(), config, rt.shutdown.clone()));
    Ok(ServiceParts {
        routes: Routes::new(ReminderServiceServer::with_interceptor(api, require_tenant)),
        service_names: vec![<ReminderServiceServer<ReminderApi> as NamedService>::NAME],
        tasks: vec![consumer, leads, org, timer, sender],
    })
}
