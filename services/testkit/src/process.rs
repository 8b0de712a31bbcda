//! A service binary running as a child process, as it would in production.

use std::fs::OpenOptions;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tempfile::TempDir;
use tokio::time::Instant;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::paths::{service_binary, tail_of_file};

const HEALTH_TIMEOUT: Duration = Duration::from_secs(60);
const POLL_INTERVAL: Duration = Duration::from_millis(50);
/// How long Drop lets a service drain after SIGTERM before killing it.
const DROP_GRACE: Duration = Duration::from_secs(5);
/// How long [`ServiceProcess::terminate`] waits; a test should fail, not hang.
const TERMINATE_TIMEOUT: Duration = Duration::from_secs(30);
/// Lines of the service log quoted in errors and after a panic.
const TAIL_LINES: usize = 40;

/// A service binary (e.g. `shangji-intake`) running as a child process with its output in
/// a log file. Dropping it sends SIGTERM, waits up to 5 s, then kills it.
pub struct ServiceProcess {
    name: String,
    binary: PathBuf,
    envs: Vec<(String, String)>,
    grpc_addr: SocketAddr,
    child: Option<Child>,
    /// Whether the running child already got SIGTERM: a second one means "exit now" to
    /// our services, which would cut a graceful drain short.
    sigterm_sent: bool,
    log: PathBuf,
    // Last field: the log survives until the child is gone.
    _log_dir: TempDir,
}

impl ServiceProcess {
    /// Starts `binary` from the cargo target dir of the running test (`target/<profile>/`,
    /// or `$SHANGJI_BIN_DIR`; a relative path such as `examples/name` is taken from there
    /// too, an absolute path as it is) and waits until its gRPC health service at
    /// `grpc_addr` reports SERVING for service "".
    ///
    /// The child gets the test's environment minus every inherited `SHANGJI_*` and `OTEL_*`
    /// variable, plus `envs`: its configuration is exactly what the test says, and it never
    /// exports telemetry to an endpoint the test did not choose.
    pub async fn spawn(
        binary: &str,
        grpc_addr: SocketAddr,
        envs: Vec<(String, String)>,
    ) -> anyhow::Result<ServiceProcess> {
        let path = service_binary(binary)?;
        // `binary` may be a relative path such as `examples/x`; name files after its last part.
        let short = Path::new(binary)
            .file_name()
            .map_or_else(|| binary.to_owned(), |n| n.to_string_lossy().into_owned());
        let log_dir = tempfile::Builder::new()
            .prefix(&format!("{short}-"))
            .tempdir()
            .context("creating the service log dir")?;
        let mut process = ServiceProcess {
            name: short.clone(),
            binary: path,
            envs,
            grpc_addr,
            child: None,
            sigterm_sent: false,
            log: log_dir.path().join(format!("{short}.log")),
            _log_dir: log_dir,
        };
        process.launch().await?;
        Ok(process)
    }

    pub fn grpc_addr(&self) -> SocketAddr {
        self.grpc_addr
    }

