//! Where things are: the repository, the tools it installs, the binaries cargo built.

use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

/// The repository root (this crate lives at `<root>/services/testkit`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        // The manifest dir exists while this crate's code runs from a checkout; fall back to
        // the un-normalised path rather than fail a test over it.
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
}

/// A TCP port on 127.0.0.1 that was free a moment ago. The listener is dropped before
/// returning, so another process could take it first; the test PostgreSQL and nats-server
/// start again on a fresh port when that happens (see [`address_in_use`]).
pub fn free_port() -> u16 {
    free_ports(1)[0]
}

/// `n` distinct free ports on 127.0.0.1. All listeners are held until every port is
/// picked, so the same port is never handed out twice (unlike `n` calls to [`free_port`]).
///
/// The ports come from below the kernel's ephemeral range when there is room. Ports from
/// `bind(0)` are ephemeral ones, and so is the local end of every outgoing connection:
/// with tests opening thousands of connections side by side, a client socket could take
/// the port between this call and the server's bind (the likely reason a test PostgreSQL
/// server once failed to start in CI).
pub fn free_ports(n: usize) -> Vec<u16> {
    let mut listeners: Vec<TcpListener> = Vec::with_capacity(n);
    let below = below_ephemeral_range();
    let mut attempts = 0;
    while listeners.len() < n {
        attempts += 1;
        let port = match below {
            // Bounded: a crowded range falls back to the kernel's choice.
            Some((low, high)) if attempts <= 64 * n => {
                let span = u128::from(high - low) + 1;
                low + (uuid::Uuid::new_v4().as_u128() % span) as u16
            }
            _ => 0,
        };
        match TcpListener::bind((Ipv4Addr::LOCALHOST, port)) {
            Ok(listener) => listeners.push(listener),
            // Taken: try another. Binding port 0 on loopback fails only if the machine
            // has no loopback interface.
            Err(err) if port != 0 => drop(err),
            Err(err) => panic!("bind 127.0.0.1:0: {err}"),
        }
    }
    listeners
        .iter()
        .map(|listener| {
            listener
                .local_addr()
                .expect("local_addr of a bound socket")
                .port()
        })
        .collect()
}

/// The ports from 20000 up to just below `net.ipv4.ip_local_port_range`, or `None` when
/// that leaves fewer than 1,000 (or the range cannot be read).
fn below_ephemeral_range() -> Option<(u16, u16)> {
    const LOWEST: u16 = 20_000;
    let range = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").ok()?;
    let ephemeral_low: u16 = range.split_whitespace().next()?.parse().ok()?;
    let high = ephemeral_low.checked_sub(1)?;
    (high >= LOWEST + 1_000).then_some((LOWEST, high))
}

/// True when a server's log says it could not listen because its port was taken.
pub(crate) fn address_in_use(log: &str) -> bool {
    log.contains("Address already in use") || log.contains("address already in use")
}

