//! A private PostgreSQL server per test, or a shared one named by `SHANGJI_TEST_POSTGRES_URL`.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

use anyhow::{Context, bail};
use sqlx::{AssertSqlSafe, Connection, PgConnection};
use tempfile::TempDir;

use crate::paths::{address_in_use, free_port, postgres_bin_dir, tail_of_file};

const EXTERNAL_URL_VAR: &str = "SHANGJI_TEST_POSTGRES_URL";
/// Starts tried when the port turns out to be taken (each on a fresh port).
const START_ATTEMPTS: u32 = 4;

/// True when [`Postgres::start`] can work: PostgreSQL binaries are installed under
/// `/usr/lib/postgresql/*/bin`, or `SHANGJI_TEST_POSTGRES_URL` names a server.
pub fn postgres_available() -> bool {
    std::env::var_os(EXTERNAL_URL_VAR).is_some() || postgres_bin_dir().is_some()
}

/// One PostgreSQL server for one test. Dropping it stops the server (`-m immediate`) and
/// removes its directory; with `SHANGJI_TEST_POSTGRES_URL` it drops the databases it made.
pub struct Postgres {
    /// `postgres://user@host:port` with no database part, plus any `?params`.
    server_url: String,
    local: Option<LocalServer>,
    /// Databases created on an external server, dropped again on Drop.
    external_databases: Mutex<Vec<String>>,
}

impl Postgres {
    pub async fn start() -> anyhow::Result<Postgres> {
        if let Ok(url) = std::env::var(EXTERNAL_URL_VAR) {
            return Ok(Postgres {
                server_url: url,
                local: None,
                external_databases: Mutex::new(Vec::new()),
            });
        }
        let local = LocalServer::start().await?;
        Ok(Postgres {
            server_url: format!("postgres://postgres@127.0.0.1:{}/postgres", local.port),
            local: Some(local),
            external_databases: Mutex::new(Vec::new()),
        })
    }

    /// Creates an empty database and returns its URL,
    /// `postgres://postgres@127.0.0.1:PORT/<name>` on a private server. On a shared
    /// server (`SHANGJI_TEST_POSTGRES_URL`) the name gets a unique suffix so that parallel
    /// tests and earlier runs cannot collide.
    pub async fn create_database(&self, name: &str) -> anyhow::Result<String> {
        validate_database_name(name)?;
        let database = if self.local.is_some() {
            name.to_owned()
        } else {
            unique_name(name)
        };
        let mut conn = PgConnection::connect(&self.server_url)
            .await
            .with_context(|| format!("connecting to {}", self.server_url))?;
        // Identifiers cannot be bound as parameters; the name was validated above to be a
        // plain lower-case identifier, so quoting it is enough.
        sqlx::query(AssertSqlSafe(format!(r#"CREATE DATABASE "{database}""#)))
            .execute(&mut conn)
            .await
            .with_context(|| format!("creating database {database}"))?;
        // Best effort: the database exists whether or not the goodbye is heard.
        let _ = conn.close().await;
        if self.local.is_none() {
            self.external_databases
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .push(database.clone());
        }
        Ok(with_database(&self.server_url, &database))
    }

    /// The URL of the server's `postgres` maintenance database (or the external URL as given).
    pub fn server_url(&self) -> &str {
        &self.server_url
    }

    /// The last lines of the private server's log (empty for an external server).
    pub fn log_tail(&self, lines: usize) -> String {
        self.local
            .as_ref()
            .map(|local| tail_of_file(&local.log, lines))
            .unwrap_or_default()
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let databases = std::mem::take(
            self.external_databases
                .get_mut()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        );
        if databases.is_empty() {
            return;
        }
        // Drop is synchronous and may run inside a tokio runtime, where blocking on another
        // runtime panics; a plain thread with its own runtime sidesteps that.
        let url = self.server_url.clone();
        let cleanup = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async move {
                let Ok(mut conn) = PgConnection::connect(&url).await else {
                    return;
                };
                for database in databases {
                    let sql = format!(r#"DROP DATABASE IF EXISTS "{database}" WITH (FORCE)"#);
                    let _ = sqlx::query(AssertSqlSafe(sql)).execute(&mut conn).await;
                }
            });
        });
        let _ = cleanup.join();
    }
}

impl std::fmt::Debug for Postgres {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Postgres")
            .field("server_url", &self.server_url)
            .field("private", &self.local.is_some())
            .finish()
    }
}

/// A server started with initdb + pg_ctl in a temp dir.
struct LocalServer {
    bin: PathBuf,
    /// PostgreSQL refuses to run as root; then every tool runs through `runuser -u postgres`.
    as_postgres_user: bool,
    port: u16,
    data: PathBuf,
    log: PathBuf,
    // Last field: removed after Drop has stopped the server.
    dir: TempDir,
}

