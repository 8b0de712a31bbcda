//! Intake started in-process on a real nats-server, on SQLite or PostgreSQL, with a gRPC
//! client and helpers to call it as a tenant would.
#![allow(dead_code)] // each test file uses part of the harness

use shangji_contracts::common::Lead;
use shangji_contracts::intake::intake_service_client::IntakeServiceClient;
use shangji_intake::IntakeConfig;
use shangji_platform::RunningService;
use shangji_testkit::{NatsServer, Postgres};
use tonic::transport::Channel;

#[derive(Clone, Copy, Debug)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct Harness {
    pub nats: NatsServer,
    pub service: RunningService,
    pub client: IntakeServiceClient<Channel>,
    _data: tempfile::TempDir,
    _postgres: Option<Postgres>,
}

impl Harness {
    pub async fn start(backend: Backend) -> Harness {
        Harness::start_with(backend, IntakeConfig::default()).await
    }

    pub async fn start_with(backend: Backend, mut config: IntakeConfig) -> Harness {
        // Tests run side by side: the HTTP channels take a free port, not 8051.
        config.http_addr = "127.0.0.1:0".to_owned();
        let postgres = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(Postgres::start().await.expect("PostgreSQL")),
        };
        let database_url = match &postgres {
            Some(pg) => Some(pg.create_database("intake").await.expect("database")),
            None => None,
        };
        let nats = NatsServer::start().await.expect("nats-server");
        let data = tempfile::tempdir().expect("data dir");
        let mut settings = shangji_intake::SPEC.default_settings();
        settings.listen_addr = "127.0.0.1:0".parse().expect("address");
        settings.metrics_addr = None;
        settings.data_dir = data.path().to_owned();
        settings.nats_url = nats.url();
        settings.shutdown_grace_secs = 5;
        settings.database_url = database_url;
        let service = shangji_intake::start(settings, config)
            .await
            .expect("intake starts");
        let client = IntakeServiceClient::connect(service.endpoint())
            .await
            .expect("grpc connect");
        Harness {
            nats,
            service,
            client,
            _data: data,
            _postgres: postgres,
        }
    }

    pub async fn stop(self) {
        self.service.stop().await.expect("clean stop");
    }
}

/// Whether PostgreSQL tests can run here; they say so when they cannot.
pub fn postgres_or_skip(test: &str) -> bool {
    let available = shangji_testkit::postgres_available();
    if !available {
        eprintln!("{test}: PostgreSQL is not installed here; skipped");
    }
    available
}

pub fn with_tenant<T>(message: T, tenant: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request
        .metadata_mut()
        .insert("x-tenant-id", tenant.parse().expect("ascii tenant"));
    request
        .metadata_mut()
        .insert("x-user-id", "admin.li".parse().expect("ascii user"));
    request
}

pub fn lead() -> Lead {
    Lead {
        contact_name: "王伟".into(),
        phone: "+86 138-0013-8000".into(),
        company: "北京华为科技有限公司".into(),
        need: "需要一套 CRM".into(),
        ..Default::default()
    }
}

/// The fields named in a status's BadRequest details, in order.
pub fn violated_fields(status: &tonic::Status) -> Vec<String> {
    use tonic_types::StatusExt as _;
    status
        .get_error_details()
        .bad_request()
        .map(|b| b.field_violations.iter().map(|v| v.field.clone()).collect())
        .unwrap_or_default()
}

pub fn violation_descriptions(status: &tonic::Status) -> Vec<String> {
    use tonic_types::StatusExt as _;
    status
        .get_error_details()
        .bad_request()
        .map(|b| {
            b.field_violations
                .iter()
                .map(|v| v.description.clone())
                .collect()
        })
        .unwrap_or_default()
}
