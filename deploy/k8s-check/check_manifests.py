#!/usr/bin/env python3
"""Our own rules for the rendered Kubernetes manifests, on top of the schema validation.

    check_manifests.py OVERLAY_NAME RENDERED.yaml

Each rule says why it exists; a failure names the object and what to change. Exit 1 on
any failure. Rules:
  - every Deployment and StatefulSet: readiness and liveness probes, CPU and memory
    requests and limits, non-root (pod or container runAsNonRoot and a non-zero runAsUser),
    read-only root filesystem, no privilege escalation, all capabilities dropped, a pinned
    image, no service-account token, and a PodDisruptionBudget selecting its pods;
  - every Shangji service: gRPC probes on its gRPC port, an HPA, a Service, a
    NetworkPolicy with Ingress and Egress, database URL and NATS URL from Secrets;
  - NATS: 3 nodes, JetStream on file storage with sync_interval: always, and the services
    told to create streams with as many replicas as there are nodes;
  - every NetworkPolicy rule is about ports that exist: an egress peer selected by pod
    labels must select pods that listen on the rule's port (so a peer rewritten by a label
    transformer, or a typo, cannot pass), and ingress ports are ports its pods expose;
  - intake's HTTP listener (web forms, webhooks): a container port `http` 8051, bound on
    all interfaces, a Service port, a NetworkPolicy rule admitting it; behind an Ingress
    (which must terminate TLS) X-Forwarded-For is trusted, and only then, and then the
    port admits only selected peers (anyone else could forge the header);
  - every Secret and ConfigMap referenced exists in the render, is written by
    CloudNativePG, or is one of the Secrets the operator creates out of band; every
    Ingress backend is a Service port that exists;
  - kinds without a built-in schema are only the CRDs we mean to use.
"""

import re
import sys

import yaml

SERVICES = {
    "intake": 50051,
    "dedup": 50052,
    "assignment": 50053,
    "pipeline": 50054,
    "reminders": 50055,
    "analytics": 50056,
}
# Services with an HTTP listener besides gRPC and metrics: its port (named `http`).
HTTP_PORTS = {"intake": 8051}
NATS_NODES = 3
# Created by the operator with their secret manager (docs/operations.md, "Install").
OUT_OF_BAND_SECRETS = {
    "shangji-nats-auth",
    "shangji-nats-client",
    "shangji-backup-s3",
    "shangji-intake-tls",
}
# Custom resources we use; kubernetes-validate has no schema for them.
KNOWN_CRDS = {
    ("postgresql.cnpg.io/v1", "Cluster"),
    ("postgresql.cnpg.io/v1", "ScheduledBackup"),
}
WORKLOAD_KINDS = {"Deployment", "StatefulSet"}


class Report:
    def __init__(self, overlay):
        self.overlay = overlay
        self.failures = []

    def fail(self, obj, message):
        self.failures.append(f"{self.overlay}: {obj['kind']}/{obj['metadata']['name']}: {message}")


def load(path):
    with open(path, encoding="utf-8") as f:
        return [doc for doc in yaml.safe_load_all(f) if doc]


def index(objects):
    by_kind = {}
    for obj in objects:
        by_kind.setdefault(obj["kind"], {})[obj["metadata"]["name"]] = obj
    return by_kind


def selects(selector, labels):
    """Whether a label selector (matchLabels + matchExpressions) selects `labels`."""
    if not selector:
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def pinned(image):
    """A digest, or a tag that names a version (not latest, not missing)."""
    if "@sha256:" in image:
        return True
    name, _, tag = image.rpartition(":")
    if not name or "/" in tag:
        return False
    return tag != "latest" and bool(tag)