impl LocalServer {
    async fn start() -> anyhow::Result<LocalServer> {
        let bin = postgres_bin_dir().context(
            "PostgreSQL binaries not found under /usr/lib/postgresql/*/bin \
             (install postgresql, or set SHANGJI_TEST_POSTGRES_URL)",
        )?;
        // Under /tmp rather than $TMPDIR: the postgres user must reach it, and the Unix
        // socket path placed in it must stay under the 107-byte limit.
        let dir = tempfile::Builder::new()
            .prefix("shangji-pg-")
            .tempdir_in("/tmp")
            .context("creating the PostgreSQL temp dir")?;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
            .context("making the PostgreSQL temp dir reachable")?;
        let as_postgres_user = nix::unistd::geteuid().is_root();
        if as_postgres_user {
            let user = nix::unistd::User::from_name("postgres")
                .context("looking up the postgres user")?
                .context("running as root, but there is no postgres user to run PostgreSQL as")?;
            std::os::unix::fs::chown(dir.path(), Some(user.uid.as_raw()), Some(user.gid.as_raw()))
                .context("handing the PostgreSQL temp dir to the postgres user")?;
        }
        let mut server = LocalServer {
            bin,
            as_postgres_user,
            // Picked after initdb (a second or so), to keep the window for a thief short.
            port: 0,
            data: dir.path().join("data"),
            log: dir.path().join("postgres.log"),
            dir,
        };
        server.initdb().await?;
        // The port was free when picked, but another process may bind it before the
        // postmaster does; then a fresh port is the cure, and any other failure is final.
        let mut attempt = 1;
        loop {
            server.port = free_port();
            match server.pg_ctl_start().await {
                Ok(()) => return Ok(server),
                Err(err)
                    if attempt < START_ATTEMPTS
                        && address_in_use(&tail_of_file(&server.log, 30)) =>
                {
                    attempt += 1;
                    // A fresh log, so the next check sees only the next attempt.
                    let _ = std::fs::remove_file(&server.log);
                    drop(err);
                }
                Err(err) => return Err(err),
            }
        }
    }

    /// A command for one of the PostgreSQL tools, run as the right user from a directory
    /// that user can read (pg_ctl fails when it cannot resolve its working directory).
    fn tool(&self, name: &str) -> Command {
        let program = self.bin.join(name);
        let mut command = if self.as_postgres_user {
            let mut runuser = Command::new("runuser");
            runuser.args(["-u", "postgres", "--"]).arg(program);
            runuser
        } else {
            Command::new(program)
        };
        command.current_dir(self.dir.path()).stdin(Stdio::null());
        command
    }

    async fn initdb(&self) -> anyhow::Result<()> {
        let mut command = self.tool("initdb");
        command
            .arg("-D")
            .arg(&self.data)
            .args(["-U", "postgres", "-A", "trust", "-E", "UTF8"])
            // C locale: does not depend on which locales the machine has generated.
            .args(["--no-locale", "--no-sync", "--no-instructions"]);
        run(command, "initdb").await
    }

    async fn pg_ctl_start(&self) -> anyhow::Result<()> {
        let options = format!(
            "-c listen_addresses=127.0.0.1 -p {port} -k {socket_dir} -c fsync=off \
             -c synchronous_commit=off -c full_page_writes=off -c max_connections=300",
            port = self.port,
            socket_dir = self.dir.path().display(),
        );
        let mut command = self.tool("pg_ctl");
        command
            .arg("-D")
            .arg(&self.data)
            .arg("-l")
            .arg(&self.log)
            .args(["-o", &options, "-w", "-t", "60", "start"]);
        run(command, "pg_ctl start").await.map_err(|err| {
            err.context(format!(
                "postgres log {}:\n{}",
                self.log.display(),
                tail_of_file(&self.log, 30)
            ))
        })
    }
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        // Immediate: tests throw the data away, so there is nothing to checkpoint.
        let mut command = self.tool("pg_ctl");
        command
            .arg("-D")
            .arg(&self.data)
            .args(["-m", "immediate", "-w", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let _ = command.status();
    }
}

async fn run(command: Command, what: &str) -> anyhow::Result<()> {
    let output = tokio::process::Command::from(command)
        .output()
        .await
        .with_context(|| format!("running {what}"))?;
    if !output.status.success() {
        bail!(
            "{what} failed ({}):\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}

fn validate_database_name(name: &str) -> anyhow::Result<()> {
    let plain = name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    let starts_well = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_');
    if !plain || !starts_well || name.len() > 40 {
        bail!(
            "database name {name:?} must be 1-40 characters of a-z, 0-9 and _, not starting with a digit"
        );
    }
    Ok(())
}

/// `<name>_<pid>_<n>`: unique among this process's databases and, through the pid, among
/// concurrently running test processes.
fn unique_name(name: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{name}_{}_{n}", std::process::id())
}

/// Replaces (or adds) the database part of a `postgres://` URL, keeping any `?params`.
fn with_database(url: &str, database: &str) -> String {
    let (without_query, query) = match url.split_once('?') {
        Some((head, query)) => (head, Some(query)),
        None => (url, None),
    };
    let authority_start = without_query.find("://").map_or(0, |i| i + 3);
    let server = match without_query[authority_start..].find('/') {
        Some(slash) => &without_query[..authority_start + slash],
        None => without_query,
    };
    match query {
        Some(query) => format!("{server}/{database}?{query}"),
        None => format!("{server}/{database}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn with_database_replaces_the_path_and_keeps_params() {
        assert_eq!(
            with_database(
                "postgres://postgres@127.0.0.1:5432/postgres",
                "shangji_intake"
            ),
            "postgres://postgres@127.0.0.1:5432/shangji_intake"
        );
        assert_eq!(
            with_database("postgres://u:p@db:5432", "x"),
            "postgres://u:p@db:5432/x"
        );
        assert_eq!(
            with_database("postgres://u@db/postgres?sslmode=disable", "x"),
            "postgres://u@db/x?sslmode=disable"
        );
    }

    #[test]
    fn database_names_must_be_plain_identifiers() {
        assert!(validate_database_name("shangji_intake").is_ok());
        assert!(validate_database_name("_t1").is_ok());
        assert!(validate_database_name("").is_err());
        assert!(validate_database_name("1abc").is_err());
        assert!(validate_database_name("Upper").is_err());
        assert!(validate_database_name(r#"x"; DROP DATABASE y; --"#).is_err());
    }

    #[test]
    fn unique_names_differ() {
        assert_ne!(unique_name("a"), unique_name("a"));
    }
}
