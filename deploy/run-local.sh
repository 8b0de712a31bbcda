#!/usr/bin/env bash
# Starts Shangji on this machine: nats-server with JetStream on loopback, then the six
# services on SQLite, all under one data folder. Prints where each listens and stays in
# the foreground; Ctrl-C (or SIGTERM) stops everything cleanly.
#
#   deploy/run-local.sh            (make run calls it after building)
#
# Environment:
#   SHANGJI_DATA_DIR              data folder (default ./data): <service>.db files and nats/
#   SHANGJI_NATS_PORT             nats-server port (default 4222)
#   SHANGJI_BIN_DIR               where the binaries are (default target/release)
#   SHANGJI_NATS_SERVER           the nats-server binary (default the one make run installs
#                                 under .tools/)
#   SHANGJI_INTAKE_HTTP_ADDR      intake's web forms and webhooks (default 127.0.0.1:8051;
#                                 empty turns them off)
#   SHANGJI_WORKER_THREADS        async worker threads per service (default 1 here: all
#                                 six share this machine's cores; see README.md)
#   SHANGJI_BACKGROUND_NICE       CPU niceness of nats-server and the five services
#                                 behind intake (default 10; 0 gives them intake's), or
#                                 `idle`: Linux's SCHED_IDLE, CPU only when nothing else
#                                 wants it
#   OTEL_EXPORTER_OTLP_ENDPOINT   passed to every service: export traces over OTLP/gRPC
#   SHANGJI_LOG, SHANGJI_<SERVICE>_* and the other settings in README.md pass through too.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
data="${SHANGJI_DATA_DIR:-./data}"
nats_port="${SHANGJI_NATS_PORT:-4222}"
bin_dir="${SHANGJI_BIN_DIR:-target/release}"
nats_server="${SHANGJI_NATS_SERVER:-$root/.tools/venv/bin/nats-server}"
services=(intake dedup assignment pipeline reminders analytics)
declare -A grpc_port=([intake]=50051 [dedup]=50052 [assignment]=50053 [pipeline]=50054 [reminders]=50055 [analytics]=50056)
# Intake's HTTP listener (web forms, webhooks), set explicitly so the address printed below
# is the one it binds; `-` keeps an empty value, which turns the listener off.
export SHANGJI_INTAKE_HTTP_ADDR="${SHANGJI_INTAKE_HTTP_ADDR-127.0.0.1:8051}"
intake_http="$SHANGJI_INTAKE_HTTP_ADDR"
# One async worker per service: the six share this machine, and a consumer's work is a
# chain of hand-offs to its database thread, which a second worker only makes costlier.
export SHANGJI_WORKER_THREADS="${SHANGJI_WORKER_THREADS:-1}"
# The front door first: when every core is busy, the bus and the five services catching up
# on events yield to intake, which answers callers. A submitted lead is safe once
# acknowledged (its event waits in intake's outbox), so this shortens the wait of callers
# without slowing the pipeline down: it does the same work either way, on every core
# intake leaves.
# `idle` goes further (SCHED_IDLE): the background runs only on CPU nobody else wants. That
# shortens intake's answers under load more than niceness does (docs/benchmarks.md), but
# anything else busy on the machine, a build say, then holds the pipeline back almost
# entirely until it is done, so it is a choice, not the default.
background_nice="${SHANGJI_BACKGROUND_NICE:-10}"
if [[ "$background_nice" == idle ]]; then
    if ! chrt --idle 0 true 2>/dev/null; then
        echo "error: SHANGJI_BACKGROUND_NICE=idle needs chrt (util-linux) and SCHED_IDLE;" \
            "give a niceness from 0 to 19 instead" >&2
        exit 1
    fi
    background=(chrt --idle 0)
elif [[ "$background_nice" =~ ^[0-9]+$ ]] && ((background_nice <= 19)); then
    background=(nice -n "$background_nice")
else
    echo "error: SHANGJI_BACKGROUND_NICE must be a niceness from 0 to 19 or idle, not '$background_nice'" >&2
    exit 1
fi

mkdir -p "$data/nats" "$data/logs"
data="$(cd "$data" && pwd)"
pids=()

