//! `make run`'s script, deploy/run-local.sh: it starts nats-server and the six services,
//! says where they listen, and Ctrl-C in its terminal stops everything cleanly: each
//! service drains once (not cut short by a second signal), the script exits 0 and
//! nothing is left listening.

use std::io::{BufRead as _, BufReader};
use std::net::TcpStream;
use std::os::unix::process::CommandExt as _;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use shangji_testkit::{SERVICES, binary_dir, free_ports, nats_server_binary, workspace_root};

#[test]
fn ctrl_c_stops_the_local_system_cleanly() {
    let data = tempfile::tempdir().unwrap();
    let stderr_path = data.path().join("run-local.stderr");
    let ports = free_ports(1 + 2 * SERVICES.len());
    let mut script = Command::new("bash");
    script
        .arg(workspace_root().join("deploy/run-local.sh"))
        .env("SHANGJI_BIN_DIR", binary_dir().unwrap())
        .env("SHANGJI_NATS_SERVER", nats_server_binary().unwrap())
        .env("SHANGJI_DATA_DIR", data.path())
        .env("SHANGJI_NATS_PORT", ports[0].to_string())
        .env("SHANGJI_INTAKE_HTTP_ADDR", "127.0.0.1:0")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&stderr_path).unwrap())
        // A terminal's foreground job: Ctrl-C signals its whole process group.
        .process_group(0);
    let mut grpc_ports = Vec::new();
    for (i, service) in SERVICES.iter().enumerate() {
        let upper = service.to_uppercase();
        let (grpc, metrics) = (ports[1 + 2 * i], ports[2 + 2 * i]);
        grpc_ports.push(grpc);
        script
            .env(
                format!("SHANGJI_{upper}_LISTEN_ADDR"),
                format!("127.0.0.1:{grpc}"),
            )
            .env(
                format!("SHANGJI_{upper}_METRICS_ADDR"),
                format!("127.0.0.1:{metrics}"),
            );
    }
    let mut child = script.spawn().expect("bash runs deploy/run-local.sh");
    let pid = child.id();
    // Stop the whole group whatever happens below, so a failure leaves nothing running.
    let _stop = StopGroup(pid);

    let (lines, printed) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let mut output = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    while !output
        .iter()
        .any(|l: &String| l.contains("Ctrl-C stops everything"))
    {
        let left = deadline.saturating_duration_since(Instant::now());
        match printed.recv_timeout(left) {
            Ok(line) => output.push(line),
            Err(_) => panic!(
                "the system did not start; printed so far:\n{}\nstderr: {}",
                output.join("\n"),
                stderr_of(&stderr_path)
            ),
        }
    }
    let printed_all = output.join("\n");
    for (service, port) in SERVICES.iter().zip(&grpc_ports) {
        assert!(
            printed_all.contains(&format!("127.0.0.1:{port}")),
            "{service}'s address is printed:\n{printed_all}"
        );
        assert!(
            TcpStream::connect(("127.0.0.1", *port)).is_ok(),
            "{service} listens"
        );
    }

    killpg(Pid::from_raw(pid as i32), Signal::SIGINT).expect("Ctrl-C");
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "still running 60 s after Ctrl-C");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        status.success(),
        "the script exits 0 after Ctrl-C: {status}; stderr: {}",
        stderr_of(&stderr_path)
    );
    let rest: Vec<String> = printed.try_iter().collect();
    assert!(rest.iter().any(|l| l == "stopped."), "{rest:?}");

    for (service, port) in SERVICES.iter().zip(&grpc_ports) {
        let log = std::fs::read_to_string(data.path().join(format!("logs/{service}.log")))
            .unwrap_or_else(|e| panic!("{service}'s log: {e}"));
        assert_eq!(
            log.matches("shutdown requested: draining").count(),
            1,
            "{service} drains once:\n{log}"
        );
        assert!(
            !log.contains("second signal"),
            "{service} was not cut short:\n{log}"
        );
        assert!(log.contains("stopped"), "{service} says it stopped:\n{log}");
        assert!(
            !log.contains('\u{1b}'),
            "{service}'s log file holds no terminal colour codes"
        );
        assert!(
            TcpStream::connect(("127.0.0.1", *port)).is_err(),
            "{service} no longer listens"
        );
    }
    assert!(
        TcpStream::connect(("127.0.0.1", ports[0])).is_err(),
        "nats-server no longer listens"
    );
}

fn stderr_of(path: &std::path::Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// Kills the script's process group and every service it started when dropped.
struct StopGroup(u32);

impl Drop for StopGroup {
    fn drop(&mut self) {
        // The services run in sessions of their own; the script stops them on SIGTERM.
        let _ = killpg(Pid::from_raw(self.0 as i32), Signal::SIGTERM);
    }
}

/// What the script did with a `SHANGJI_BACKGROUND_NICE` value: its exit code, its stderr,
/// and the scheduling a stand-in nats-server found itself under (`chrt -p` and `nice`),
/// which the script starts first and which exits at once.
fn background_priority(value: &str) -> (Option<i32>, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let seen = dir.path().join("seen");
    let stand_in = dir.path().join("nats-server");
    std::fs::write(
        &stand_in,
        format!(
            "#!/usr/bin/env bash\n{{ chrt -p $$; echo \"niceness $(nice)\"; }} > {}\n",
            seen.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(
        &stand_in,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let output = Command::new("bash")
        .arg(workspace_root().join("deploy/run-local.sh"))
        .env("SHANGJI_BACKGROUND_NICE", value)
        .env("SHANGJI_NATS_SERVER", &stand_in)
        .env("SHANGJI_DATA_DIR", dir.path().join("data"))
        .env("SHANGJI_NATS_PORT", free_ports(1)[0].to_string())
        .stdin(Stdio::null())
        .output()
        .expect("bash runs deploy/run-local.sh");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
        std::fs::read_to_string(&seen).unwrap_or_default(),
    )
}

#[test]
fn the_background_runs_niced_or_idle_as_asked_and_nonsense_is_refused() {
    let (_, _, seen) = background_priority("10");
    assert!(seen.contains("SCHED_OTHER"), "{seen}");
    assert!(seen.contains("niceness 10"), "{seen}");

    let (_, _, seen) = background_priority("idle");
    assert!(seen.contains("SCHED_IDLE"), "{seen}");

    for nonsense in ["20", "-5", "fast", "idle!"] {
        let (code, stderr, seen) = background_priority(nonsense);
        assert_eq!(code, Some(1), "{nonsense:?} refused");
        assert!(
            stderr.contains("SHANGJI_BACKGROUND_NICE must be a niceness from 0 to 19 or idle"),
            "{nonsense:?}: {stderr}"
        );
        assert!(seen.is_empty(), "{nonsense:?}: nothing started");
    }
}
