//! A real nats-server with JetStream, private to one test.

use std::fs::OpenOptions;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};
use tempfile::TempDir;
use tokio::time::Instant;

use crate::paths::{address_in_use, free_port, nats_server_binary, tail_of_file};

const READY_TIMEOUT: Duration = Duration::from_secs(20);
const POLL_INTERVAL: Duration = Duration::from_millis(50);
/// Starts tried when the port turns out to be taken (each on a fresh port).
const START_ATTEMPTS: u32 = 4;

/// `nats-server -js -sd <tempdir> -a 127.0.0.1 -p <free port>`. Dropping it kills the
/// server, waits for it, and deletes the store.
pub struct NatsServer {
    child: Option<Child>,
    binary: PathBuf,
    port: u16,
    log: PathBuf,
    // Holds the JetStream store and the log; kept across restarts so that a restart
    // finds the streams the crashed server had written.
    dir: TempDir,
}

impl NatsServer {
    /// Starts the server and returns once a client can connect and JetStream answers.
    pub async fn start() -> anyhow::Result<NatsServer> {
        let binary = nats_server_binary()?;
        let dir = tempfile::Builder::new()
            .prefix("shangji-nats-")
            .tempdir()
            .context("creating the nats-server temp dir")?;
        let mut server = NatsServer {
            child: None,
            binary,
            port: free_port(),
            log: dir.path().join("nats-server.log"),
            dir,
        };
        // The port was free when picked, but another process may bind it before the server
        // does; then a fresh port is the cure, and any other failure is final.
        let mut attempt = 1;
        loop {
            match server.launch().await {
                Ok(()) => return Ok(server),
                Err(err)
                    if attempt < START_ATTEMPTS
                        && server.child.is_none()
                        && address_in_use(&server.log_tail(30)) =>
                {
                    attempt += 1;
                    server.port = free_port();
                    // A fresh log, so the next check sees only the next attempt.
                    let _ = std::fs::remove_file(&server.log);
                    drop(err);
                }
                Err(err) => return Err(err),
            }
        }
    }

    /// `nats://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The JetStream store directory (`-sd`).
    pub fn store_dir(&self) -> PathBuf {
        self.dir.path().join("jetstream")
    }

    /// The last `lines` lines the server logged (all its runs, appended).
    pub fn log_tail(&self, lines: usize) -> String {
        tail_of_file(&self.log, lines)
    }

    /// SIGKILL, as in a crash: no chance to flush. The store stays for [`Self::restart`].
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            // Errors mean it already exited; wait() then reaps it either way.
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Kills the server if it is running and starts it again on the same port with the same
    /// store, returning once it is ready again.
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        self.kill();
        self.launch().await
    }

    async fn launch(&mut self) -> anyhow::Result<()> {
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .with_context(|| format!("opening {}", self.log.display()))?;
        let child = Command::new(&self.binary)
            .arg("-js")
            .arg("-sd")
            .arg(self.store_dir())
            .args(["-a", "127.0.0.1", "-p", &self.port.to_string()])
            .stdin(Stdio::null())
            .stdout(log.try_clone().context("duplicating the log file handle")?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("spawning {}", self.binary.display()))?;
        self.child = Some(child);
        self.wait_ready().await
    }

    /// Polls until a client connects and JetStream answers an account query: TCP alone is
    /// not enough, JetStream may still be recovering its store after a restart.
    async fn wait_ready(&mut self) -> anyhow::Result<()> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(child) = self.child.as_mut()
                && let Some(status) = child.try_wait().context("polling nats-server")?
            {
                self.child = None;
                bail!(
                    "nats-server exited ({status}) before accepting connections; its log:\n{}",
                    self.log_tail(30)
                );
            }
            let last = match probe(&self.url(), self.port).await {
                Ok(()) => return Ok(()),
                Err(err) => err,
            };
            if Instant::now() >= deadline {
                bail!(
                    "nats-server on {} not ready after {READY_TIMEOUT:?} (last: {last:#}); its log:\n{}",
                    self.url(),
                    self.log_tail(30)
                );
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }
}

async fn probe(url: &str, port: u16) -> anyhow::Result<()> {
    // A cheap TCP check first, so a not-yet-listening server does not cost a client setup.
    tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .context("tcp connect")?;
    let client = async_nats::ConnectOptions::new()
        .connection_timeout(Duration::from_secs(2))
        .connect(url)
        .await
        .context("nats connect")?;
    let jetstream = async_nats::jetstream::new(client);
    tokio::time::timeout(Duration::from_secs(2), jetstream.query_account())
        .await
        .context("jetstream account query timed out")?
        .context("jetstream account query")?;
    Ok(())
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill();
    }
}

impl std::fmt::Debug for NatsServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsServer")
            .field("url", &self.url())
            .field("store_dir", &self.store_dir())
            .field("running", &self.child.is_some())
            .finish()
    }
}
