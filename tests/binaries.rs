//! Every service binary explains its configuration and refuses a bad one clearly.

use std::process::Command;

use shangji_testkit::{SERVICES, binary_dir};

fn binary(service: &str) -> std::path::PathBuf {
    binary_dir()
        .expect("target dir")
        .join(format!("shangji-{service}"))
}

#[test]
fn dump_config_prints_the_effective_settings() {
    for service in SERVICES {
        let out = Command::new(binary(service))
            .arg("--dump-config")
            .env("SHANGJI_NATS_URL", "nats://127.0.0.1:4999")
            .env("SHANGJI_WORKER_THREADS", "1")
            .env(
                format!("SHANGJI_{}_LISTEN_ADDR", service.to_uppercase()),
                "127.0.0.1:6000",
            )
            .output()
            .unwrap_or_else(|e| {
                panic!("run shangji-{service} (cargo build --workspace --bins first): {e}")
            });
        assert!(
            out.status.success(),
            "{service}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let config: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
        assert_eq!(config["service"], *service);
        assert_eq!(config["nats_url"], "nats://127.0.0.1:4999");
        assert_eq!(config["listen_addr"], "127.0.0.1:6000");
        assert_eq!(config["worker_threads"], 1);
        assert!(config["bus"]["max_deliver"].as_u64().is_some());
    }
}

#[test]
fn a_bad_setting_exits_64_naming_it() {
    for service in SERVICES {
        let out = Command::new(binary(service))
            .arg("--dump-config")
            .env(
                format!("SHANGJI_{}_METRICS_ADDR", service.to_uppercase()),
                "somewhere",
            )
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(64), "{service}");
        let stderr = String::from_utf8_lossy(&out.stderr).to_lowercase();
        assert!(stderr.contains("metrics_addr"), "{service}: {stderr}");

        let out = Command::new(binary(service))
            .env("SHANGJI_DATABASE_URL", "mysql://db/x")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(64), "{service}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("database_url"),
            "{service}"
        );
    }

    // Zero worker threads would start a runtime that never runs anything.
    let out = Command::new(binary("dedup"))
        .env("SHANGJI_DEDUP_WORKER_THREADS", "0")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&out.stderr).contains("worker_threads"));

    // A service's own section is checked at load time too.
    let out = Command::new(binary("pipeline"))
        .env("SHANGJI_PIPELINE_DEFAULT_CURRENCY", "yuan")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&out.stderr).contains("default_currency"));
}
