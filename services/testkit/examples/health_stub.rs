//! A stand-in service for the testkit's own tests of `ServiceProcess` and `System` (the
//! real services are other crates): serves gRPC health as SERVING and exits 0 on SIGTERM.
//! Listens on `$STUB_LISTEN_ADDR`, else on the one `SHANGJI_*_LISTEN_ADDR` it was given (as
//! a real service would). Prints every `SHANGJI_*` and `OTEL_*` variable at start, plus
//! those named in `$STUB_PRINT_ENV` (comma-separated); `$STUB_EXIT_AT_ONCE` makes it fail
//! before listening, like a bad config.

use std::net::SocketAddr;

use anyhow::Context;
use tokio::signal::unix::{SignalKind, signal};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut config: Vec<(String, String)> = std::env::vars()
        .filter(|(key, _)| key.starts_with("SHANGJI_") || key.starts_with("OTEL_"))
        .collect();
    config.sort();
    for (key, value) in &config {
        println!("{key}={value}");
    }
    if let Ok(names) = std::env::var("STUB_PRINT_ENV") {
        for name in names.split(',') {
            let value = std::env::var(name).unwrap_or_else(|_| "<unset>".to_owned());
            println!("{name}={value}");
        }
    }
    if std::env::var_os("STUB_EXIT_AT_ONCE").is_some() {
        eprintln!("stub: exiting at once as asked");
        std::process::exit(3);
    }
    let listen = std::env::var("STUB_LISTEN_ADDR").ok().or_else(|| {
        config
            .iter()
            .find(|(key, _)| key.ends_with("_LISTEN_ADDR"))
            .map(|(_, value)| value.clone())
    });
    let addr: SocketAddr = listen
        .context("no STUB_LISTEN_ADDR nor SHANGJI_*_LISTEN_ADDR")?
        .parse()
        .context("listen address")?;
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter
        .set_service_status("", tonic_health::ServingStatus::Serving)
        .await;
    let mut terminate = signal(SignalKind::terminate()).context("installing SIGTERM handler")?;
    println!("stub: serving on {addr}");
    tonic::transport::Server::builder()
        .add_service(health)
        .serve_with_shutdown(addr, async move {
            terminate.recv().await;
            println!("stub: SIGTERM, shutting down");
        })
        .await?;
    println!("stub: stopped");
    Ok(())
}
