//! Test helpers: the service in-process on real NATS, events published exactly the way
//! the outbox relay publishes them, and a gRPC client that names its tenant.

#![allow(dead_code)] // each test file uses its own subset

pub mod http_sink;

use std::time::Duration;

use async_nats::jetstream;
use shangji_contracts::events::{Domain, Envelope, Event};
use shangji_contracts::reminders::reminder_service_client::ReminderServiceClient;
use shangji_platform::{Db, RunningService, Settings};
use shangji_reminders::bus::ORG_CONSUMER;
use shangji_reminders::{MIGRATIONS, RemindersConfig, SPEC};
use shangji_testkit::{NatsServer, Postgres, events};
use tonic::transport::Channel;

pub const WAIT: Duration = Duration::from_secs(20);
pub const POLL: Duration = Duration::from_millis(25);

/// A running reminders service with its own NATS and data folder.
pub struct Harness {
    pub service: Option<RunningService>,
    pub nats: NatsServer,
    pub js: jetstream::Context,
    pub client: async_nats::Client,
    pub grpc: ReminderServiceClient<Channel>,
    settings: Settings,
    _data: tempfile::TempDir,
    // Declared last: the service stops before its database server does.
    _postgres: Option<Postgres>,
}

/// Which database a service test runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Harness {
    pub async fn start(config: RemindersConfig) -> Harness {
        Harness::start_on(Backend::Sqlite, config).await
    }

    /// The service on `backend` (PostgreSQL: a real server started for this test).
    pub async fn start_on(backend: Backend, config: RemindersConfig) -> Harness {
        let nats = NatsServer::start().await.expect("nats-server starts");
        let data = tempfile::tempdir().expect("temp dir");
        let mut settings: Settings = SPEC.default_settings();
        let postgres = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => {
                let pg = Postgres::start().await.expect("postgres starts");
                settings.database_url = Some(
                    pg.create_database("reminders")
                        .await
                        .expect("create database"),
                );
                Some(pg)
            }
        };
        settings.listen_addr = "127.0.0.1:0".parse().expect("address");
        settings.metrics_addr = None;
        settings.data_dir = data.path().to_path_buf();
        settings.nats_url = nats.url();
        settings.bus.outbox_poll_ms = 20;
        let service = shangji_reminders::start(settings.clone(), config)
            .await
            .expect("service starts");
        let grpc = ReminderServiceClient::connect(service.endpoint())
            .await
            .expect("grpc connects");
        let client = async_nats::connect(nats.url())
            .await
            .expect("nats connects");
        let js = jetstream::new(client.clone());
        Harness {
            service: Some(service),
            nats,
            js,
            client,
            grpc,
            settings,
            _data: data,
            _postgres: postgres,
        }
    }

    /// Stops the service and starts it again on the same database and NATS, as after a
    /// crash or a deploy.
    pub async fn restart(&mut self, config: RemindersConfig) {
        if let Some(service) = self.service.take() {
            service.stop().await.expect("service stops cleanly");
        }
        let service = shangji_reminders::start(self.settings.clone(), config)
            .await
            .expect("service restarts");
        self.grpc = ReminderServiceClient::connect(service.endpoint())
            .await
            .expect("grpc connects");
        self.service = Some(service);
    }

    /// Publishes `event` for `tenant` as the producing service's relay would; returns the
    /// envelope (to publish again) and the stream sequence.
    pub async fn publish<E: Event>(&self, tenant: &str, event: &E) -> (Envelope, u64) {
        let envelope = envelope(tenant, event);
        let seq = self
            .publish_envelope::<E>(&envelope, &envelope.event_id)
            .await;
        (envelope, seq)
    }

    /// Publishes an envelope with the given `Nats-Msg-Id`. Re-publishing an envelope under a
    /// new message id gets it past JetStream's de-duplication, as a redelivery would.
    pub async fn publish_envelope<E: Event>(&self, envelope: &Envelope, msg_id: &str) -> u64 {
        self.publish_to(E::subject(), envelope, msg_id).await
    }

    /// Publishes an envelope on `subject` with the given `Nats-Msg-Id`.
    pub async fn publish_to(&self, subject: String, envelope: &Envelope, msg_id: &str) -> u64 {
        events::publish_envelope(&self.js, &subject, envelope, msg_id)
            .await
            .expect("publish")
    }

    /// Waits until the service's consumer on `domain` has acked everything up to `seq`.
    pub async fn consumed(&self, domain: Domain, seq: u64) {
        let durable = match domain {
            Domain::Org => ORG_CONSUMER,
            _ => SPEC.name,
        };
        events::wait_until_acked(&self.js, domain, durable, seq, WAIT)
            .await
            .expect("event consumed");
    }

    pub async fn stop(mut self) {
        if let Some(service) = self.service.take() {
            service.stop().await.expect("service stops cleanly");
        }
    }
}

pub fn envelope<E: Event>(tenant: &str, event: &E) -> Envelope {
    let producer = "pipeline";
    events::envelope(tenant, "lead_test", producer, event)
}

/// `message` with `x-tenant-id: tenant`.
pub fn request<T>(tenant: &str, message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request
        .metadata_mut()
        .insert("x-tenant-id", tenant.parse().expect("ascii tenant"));
    request
}

/// `message` with `x-tenant-id: tenant` and `x-user-id: user`.
pub fn request_as<T>(tenant: &str, user: &str, message: T) -> tonic::Request<T> {
    let mut request = request(tenant, message);
    request
        .metadata_mut()
        .insert("x-user-id", user.parse().expect("ascii user"));
    request
}

/// Where fresh databases come from, for the store contracts run on both backends.
pub enum Server {
    Sqlite(tempfile::TempDir),
    Postgres(Postgres),
}

impl Server {
    pub fn sqlite() -> Server {
        Server::Sqlite(tempfile::tempdir().expect("temp dir"))
    }

    pub async fn postgres() -> Server {
        Server::Postgres(Postgres::start().await.expect("postgres starts"))
    }

    /// A fresh, migrated database.
    pub async fn database(&self, name: &str) -> Db {
        let url = match self {
            Server::Sqlite(dir) => format!("sqlite://{}/{name}.db?mode=rwc", dir.path().display()),
            Server::Postgres(pg) => pg.create_database(name).await.expect("create database"),
        };
        let db = Db::connect(&url, "reminders").await.expect("connect");
        db.migrate(&MIGRATIONS).await.expect("migrate");
        db
    }
}