def check_workload(report, obj, by_kind):
    pod = obj["spec"]["template"]["spec"]
    labels = obj["spec"]["template"]["metadata"].get("labels") or {}
    pod_sc = pod.get("securityContext") or {}
    if pod.get("automountServiceAccountToken") is not False:
        report.fail(obj, "set automountServiceAccountToken: false (no pod calls the API)")
    sa = pod.get("serviceAccountName")
    if not sa or sa not in by_kind.get("ServiceAccount", {}):
        report.fail(obj, f"needs its own ServiceAccount in the render (has {sa!r})")
    for container in pod.get("containers", []) + pod.get("initContainers", []):
        where = f"container {container['name']}"
        sc = container.get("securityContext") or {}
        for probe in ("readinessProbe", "livenessProbe"):
            if probe not in container and container in pod.get("containers", []):
                report.fail(obj, f"{where} has no {probe}")
        resources = container.get("resources") or {}
        for kind in ("requests", "limits"):
            for resource in ("cpu", "memory"):
                if resource not in (resources.get(kind) or {}):
                    # A CPU limit is required too: a runaway replica must not starve the
                    # node that also runs a NATS or PostgreSQL instance.
                    report.fail(obj, f"{where} has no {kind}.{resource}")
        non_root = sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot"))
        user = sc.get("runAsUser", pod_sc.get("runAsUser"))
        if non_root is not True:
            report.fail(obj, f"{where} must set runAsNonRoot: true")
        if user is None or user == 0:
            report.fail(obj, f"{where} needs a numeric non-zero runAsUser")
        if sc.get("readOnlyRootFilesystem") is not True:
            report.fail(obj, f"{where} must set readOnlyRootFilesystem: true")
        if sc.get("allowPrivilegeEscalation") is not False:
            report.fail(obj, f"{where} must set allowPrivilegeEscalation: false")
        if "ALL" not in ((sc.get("capabilities") or {}).get("drop") or []):
            report.fail(obj, f"{where} must drop ALL capabilities")
        if not pinned(container.get("image", "")):
            report.fail(obj, f"{where} image {container.get('image')!r} is not pinned to a version")
    if (pod_sc.get("seccompProfile") or {}).get("type") != "RuntimeDefault":
        report.fail(obj, "pod securityContext.seccompProfile.type must be RuntimeDefault")
    pdbs = [
        pdb
        for pdb in by_kind.get("PodDisruptionBudget", {}).values()
        if selects(pdb["spec"].get("selector"), labels)
    ]
    if not pdbs:
        report.fail(obj, "no PodDisruptionBudget selects its pods")


def env_of(container):
    return {e["name"]: e for e in container.get("env") or []}


def check_service(report, svc, port, by_kind):
    name = f"shangji-{svc}"
    deployment = by_kind.get("Deployment", {}).get(name)
    if deployment is None:
        report.failures.append(f"{report.overlay}: Deployment/{name} is missing")
        return
    labels = deployment["spec"]["template"]["metadata"].get("labels") or {}
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        grpc = (container.get(probe) or {}).get("grpc") or {}
        if grpc.get("port") != port:
            report.fail(deployment, f"{probe} must be a gRPC health probe on port {port}")
    hpas = [
        h
        for h in by_kind.get("HorizontalPodAutoscaler", {}).values()
        if h["spec"]["scaleTargetRef"].get("kind") == "Deployment"
        and h["spec"]["scaleTargetRef"].get("name") == name
    ]
    if not hpas:
        report.fail(deployment, "no HorizontalPodAutoscaler scales it")
    elif hpas[0]["spec"].get("minReplicas", 1) > hpas[0]["spec"]["maxReplicas"]:
        report.fail(hpas[0], "minReplicas exceeds maxReplicas")
    services = [
        s
        for s in by_kind.get("Service", {}).values()
        if s["spec"].get("selector") and selects({"matchLabels": s["spec"]["selector"]}, labels)
    ]
    if not any(p.get("port") == port for s in services for p in s["spec"].get("ports", [])):
        report.fail(deployment, f"no Service exposes its gRPC port {port}")
    policies = [
        p
        for p in by_kind.get("NetworkPolicy", {}).values()
        if selects(p["spec"].get("podSelector"), labels)
    ]
    if not any(set(p["spec"].get("policyTypes", [])) >= {"Ingress", "Egress"} for p in policies):
        report.fail(deployment, "no NetworkPolicy restricts both its ingress and egress")
    env = env_of(container)
    for var in (f"SHANGJI_{svc.upper()}_DATABASE_URL", "SHANGJI_NATS_URL"):
        if "secretKeyRef" not in (env.get(var, {}).get("valueFrom") or {}):
            report.fail(deployment, f"{var} must come from a Secret (secretKeyRef)")