stop_all() {
    trap - INT TERM EXIT
    echo
    echo "stopping…"
    # Services first (they drain their consumers and outbox), then nats-server.
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
        kill -TERM "${pids[$i]}" 2>/dev/null || true
        wait "${pids[$i]}" 2>/dev/null || true
    done
    echo "stopped."
}
# A signal is a requested stop: exit 0 once done, instead of resuming the `wait -n` below,
# which would then report the stopped processes as an unexpected exit.
trap 'stop_all; exit 0' INT TERM HUP
trap stop_all EXIT
# Each child runs in a process group of its own (job control, `set -m`), so Ctrl-C in the
# terminal reaches this script only: stop_all's SIGTERM is then a service's first signal,
# which drains it, and nats-server outlives the services. Sharing the terminal's process
# group, the children got Ctrl-C's SIGINT as well, and stop_all's SIGTERM became a second
# signal, which exits without draining. They stay in this session: with the kernel's
# autogroup scheduling, a session of their own (setsid) would give each an equal share of
# the CPU whatever its niceness.
set -m
start() { # logfile command...
    local log="$1"
    shift
    "$@" >"$log" 2>&1 </dev/null &
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_for_port() { # name port pid logfile
    for _ in $(seq 1 300); do
        port_open "$2" && return 0
        if ! kill -0 "$3" 2>/dev/null; then
            echo "error: $1 exited during start-up; last lines of $4:" >&2
            tail -n 20 "$4" >&2
            exit 1
        fi
        sleep 0.1
    done
    echo "error: $1 did not listen on port $2 within 30 s; see $4" >&2
    exit 1
}

if port_open "$nats_port"; then
    echo "error: port $nats_port is taken (another nats-server or make run?); set SHANGJI_NATS_PORT" >&2
    exit 1
fi
start "$data/logs/nats-server.log" \
    "${background[@]}" "$nats_server" -js -sd "$data/nats" -a 127.0.0.1 -p "$nats_port"
pids+=($!)
wait_for_port nats-server "$nats_port" "$!" "$data/logs/nats-server.log"

export SHANGJI_DATA_DIR="$data"
export SHANGJI_NATS_URL="nats://127.0.0.1:$nats_port"
# Port 0 lets intake pick a free port (its log says which); nothing to check then.
intake_http_port="${intake_http##*:}"
if [[ -n "$intake_http" && "$intake_http_port" != 0 ]] && port_open "$intake_http_port"; then
    echo "error: port $intake_http_port for intake's web forms and webhooks is taken;" \
        "set SHANGJI_INTAKE_HTTP_ADDR (empty turns them off)" >&2
    exit 1
fi
for s in "${services[@]}"; do
    port_var="SHANGJI_${s^^}_LISTEN_ADDR"
    if [[ -z "${!port_var:-}" ]] && port_open "${grpc_port[$s]}"; then
        echo "error: port ${grpc_port[$s]} for $s is taken; set $port_var" >&2
        exit 1
    fi
    if [[ "$s" == intake ]]; then
        start "$data/logs/$s.log" "$bin_dir/shangji-$s"
    else
        start "$data/logs/$s.log" "${background[@]}" "$bin_dir/shangji-$s"
    fi
    pids+=($!)
done
for i in "${!services[@]}"; do
    s="${services[$i]}"
    port_var="SHANGJI_${s^^}_LISTEN_ADDR"
    port="${!port_var:-127.0.0.1:${grpc_port[$s]}}"
    wait_for_port "$s" "${port##*:}" "${pids[$((i + 1))]}" "$data/logs/$s.log"
done
if [[ -n "$intake_http" && "$intake_http_port" != 0 ]]; then
    wait_for_port "intake HTTP" "$intake_http_port" "${pids[1]}" "$data/logs/intake.log"
fi

echo "Shangji is running (data in $data, logs in $data/logs):"
printf '  %-12s %s\n' nats "nats://127.0.0.1:$nats_port"
for i in "${!services[@]}"; do
    s="${services[$i]}"
    port_var="SHANGJI_${s^^}_LISTEN_ADDR"
    metrics_var="SHANGJI_${s^^}_METRICS_ADDR"
    printf '  %-12s grpc %-18s metrics http://%s/metrics\n' \
        "$s" "${!port_var:-127.0.0.1:${grpc_port[$s]}}" "${!metrics_var:-127.0.0.1:$((9151 + i))}"
done
if [[ -z "$intake_http" ]]; then
    echo "  intake HTTP (web forms, webhooks) off (SHANGJI_INTAKE_HTTP_ADDR is empty)"
elif [[ "$intake_http_port" == 0 ]]; then
    echo "  intake HTTP (web forms, webhooks) on a free port: see $data/logs/intake.log"
else
    # A wildcard bind is reachable on loopback too; print an address a browser can use.
    intake_http_host="${intake_http%:*}"
    [[ "$intake_http_host" == 0.0.0.0 || "$intake_http_host" == "[::]" ]] && intake_http_host=127.0.0.1
    echo "  intake HTTP (web forms, webhooks) http://$intake_http_host:$intake_http_port"
fi
if [[ -n "${OTEL_EXPORTER_OTLP_ENDPOINT:-}" ]]; then
    echo "  traces       exported to $OTEL_EXPORTER_OTLP_ENDPOINT"
fi
echo "Try: $bin_dir/shangji submit --name 王伟 --phone 13800138000 --company 华为   (see README)"
echo "Ctrl-C stops everything."

# Stay in the foreground; if any process dies, say so and stop the rest.
set +e
wait -n "${pids[@]}"
echo "a process exited unexpectedly; see $data/logs" >&2
exit 1
