//! System wiring, checked with stand-ins (examples/health_stub.rs, which `cargo test`
//! builds) in place of the six services: each prints the configuration it was given.

use std::path::PathBuf;

use shangji_testkit::{
    OtlpReceiver, Postgres, SERVICES, System, SystemOptions, postgres_available,
};
use tempfile::TempDir;

/// A directory where every `shangji-<name>` is a link to the stub, except `missing`.
fn stand_ins(missing: Option<&str>) -> TempDir {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().unwrap().parent().unwrap();
    let stub = profile_dir.join("examples/health_stub");
    assert!(
        stub.is_file(),
        "{} missing: run cargo test -p shangji-testkit, which builds examples",
        stub.display()
    );
    let dir = tempfile::tempdir().unwrap();
    for name in SERVICES.into_iter().filter(|name| Some(*name) != missing) {
        std::os::unix::fs::symlink(&stub, dir.path().join(format!("shangji-{name}"))).unwrap();
    }
    dir
}

#[tokio::test]
async fn every_service_gets_its_own_configuration_and_shuts_down_cleanly() {
    let bins = stand_ins(None);
    let receiver = OtlpReceiver::start().await.unwrap();
    let postgres = if postgres_available() {
        Some(Postgres::start().await.unwrap())
    } else {
        None
    };
    let system = System::start(SystemOptions {
        otlp_endpoint: Some(receiver.endpoint()),
        postgres: postgres.as_ref(),
        extra_env: vec![("SHANGJI_EXTRA".to_owned(), "given".to_owned())],
        binary_dir: Some(PathBuf::from(bins.path())),
    })
    .await
    .unwrap();

    assert_eq!(system.services.len(), 6);
    for name in SERVICES {
        let upper = name.to_ascii_uppercase();
        let log = system.service(name).log_tail(100);
        let expected = [
            format!("SHANGJI_NATS_URL={}", system.nats.url()),
            format!("SHANGJI_DATA_DIR={}", system.data_dir().display()),
            format!("SHANGJI_{upper}_LISTEN_ADDR={}", system.grpc_addr(name)),
            format!("SHANGJI_{upper}_METRICS_ADDR={}", system.metrics_addr(name)),
            "SHANGJI_LOG=info".to_owned(),
            "SHANGJI_LOG_FORMAT=json".to_owned(),
            format!("OTEL_EXPORTER_OTLP_ENDPOINT={}", receiver.endpoint()),
            "OTEL_BSP_SCHEDULE_DELAY=100".to_owned(),
            "SHANGJI_EXTRA=given".to_owned(),
        ];
        for line in expected {
            assert!(log.contains(&line), "{name} lacks {line}:\n{log}");
        }
        if postgres.is_some() {
            let url = system.database_url(name).unwrap();
            assert!(url.contains(&format!("/shangji_{name}")), "{url}");
            assert!(log.contains(&format!("SHANGJI_{upper}_DATABASE_URL={url}")));
        }
        // Only its own addresses: no other service's settings leak in.
        let listen_lines = log.lines().filter(|l| l.contains("_LISTEN_ADDR=")).count();
        assert_eq!(listen_lines, 1, "{name}:\n{log}");
        assert_eq!(
            system.endpoint(name),
            format!("http://{}", system.grpc_addr(name))
        );
    }

    system.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_service_that_cannot_start_fails_the_system_naming_it() {
    let bins = stand_ins(Some("reminders"));
    let err = System::start(SystemOptions {
        binary_dir: Some(PathBuf::from(bins.path())),
        ..Default::default()
    })
    .await
    .unwrap_err()
    .to_string();
    assert!(err.contains("1 of 6 services failed"), "{err}");
    assert!(err.contains("reminders"), "{err}");
    assert!(err.contains("shangji-reminders"), "{err}");
}