def effective_env(container, by_kind):
    """The container's environment as the process sees it: envFrom ConfigMaps in order,
    then `env` (which wins). Values from Secrets or fields are left out."""
    env = {}
    for source in container.get("envFrom") or []:
        ref = source.get("configMapRef")
        if ref:
            data = (by_kind.get("ConfigMap", {}).get(ref["name"]) or {}).get("data") or {}
            env.update({source.get("prefix", "") + k: v for k, v in data.items()})
    for var in container.get("env") or []:
        if "value" in var:
            env[var["name"]] = var["value"]
    return env


def setting(env, svc, key):
    """A setting as the service reads it: SHANGJI_<SVC>_<KEY> wins over SHANGJI_<KEY>."""
    key = key.upper()
    return env.get(f"SHANGJI_{svc.upper()}_{key}", env.get(f"SHANGJI_{key}"))


def wildcard_bind(addr, port):
    """Whether host:port listens on every interface on `port` (a pod's or container's
    loopback is unreachable from outside it)."""
    host, _, bound = (addr or "").strip().rpartition(":")
    return host in ("0.0.0.0", "[::]") and bound == str(port)


def service_ports_for(labels, by_kind):
    """(Service, port) for every Service port that routes to pods with `labels`."""
    return [
        (s, p)
        for s in by_kind.get("Service", {}).values()
        if s["spec"].get("selector") and selects({"matchLabels": s["spec"]["selector"]}, labels)
        for p in s["spec"].get("ports", [])
    ]


def ingress_backends(ingress):
    """(host, backend service) of every rule path and the default backend."""
    spec = ingress["spec"]
    if (spec.get("defaultBackend") or {}).get("service"):
        yield None, spec["defaultBackend"]["service"]
    for rule in spec.get("rules") or []:
        for path in (rule.get("http") or {}).get("paths") or []:
            if (path.get("backend") or {}).get("service"):
                yield rule.get("host"), path["backend"]["service"]


def backend_port_matches(backend, service_port):
    """Whether an Ingress backend's port (by name or number) is this Service port."""
    port = backend.get("port") or {}
    if "name" in port:
        return port["name"] == service_port.get("name")
    return port.get("number") == service_port.get("port")


def open_peer(peer):
    """Whether a NetworkPolicy peer admits arbitrary clients: an address block (the
    internet, or nodes), or every pod of every namespace."""
    if "ipBlock" in peer:
        return True

    def everything(selector):
        return not selector.get("matchLabels") and not selector.get("matchExpressions")

    return "namespaceSelector" in peer and everything(peer["namespaceSelector"]) and (
        everything(peer.get("podSelector") or {})
    )


def check_http_listener(report, svc, port, by_kind):
    name = f"shangji-{svc}"
    deployment = by_kind.get("Deployment", {}).get(name)
    if deployment is None:
        return  # check_service reports it
    labels = deployment["spec"]["template"]["metadata"].get("labels") or {}
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    declared = [p for p in container.get("ports") or [] if p.get("name") == "http"]
    if not declared or declared[0].get("containerPort") != port:
        report.fail(deployment, f"needs container port `http` {port} (web forms, webhooks)")
    env = effective_env(container, by_kind)
    addr_var = f"SHANGJI_{svc.upper()}_HTTP_ADDR"
    if not wildcard_bind(setting(env, svc, "http_addr"), port):
        report.fail(
            deployment,
            f"{addr_var} must be 0.0.0.0:{port}: the default binds loopback, unreachable from outside the pod",
        )
    # Which Service ports lead to the listener, and which Ingresses route to those.
    http_ports = [
        (s, p)
        for s, p in service_ports_for(labels, by_kind)
        if p.get("targetPort") in ("http", port) or (p.get("port") == port and "targetPort" not in p)
    ]
    if not http_ports:
        report.fail(deployment, f"no Service exposes its HTTP port {port} (targetPort http)")
    ingresses = [
        ingress
        for ingress in by_kind.get("Ingress", {}).values()
        for _, backend in ingress_backends(ingress)
        for s, p in http_ports
        if backend.get("name") == s["metadata"]["name"] and backend_port_matches(backend, p)
    ]
    # Policies are additive: every rule of every policy selecting the pods that admits the
    # HTTP port (a rule without ports admits every port).
    admitting = [
        rule
        for policy in by_kind.get("NetworkPolicy", {}).values()
        if selects(policy["spec"].get("podSelector"), labels)
        for rule in policy["spec"].get("ingress") or []
        if not rule.get("ports") or any(p.get("port") in ("http", port) for p in rule["ports"])
    ]
    if not admitting:
        report.fail(deployment, f"no NetworkPolicy ingress rule admits its HTTP port {port}")
    trusted = str(setting(env, svc, "http_trust_forwarded_for")).strip().lower() == "true"
    trust_var = f"SHANGJI_{svc.upper()}_HTTP_TRUST_FORWARDED_FOR"
    if ingresses and not trusted:
        report.fail(
            deployment,
            f"is behind Ingress/{ingresses[0]['metadata']['name']} but {trust_var} is not true: "
            "every visitor would share the ingress controller's address and rate limit",
        )
    if trusted and not ingresses:
        report.fail(
            deployment,
            f"{trust_var}=true but no Ingress routes to it: clients would choose their own address",
        )
    if trusted:
        for rule in admitting:
            peers = rule.get("from") or []
            if not peers or any(open_peer(peer) for peer in peers):
                report.fail(
                    deployment,
                    f"trusts X-Forwarded-For, so its HTTP port must admit only the ingress "
                    f"controller's pods or namespace, not {peers or 'everyone'}",
                )
    for ingress in {i["metadata"]["name"]: i for i in ingresses}.values():
        tls_hosts = {h for t in ingress["spec"].get("tls") or [] for h in t.get("hosts") or []}
        for host, _ in ingress_backends(ingress):
            if host not in tls_hosts:
                report.fail(
                    ingress,
                    f"serves {name}'s web forms and webhooks on {host or 'any host'} without TLS "
                    "(leads carry personal data): add it to spec.tls",
                )