    /// `http://127.0.0.1:PORT`, for a tonic client.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.grpc_addr)
    }

    /// The binary name, e.g. `shangji-intake`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The file holding the service's stdout and stderr (all runs, appended).
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// The last `lines` lines of the service's output.
    pub fn log_tail(&self, lines: usize) -> String {
        tail_of_file(&self.log, lines)
    }

    /// The OS process id while running.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Sends SIGTERM and waits for the process to exit (graceful shutdown). Fails if it has
    /// not exited after 30 s (it is then killed) or was not running.
    pub async fn terminate(&mut self) -> anyhow::Result<ExitStatus> {
        if self.child.is_none() {
            bail!("{} is not running", self.name);
        }
        self.send_sigterm();
        let deadline = Instant::now() + TERMINATE_TIMEOUT;
        loop {
            let Some(child) = self.child.as_mut() else {
                bail!("{} is not running", self.name);
            };
            if let Some(status) = child.try_wait().context("waiting for the service")? {
                self.child = None;
                return Ok(status);
            }
            if Instant::now() >= deadline {
                self.kill();
                bail!(
                    "{} did not exit within {TERMINATE_TIMEOUT:?} of SIGTERM (killed it); log tail:\n{}",
                    self.name,
                    self.log_tail(TAIL_LINES)
                );
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// Asks the service to shut down gracefully without waiting; Drop (or
    /// [`Self::terminate`]) then waits. Lets a caller stop many services in parallel.
    pub fn send_sigterm(&mut self) {
        if let Some(child) = &self.child
            && !self.sigterm_sent
        {
            signal(child, Signal::SIGTERM);
            self.sigterm_sent = true;
        }
    }

    /// SIGKILL, as in a crash, and reap the process.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            // An error means it already exited; wait() reaps it either way.
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the same binary again with the same address and environment (after
    /// [`Self::kill`] or [`Self::terminate`]; a running process is terminated first) and
    /// waits until it is healthy. For crash-recovery tests.
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        if self.child.is_some() {
            self.terminate().await?;
        }
        self.launch().await
    }

    async fn launch(&mut self) -> anyhow::Result<()> {
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .with_context(|| format!("opening {}", self.log.display()))?;
        let mut command = Command::new(&self.binary);
        for (key, _) in std::env::vars_os() {
            if key
                .to_str()
                .is_some_and(|key| key.starts_with("SHANGJI_") || key.starts_with("OTEL_"))
            {
                command.env_remove(key);
            }
        }
        command
            .envs(self.envs.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            // One file for both streams, sharing one offset, so lines interleave in order.
            .stdout(log.try_clone().context("duplicating the log file handle")?)
            .stderr(log);
        let child = command
            .spawn()
            .with_context(|| format!("spawning {}", self.binary.display()))?;
        self.child = Some(child);
        self.sigterm_sent = false;
        self.wait_healthy().await
    }

    async fn wait_healthy(&mut self) -> anyhow::Result<()> {
        let deadline = Instant::now() + HEALTH_TIMEOUT;
        let endpoint = self.endpoint();
        loop {
            if let Some(child) = self.child.as_mut()
                && let Some(status) = child.try_wait().context("polling the service")?
            {
                self.child = None;
                bail!(
                    "{} exited ({status}) before reporting healthy; log tail:\n{}",
                    self.name,
                    self.log_tail(TAIL_LINES)
                );
            }
            let last = match check_health(&endpoint).await {
                Ok(()) => return Ok(()),
                Err(err) => err,
            };
            if Instant::now() >= deadline {
                bail!(
                    "{} at {endpoint} not SERVING after {HEALTH_TIMEOUT:?} (last: {last:#}); log tail:\n{}",
                    self.name,
                    self.log_tail(TAIL_LINES)
                );
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }
}

/// One health check on a throwaway runtime. A tonic channel's connection lives in a task
/// on the runtime that made it; on the caller's runtime it would outlive the check until
/// that runtime next runs, and a sync Drop blocking that runtime (current-thread tests)
/// would leave it open, so the service's graceful shutdown (HTTP/2 GOAWAY + PING) would wait
/// on it for the whole grace period. Dropping the throwaway runtime closes it at once.
async fn check_health(endpoint: &str) -> anyhow::Result<()> {
    let endpoint = endpoint.to_owned();
    tokio::task::spawn_blocking(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("building the health-check runtime")?;
        runtime.block_on(check_health_once(&endpoint))
    })
    .await
    .context("health-check thread")?
}

async fn check_health_once(endpoint: &str) -> anyhow::Result<()> {
    let channel = tonic::transport::Endpoint::from_shared(endpoint.to_owned())?
        .connect_timeout(Duration::from_secs(1))
        .timeout(Duration::from_secs(2))
        .connect()
        .await
        .context("connect")?;
    let response = HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .context("health check")?
        .into_inner();
    if response.status() == ServingStatus::Serving {
        Ok(())
    } else {
        bail!("health status {:?}", response.status())
    }
}

fn signal(child: &Child, signal: Signal) {
    // A pid always fits in i32 on Linux; the process is ours and not yet reaped, so the
    // pid cannot have been reused. An error means it has already exited.
    if let Ok(pid) = i32::try_from(child.id()) {
        let _ = kill(Pid::from_raw(pid), signal);
    }
}

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        self.send_sigterm();
        let Some(mut child) = self.child.take() else {
            return;
        };
        if std::thread::panicking() {
            // The test failed: the service's side of the story is the first thing to read.
            // eprintln goes to the test harness's captured output, shown with the failure.
            eprintln!(
                "--- {} (pid {}) log tail ---\n{}\n--- end {} ---",
                self.name,
                child.id(),
                self.log_tail(TAIL_LINES),
                self.name
            );
        }
        // Drop cannot await; blocking briefly here is the price of a graceful stop.
        let deadline = std::time::Instant::now() + DROP_GRACE;
        while std::time::Instant::now() < deadline {
            match child.try_wait() {
                Ok(Some(_)) | Err(_) => return,
                Ok(None) => std::thread::sleep(POLL_INTERVAL),
            }
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl std::fmt::Debug for ServiceProcess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceProcess")
            .field("name", &self.name)
            .field("grpc_addr", &self.grpc_addr)
            .field("pid", &self.pid())
            .field("log", &self.log)
            .finish()
    }
}