/// nats-server: `$SHANGJI_NATS_SERVER`, then the one `deploy/install-tools.sh` puts under
/// `.tools/venv`, then whatever `nats-server` is on `PATH`.
pub fn nats_server_binary() -> anyhow::Result<PathBuf> {
    if let Some(path) = std::env::var_os("SHANGJI_NATS_SERVER") {
        let path = PathBuf::from(path);
        if !path.is_file() {
            bail!(
                "SHANGJI_NATS_SERVER={} does not exist; unset it or run deploy/install-tools.sh",
                path.display()
            );
        }
        return Ok(path);
    }
    let installed = workspace_root().join(".tools/venv/bin/nats-server");
    if installed.is_file() {
        return Ok(installed);
    }
    if let Some(found) = find_on_path("nats-server") {
        return Ok(found);
    }
    bail!(
        "nats-server not found (looked at $SHANGJI_NATS_SERVER, {}, PATH): run deploy/install-tools.sh",
        installed.display()
    )
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// The directory holding the workspace's binaries for the profile the running test was
/// built with: the test is `target/<profile>/deps/<test>-<hash>`, binaries are in
/// `target/<profile>/`. `$SHANGJI_BIN_DIR` overrides it (e.g. to test release binaries).
pub fn binary_dir() -> anyhow::Result<PathBuf> {
    if let Some(dir) = std::env::var_os("SHANGJI_BIN_DIR") {
        return Ok(PathBuf::from(dir));
    }
    let exe = std::env::current_exe().context("locating the running test executable")?;
    let dir = exe
        .parent()
        .context("the test executable has no parent directory")?;
    if dir.file_name().is_some_and(|name| name == "deps") {
        Ok(dir.parent().unwrap_or(dir).to_path_buf())
    } else {
        Ok(dir.to_path_buf())
    }
}

/// The path of a workspace binary such as `shangji-intake`, which must already be built.
pub(crate) fn service_binary(binary: &str) -> anyhow::Result<PathBuf> {
    let path = binary_dir()?.join(binary);
    if !path.is_file() {
        bail!(
            "{} not found: build it first: cargo build --workspace --bins (make test does)",
            path.display()
        );
    }
    Ok(path)
}

/// The newest PostgreSQL installation's `bin` directory under `/usr/lib/postgresql/*/bin`
/// that has both `initdb` and `pg_ctl`.
pub(crate) fn postgres_bin_dir() -> Option<PathBuf> {
    let entries = std::fs::read_dir("/usr/lib/postgresql").ok()?;
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let version: u32 = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            (bin.join("initdb").is_file() && bin.join("pg_ctl").is_file()).then_some((version, bin))
        })
        .max_by_key(|(version, _)| *version)
        .map(|(_, bin)| bin)
}

/// The last `lines` lines of a log file, or a note saying why there are none.
pub(crate) fn tail_of_file(path: &Path, lines: usize) -> String {
    match std::fs::read(path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            let all: Vec<&str> = text.lines().collect();
            all[all.len().saturating_sub(lines)..].join("\n")
        }
        Err(err) => format!("(could not read {}: {err})", path.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workspace_root_holds_the_workspace_manifest() {
        assert!(workspace_root().join("Cargo.toml").is_file());
        assert!(workspace_root().join("services/testkit").is_dir());
    }

    #[test]
    fn free_port_is_not_zero() {
        assert_ne!(free_port(), 0);
    }

    #[test]
    fn free_ports_are_distinct() {
        let ports = free_ports(12);
        let distinct: std::collections::BTreeSet<_> = ports.iter().collect();
        assert_eq!(distinct.len(), 12);
    }

    #[test]
    fn free_ports_stay_out_of_the_range_client_sockets_use() {
        let Some((low, high)) = below_ephemeral_range() else {
            return; // nothing below the range here: the kernel picks
        };
        for port in free_ports(20) {
            assert!((low..=high).contains(&port), "{port} not in {low}..={high}");
        }
    }

    #[test]
    fn taken_ports_are_recognised_in_either_servers_words() {
        let postgres = r#"LOG:  could not bind IPv4 address "127.0.0.1": Address already in use"#;
        let nats = "[FTL] Error listening on port: 127.0.0.1:4222, \"listen tcp 127.0.0.1:4222: bind: address already in use\"";
        assert!(address_in_use(postgres));
        assert!(address_in_use(nats));
        assert!(!address_in_use(
            "FATAL:  data directory has wrong ownership"
        ));
    }

    #[test]
    fn binary_dir_is_the_profile_dir_not_deps() {
        let dir = binary_dir().unwrap();
        assert_ne!(dir.file_name().unwrap(), "deps");
    }

    #[test]
    fn missing_service_binary_says_how_to_build_it() {
        let err = service_binary("shangji-no-such-service")
            .unwrap_err()
            .to_string();
        assert!(err.contains("cargo build --workspace --bins"), "{err}");
    }
}