def check_nats(report, by_kind):
    nats = by_kind.get("StatefulSet", {}).get("shangji-nats")
    if nats is None:
        report.failures.append(f"{report.overlay}: StatefulSet/shangji-nats is missing")
        return
    if nats["spec"].get("replicas") != NATS_NODES:
        report.fail(nats, f"needs {NATS_NODES} replicas for a JetStream quorum")
    if not nats["spec"].get("volumeClaimTemplates"):
        report.fail(nats, "JetStream file storage needs a volumeClaimTemplate")
    config = (by_kind.get("ConfigMap", {}).get("shangji-nats-config") or {}).get("data", {})
    conf = config.get("nats.conf", "")
    if not re.search(r"^\s*sync_interval:\s*always\s*$", conf, re.M):
        report.fail(nats, "nats.conf must set sync_interval: always (docs/operations.md)")
    if "store_dir" not in conf:
        report.fail(nats, "nats.conf must put JetStream on file storage (store_dir)")
    routes = re.findall(r"nats://shangji-nats-\d+\.", conf)
    if len(routes) != NATS_NODES:
        report.fail(nats, f"nats.conf lists {len(routes)} routes, expected {NATS_NODES}")
    common = (by_kind.get("ConfigMap", {}).get("shangji-common") or {}).get("data", {})
    if common.get("SHANGJI_BUS__STREAM_REPLICAS") != str(NATS_NODES):
        report.failures.append(
            f"{report.overlay}: ConfigMap/shangji-common: SHANGJI_BUS__STREAM_REPLICAS must be "
            f"{NATS_NODES} so every stream is replicated on every node"
        )


