//! ServiceProcess against a stand-in binary (examples/health_stub.rs; `cargo test` builds
//! examples): health wait, graceful terminate, crash and restart, error reporting.

use std::net::{Ipv4Addr, SocketAddr};

use shangji_testkit::{ServiceProcess, free_port};

const STUB: &str = "examples/health_stub";

fn stub_env(addr: SocketAddr) -> Vec<(String, String)> {
    vec![("STUB_LISTEN_ADDR".to_owned(), addr.to_string())]
}

fn loopback() -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, free_port()))
}

#[tokio::test]
async fn spawn_waits_for_serving_and_terminate_is_graceful() {
    let addr = loopback();
    let mut stub = ServiceProcess::spawn(STUB, addr, stub_env(addr))
        .await
        .unwrap();
    assert_eq!(stub.grpc_addr(), addr);
    assert_eq!(stub.endpoint(), format!("http://{addr}"));
    assert!(tokio::net::TcpStream::connect(addr).await.is_ok());

    let status = stub.terminate().await.unwrap();
    assert!(status.success(), "{status}");
    assert!(
        stub.log_tail(5).contains("stub: SIGTERM"),
        "{}",
        stub.log_tail(5)
    );
}

#[tokio::test]
async fn a_killed_service_restarts_on_the_same_address() {
    let addr = loopback();
    let mut stub = ServiceProcess::spawn(STUB, addr, stub_env(addr))
        .await
        .unwrap();
    let first = stub.pid().unwrap();
    stub.kill();
    assert!(stub.pid().is_none());
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());

    stub.restart().await.unwrap();
    assert_ne!(stub.pid().unwrap(), first);
    assert!(tokio::net::TcpStream::connect(addr).await.is_ok());
}

#[tokio::test]
async fn the_child_gets_the_given_env_on_top_of_the_inherited_one() {
    let addr = loopback();
    let mut env = stub_env(addr);
    env.push(("SHANGJI_PROBE".to_owned(), "given".to_owned()));
    // cargo sets CARGO_PKG_NAME for this test; the child inherits it.
    env.push((
        "STUB_PRINT_ENV".to_owned(),
        "SHANGJI_PROBE,CARGO_PKG_NAME".to_owned(),
    ));
    let stub = ServiceProcess::spawn(STUB, addr, env).await.unwrap();
    let log = stub.log_tail(20);
    assert!(log.contains("SHANGJI_PROBE=given"), "{log}");
    assert!(log.contains("CARGO_PKG_NAME=shangji-testkit"), "{log}");
}

#[tokio::test]
async fn a_service_that_exits_early_fails_fast_with_its_output() {
    let addr = loopback();
    let mut env = stub_env(addr);
    env.push(("STUB_EXIT_AT_ONCE".to_owned(), "1".to_owned()));
    let started = std::time::Instant::now();
    let err = ServiceProcess::spawn(STUB, addr, env)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("exited"), "{err}");
    assert!(err.contains("exiting at once as asked"), "{err}");
    assert!(
        started.elapsed().as_secs() < 30,
        "failed fast, not at the timeout"
    );
}

#[tokio::test]
async fn a_missing_binary_says_how_to_build_it() {
    let err = ServiceProcess::spawn("shangji-not-built", loopback(), Vec::new())
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("cargo build --workspace --bins"), "{err}");
}

// Drop blocks the thread it runs on. On a multi-thread runtime another worker still drives
// this test's open client connection, so the service's graceful shutdown (HTTP/2 GOAWAY and
// PING) completes and Drop returns well inside its 5 s grace instead of killing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drop_is_graceful_with_an_open_client_on_a_multi_thread_runtime() {
    let addr = loopback();
    let stub = ServiceProcess::spawn(STUB, addr, stub_env(addr))
        .await
        .unwrap();
    let channel = tonic::transport::Endpoint::from_shared(stub.endpoint())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut client = tonic_health::pb::health_client::HealthClient::new(channel);
    client
        .check(tonic_health::pb::HealthCheckRequest::default())
        .await
        .unwrap();

    let started = std::time::Instant::now();
    drop(stub);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(4),
        "drop took {:?}",
        started.elapsed()
    );
    drop(client);
}
