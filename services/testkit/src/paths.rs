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
/// returning, so another process could take it first; the window is small enough for tests.
pub fn free_port() -> u16 {
    // Binding port 0 on loopback fails only if the machine has no loopback interface.
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind 127.0.0.1:0");
    listener
        .local_addr()
        .expect("local_addr of a bound socket")
        .port()
}

/// `n` distinct free ports on 127.0.0.1. All listeners are held until every port is
/// picked, so the same port is never handed out twice (unlike `n` calls to [`free_port`]).
pub fn free_ports(n: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind 127.0.0.1:0"))
        .collect();
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
