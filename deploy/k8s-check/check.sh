#!/usr/bin/env bash
# Offline validation of everything under deploy/ and k8s/ (make lint-deploy):
#   1. hadolint on deploy/docker/Dockerfile, and our container rules (check_containers.py)
#   2. every overlay rendered with `kubectl kustomize` (the real Kustomize, built into kubectl)
#   3. the render validated against the Kubernetes API schemas of K8S_VERSION by
#      kubernetes-validate (strict: unknown fields fail), offline
#   4. our own rules on the render (check_manifests.py)
#   5. alert rules and the Grafana dashboard: metrics known, runbook anchors exist
#      (check_observability.py)
# Tools come from deploy/install-tools.sh (.tools/deploy-venv), kubectl included.
set -euo pipefail
# Our checks are scripts, not packages: no __pycache__ litter in the work tree.
export PYTHONDONTWRITEBYTECODE=1

K8S_VERSION="${K8S_VERSION:-1.34.0}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
venv="$root/.tools/deploy-venv"
python="$venv/bin/python"
here="$root/deploy/k8s-check"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

die() { echo "lint-deploy: error: $*" >&2; exit 1; }
[[ -x "$venv/bin/kubernetes-validate" && -x "$venv/bin/hadolint" ]] ||
    die "deploy lint tools missing; run deploy/install-tools.sh"
# kubectl (for its built-in Kustomize) comes pinned from the same venv.
kubectl="$venv/bin/kubectl"
[[ -x "$kubectl" ]] || die "kubectl missing from $venv; run deploy/install-tools.sh"

cd "$root"
echo "== containers"
"$venv/bin/hadolint" deploy/docker/Dockerfile
"$python" "$here/check_containers.py" deploy/docker/Dockerfile compose.yaml

for overlay in k8s/overlays/*/; do
    name="$(basename "$overlay")"
    echo "== overlay $name (Kubernetes $K8S_VERSION)"
    "$kubectl" kustomize "$overlay" >"$out/$name.yaml"
    # Custom resources (CloudNativePG) have no built-in schema: kubernetes-validate warns,
    # and check_manifests.py admits only the kinds we mean to use.
    "$venv/bin/kubernetes-validate" --kubernetes-version "$K8S_VERSION" --strict --quiet --no-warn \
        "$out/$name.yaml" 2>"$out/$name.err" || {
        # Keep the error lines, not the validator's traceback.
        grep -E '^(ERROR|WARN)' "$out/$name.err" >&2 || cat "$out/$name.err" >&2
        die "overlay $name does not validate against Kubernetes $K8S_VERSION"
    }
    echo "ok   $name: schema-valid for Kubernetes $K8S_VERSION"
    "$python" "$here/check_manifests.py" "$name" "$out/$name.yaml"
done

echo "== observability"
"$python" "$here/check_observability.py" deploy/prometheus/alerts.yml \
    deploy/grafana/shangji-overview.json docs/operations.md

echo "== self-test: the rules catch what they are for"
"$python" -m unittest discover -s "$here" -p 'test_*.py' -q
echo "lint-deploy: all checks passed"