def check_references(report, objects, by_kind):
    secrets = set(by_kind.get("Secret", {}))
    # CloudNativePG writes <cluster>-app (with `uri`) for each Cluster.
    secrets |= {f"{name}-app" for name in by_kind.get("Cluster", {})}
    secrets |= OUT_OF_BAND_SECRETS
    config_maps = set(by_kind.get("ConfigMap", {}))
    for obj in objects:
        if obj["kind"] not in WORKLOAD_KINDS:
            continue
        pod = obj["spec"]["template"]["spec"]
        for container in pod.get("containers", []):
            for source in container.get("envFrom") or []:
                ref = source.get("configMapRef") or source.get("secretRef")
                pool = config_maps if "configMapRef" in source else secrets
                if ref and not ref.get("optional") and ref["name"] not in pool:
                    report.fail(obj, f"envFrom refers to missing {ref['name']}")
            for var in container.get("env") or []:
                value_from = var.get("valueFrom") or {}
                for key, pool in (("secretKeyRef", secrets), ("configMapKeyRef", config_maps)):
                    ref = value_from.get(key)
                    if ref and not ref.get("optional") and ref["name"] not in pool:
                        report.fail(obj, f"{var['name']} refers to missing {key} {ref['name']}")
        for volume in pod.get("volumes") or []:
            if "configMap" in volume and volume["configMap"]["name"] not in config_maps:
                report.fail(obj, f"volume {volume['name']} refers to missing ConfigMap")
    for ingress in by_kind.get("Ingress", {}).values():
        for tls in ingress["spec"].get("tls") or []:
            if tls.get("secretName") and tls["secretName"] not in secrets:
                report.fail(ingress, f"TLS Secret {tls['secretName']} is missing (nor created out of band)")
        for _, backend in ingress_backends(ingress):
            service = by_kind.get("Service", {}).get(backend.get("name"))
            if service is None:
                report.fail(ingress, f"backend Service {backend.get('name')} is missing")
            elif not any(backend_port_matches(backend, p) for p in service["spec"].get("ports", [])):
                report.fail(ingress, f"backend Service {backend['name']} has no port {backend.get('port')}")


def pods_in(by_kind):
    """(labels, {port numbers and names}) of every pod the render creates. CloudNativePG
    instances are not in the render; their labels and ports are known."""
    pods = []
    for kind in WORKLOAD_KINDS:
        for obj in by_kind.get(kind, {}).values():
            template = obj["spec"]["template"]
            ports = set()
            for container in template["spec"].get("containers", []):
                for port in container.get("ports") or []:
                    ports.add(port["containerPort"])
                    if "name" in port:
                        ports.add(port["name"])
            pods.append((template["metadata"].get("labels") or {}, ports))
    for name in by_kind.get("Cluster", {}):
        pods.append(({"cnpg.io/cluster": name}, {5432, 8000, 9187, "postgresql", "metrics"}))
    return pods


def check_network_policies(report, by_kind):
    pods = pods_in(by_kind)
    for policy in by_kind.get("NetworkPolicy", {}).values():
        spec = policy["spec"]
        own = [ports for labels, ports in pods if selects(spec.get("podSelector"), labels)]
        if not own:
            report.fail(policy, "its podSelector selects no pod in the render")
            continue
        for rule in spec.get("ingress") or []:
            for port in rule.get("ports") or []:
                if not any(port["port"] in ports for ports in own):
                    report.fail(policy, f"ingress port {port['port']} is not a port of its pods")
        for rule in spec.get("egress") or []:
            wanted = {port["port"] for port in rule.get("ports") or []}
            for peer in rule.get("to") or []:
                if "podSelector" not in peer or "namespaceSelector" in peer:
                    continue
                targets = [ports for labels, ports in pods if selects(peer["podSelector"], labels)]
                if not any(wanted & ports for ports in targets):
                    report.fail(
                        policy,
                        f"egress peer {peer['podSelector']} selects no pod listening on {sorted(map(str, wanted))}",
                    )


def check_kinds(report, objects):
    for obj in objects:
        api = obj["apiVersion"]
        if "." in api.split("/")[0] and not api.split("/")[0].endswith(".k8s.io"):
            if (api, obj["kind"]) not in KNOWN_CRDS:
                report.fail(obj, f"unexpected custom resource {api} (add it to KNOWN_CRDS)")


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    overlay, path = sys.argv[1], sys.argv[2]
    objects = load(path)
    by_kind = index(objects)
    report = Report(overlay)
    for obj in objects:
        if obj["kind"] in WORKLOAD_KINDS:
            check_workload(report, obj, by_kind)
    for svc, port in SERVICES.items():
        check_service(report, svc, port, by_kind)
    for svc, port in HTTP_PORTS.items():
        check_http_listener(report, svc, port, by_kind)
    check_nats(report, by_kind)
    check_references(report, objects, by_kind)
    check_network_policies(report, by_kind)
    check_kinds(report, objects)
    for failure in report.failures:
        print(f"FAIL {failure}")
    if report.failures:
        sys.exit(1)
    workloads = sum(1 for o in objects if o["kind"] in WORKLOAD_KINDS)
    print(f"ok   {overlay}: {len(objects)} objects, {workloads} workloads pass our rules")


if __name__ == "__main__":
    main()
