"""The deploy checks must be able to fail: each test breaks one rule on a copy of a good
input and expects that rule's message. Run by check.sh (python -m unittest)."""

import copy
import pathlib
import sys
import tempfile
import unittest

sys.path.insert(0, str(pathlib.Path(__file__).parent))

import check_containers  # noqa: E402
import check_manifests  # noqa: E402
import check_observability  # noqa: E402
import yaml  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "deploy/docker/Dockerfile"
COMPOSE = ROOT / "compose.yaml"


def deployment(name="shangji-intake", port=50051):
    labels = {"app.kubernetes.io/name": name, "app.kubernetes.io/component": name.split("-")[1]}
    probe = {"grpc": {"port": port}}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "serviceAccountName": name,
                    "automountServiceAccountToken": False,
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": 10001,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "containers": [
                        {
                            "name": "svc",
                            "image": "shangji/intake:0.1.0",
                            "readinessProbe": probe,
                            "livenessProbe": probe,
                            "startupProbe": probe,
                            "resources": {
                                "requests": {"cpu": "100m", "memory": "1Mi"},
                                "limits": {"cpu": "1", "memory": "1Mi"},
                            },
                            "securityContext": {
                                "readOnlyRootFilesystem": True,
                                "allowPrivilegeEscalation": False,
                                "capabilities": {"drop": ["ALL"]},
                            },
                        }
                    ],
                },
            }
        },
    }


def pdb(name="shangji-intake"):
    return {
        "kind": "PodDisruptionBudget",
        "metadata": {"name": name},
        "spec": {"selector": {"matchLabels": {"app.kubernetes.io/name": name}}},
    }


def workload_failures(objects):
    report = check_manifests.Report("test")
    by_kind = check_manifests.index(objects + [{"kind": "ServiceAccount", "metadata": {"name": "shangji-intake"}}])
    for obj in objects:
        if obj["kind"] in check_manifests.WORKLOAD_KINDS:
            check_manifests.check_workload(report, obj, by_kind)
    return report.failures


class ManifestRules(unittest.TestCase):
    def test_a_good_deployment_passes(self):
        self.assertEqual(workload_failures([deployment(), pdb()]), [])

    def test_missing_pdb_fails(self):
        self.assertIn("no PodDisruptionBudget", " ".join(workload_failures([deployment()])))

    def test_missing_probe_fails(self):
        d = deployment()
        del d["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]
        self.assertIn("no livenessProbe", " ".join(workload_failures([d, pdb()])))

    def test_missing_limits_fail(self):
        d = deployment()
        del d["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]
        self.assertIn("limits.memory", " ".join(workload_failures([d, pdb()])))

    def test_root_fails(self):
        d = deployment()
        d["spec"]["template"]["spec"]["securityContext"]["runAsUser"] = 0
        self.assertIn("non-zero runAsUser", " ".join(workload_failures([d, pdb()])))
        d = deployment()
        del d["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"]
        self.assertIn("runAsNonRoot", " ".join(workload_failures([d, pdb()])))

    def test_writable_root_and_capabilities_fail(self):
        d = deployment()
        d["spec"]["template"]["spec"]["containers"][0]["securityContext"] = {}
        text = " ".join(workload_failures([d, pdb()]))
        for rule in ("readOnlyRootFilesystem", "allowPrivilegeEscalation", "drop ALL"):
            self.assertIn(rule, text)

    def test_latest_image_fails(self):
        d = deployment()
        d["spec"]["template"]["spec"]["containers"][0]["image"] = "shangji/intake:latest"
        self.assertIn("not pinned", " ".join(workload_failures([d, pdb()])))

    def test_selectors(self):
        labels = {"a": "1", "b": "2"}
        self.assertTrue(check_manifests.selects({"matchLabels": {"a": "1"}}, labels))
        self.assertFalse(check_manifests.selects({"matchLabels": {"a": "2"}}, labels))
        expr = {"matchExpressions": [{"key": "b", "operator": "In", "values": ["2", "3"]}]}
        self.assertTrue(check_manifests.selects(expr, labels))
        self.assertFalse(check_manifests.selects({}, labels))

    def test_nats_without_fsync_always_fails(self):
        conf = "jetstream { store_dir: /data\n sync_interval: 2m }\n" + "".join(
            f"nats://shangji-nats-{i}.x\n" for i in range(3)
        )
        nats = {"kind": "StatefulSet", "metadata": {"name": "shangji-nats"},
                "spec": {"replicas": 3, "volumeClaimTemplates": [{}]}}
        by_kind = {
            "StatefulSet": {"shangji-nats": nats},
            "ConfigMap": {
                "shangji-nats-config": {"data": {"nats.conf": conf}},
                "shangji-common": {"data": {"SHANGJI_BUS__STREAM_REPLICAS": "1"}},
            },
        }
        report = check_manifests.Report("test")
        check_manifests.check_nats(report, by_kind)
        text = " ".join(report.failures)
        self.assertIn("sync_interval: always", text)
        self.assertIn("SHANGJI_BUS__STREAM_REPLICAS", text)


    def test_network_policy_peer_must_reach_a_listening_pod(self):
        nats = {"kind": "StatefulSet", "metadata": {"name": "shangji-nats"}, "spec": {"template": {
            "metadata": {"labels": {"app.kubernetes.io/name": "shangji-nats"}},
            "spec": {"containers": [{"ports": [{"containerPort": 4222, "name": "client"}]}]}}}}
        policy = {"kind": "NetworkPolicy", "metadata": {"name": "shangji-intake"}, "spec": {
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": "shangji-intake"}},
            "egress": [{"ports": [{"port": 4222}], "to": [{"podSelector": {"matchLabels": {
                "app.kubernetes.io/name": "shangji-nats"}}}]}]}}

        def failures(policy):
            by_kind = check_manifests.index([deployment(), nats, policy])
            report = check_manifests.Report("test")
            check_manifests.check_network_policies(report, by_kind)
            return " ".join(report.failures)

        self.assertEqual(failures(policy), "")
        # A peer rewritten to select the policy's own pods (as includeSelectors does).
        broken = copy.deepcopy(policy)
        broken["spec"]["egress"][0]["to"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/name"] = "shangji-intake"
        self.assertIn("selects no pod listening", failures(broken))


def intake_web(trusted=False, ingress=False):
    """Intake as the base renders it (HTTP port, wildcard bind, Service port, a policy
    admitting the ingress controller's namespace), optionally behind an Ingress with
    X-Forwarded-For trusted through the ConfigMap the Deployment loads."""
    d = deployment()
    container = d["spec"]["template"]["spec"]["containers"][0]
    container["ports"] = [
        {"name": "grpc", "containerPort": 50051},
        {"name": "metrics", "containerPort": 9151},
        {"name": "http", "containerPort": 8051},
    ]
    container["env"] = [{"name": "SHANGJI_INTAKE_HTTP_ADDR", "value": "0.0.0.0:8051"}]
    container["envFrom"] = [{"configMapRef": {"name": "shangji-intake-abc", "optional": True}}]
    labels = {"app.kubernetes.io/name": "shangji-intake"}
    objects = [
        d,
        {"kind": "ConfigMap", "metadata": {"name": "shangji-intake-abc"},
         "data": {"SHANGJI_INTAKE_HTTP_TRUST_FORWARDED_FOR": "true" if trusted else "false"}},
        {"kind": "Service", "metadata": {"name": "shangji-intake"}, "spec": {"selector": labels, "ports": [
            {"name": "grpc", "port": 50051, "targetPort": "grpc"},
            {"name": "http", "port": 8051, "targetPort": "http"}]}},
        {"kind": "NetworkPolicy", "metadata": {"name": "shangji-intake"}, "spec": {
            "podSelector": {"matchLabels": labels}, "policyTypes": ["Ingress", "Egress"],
            "ingress": [{"ports": [{"port": "http"}], "from": [
                {"namespaceSelector": {"matchLabels": {"shangji.io/web-ingress": "true"}}}]}]}},
    ]
    if ingress:
        backend = {"service": {"name": "shangji-intake", "port": {"name": "http"}}}
        objects.append({"kind": "Ingress", "metadata": {"name": "shangji-intake-web"}, "spec": {
            "tls": [{"hosts": ["leads.example.com"], "secretName": "shangji-intake-tls"}],
            "rules": [{"host": "leads.example.com", "http": {"paths": [
                {"path": "/forms", "pathType": "Prefix", "backend": backend},
                {"path": "/hooks", "pathType": "Prefix", "backend": backend}]}}]}})
    return objects


def by_name(objects, kind):
    return next(o for o in objects if o["kind"] == kind)


def http_failures(objects):
    by_kind = check_manifests.index(objects)
    report = check_manifests.Report("test")
    check_manifests.check_http_listener(report, "intake", 8051, by_kind)
    check_manifests.check_references(report, objects, by_kind)
    return " ".join(report.failures)


class IntakeHttpRules(unittest.TestCase):
    def test_without_and_behind_an_ingress_pass(self):
        self.assertEqual(http_failures(intake_web()), "")
        self.assertEqual(http_failures(intake_web(trusted=True, ingress=True)), "")

    def test_missing_container_port_fails(self):
        objects = intake_web()
        container = by_name(objects, "Deployment")["spec"]["template"]["spec"]["containers"][0]
        container["ports"] = container["ports"][:2]
        self.assertIn("container port `http` 8051", http_failures(objects))

    def test_loopback_or_default_bind_fails(self):
        objects = intake_web()
        container = by_name(objects, "Deployment")["spec"]["template"]["spec"]["containers"][0]
        container["env"][0]["value"] = "127.0.0.1:8051"
        self.assertIn("SHANGJI_INTAKE_HTTP_ADDR must be 0.0.0.0:8051", http_failures(objects))
        container["env"] = []
        self.assertIn("SHANGJI_INTAKE_HTTP_ADDR must be 0.0.0.0:8051", http_failures(objects))

    def test_service_without_http_port_fails(self):
        objects = intake_web()
        by_name(objects, "Service")["spec"]["ports"].pop()
        self.assertIn("no Service exposes its HTTP port 8051", http_failures(objects))

    def test_policy_without_http_rule_fails(self):
        objects = intake_web()
        by_name(objects, "NetworkPolicy")["spec"]["ingress"][0]["ports"] = [{"port": "grpc"}]
        self.assertIn("no NetworkPolicy ingress rule admits its HTTP port", http_failures(objects))

    def test_ingress_without_trusting_forwarded_for_fails(self):
        self.assertIn("share the ingress controller's address", http_failures(intake_web(ingress=True)))

    def test_trusting_forwarded_for_without_ingress_fails(self):
        self.assertIn("no Ingress routes to it", http_failures(intake_web(trusted=True)))

    def test_trusted_port_open_to_everyone_fails(self):
        objects = intake_web(trusted=True, ingress=True)
        del by_name(objects, "NetworkPolicy")["spec"]["ingress"][0]["from"]
        self.assertIn("must admit only the ingress controller", http_failures(objects))
        objects = intake_web(trusted=True, ingress=True)
        by_name(objects, "NetworkPolicy")["spec"]["ingress"][0]["from"] = [{"ipBlock": {"cidr": "0.0.0.0/0"}}]
        self.assertIn("must admit only the ingress controller", http_failures(objects))
        # Every namespace: any pod in the cluster could forge X-Forwarded-For.
        by_name(objects, "NetworkPolicy")["spec"]["ingress"][0]["from"] = [{"namespaceSelector": {}}]
        self.assertIn("must admit only the ingress controller", http_failures(objects))

    def test_ingress_without_tls_fails(self):
        objects = intake_web(trusted=True, ingress=True)
        del by_name(objects, "Ingress")["spec"]["tls"]
        self.assertIn("without TLS", http_failures(objects))

    def test_ingress_to_a_missing_port_or_secret_fails(self):
        objects = intake_web(trusted=True, ingress=True)
        ingress = by_name(objects, "Ingress")
        ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["port"] = {"name": "web"}
        ingress["spec"]["tls"][0]["secretName"] = "no-such-tls"
        text = http_failures(objects)
        self.assertIn("has no port {'name': 'web'}", text)
        self.assertIn("TLS Secret no-such-tls is missing", text)


class ContainerRules(unittest.TestCase):
    def failures_for(self, dockerfile_text):
        with tempfile.NamedTemporaryFile("w", suffix="Dockerfile", delete=False) as f:
            f.write(dockerfile_text)
        failures = []
        check_containers.check_dockerfile(f.name, failures)
        pathlib.Path(f.name).unlink()
        return " ".join(failures)

    def test_the_real_dockerfile_passes(self):
        self.assertEqual(self.failures_for(DOCKERFILE.read_text()), "")

    def test_root_user_fails(self):
        text = DOCKERFILE.read_text().replace("USER 10001:10001", "USER root")
        self.assertIn("numeric non-root USER", self.failures_for(text))

    def test_unpinned_base_fails(self):
        text = DOCKERFILE.read_text().replace("debian:12.12-slim", "debian:latest")
        self.assertIn("not pinned", self.failures_for(text))

    def test_single_stage_fails(self):
        self.assertIn("not a multi-stage build", self.failures_for("FROM debian:12.12-slim\nUSER 1\n"))

    def test_intake_http_port_not_exposed_fails(self):
        text = DOCKERFILE.read_text().replace("EXPOSE 50051 9151 8051", "EXPOSE 50051 9151")
        self.assertIn("target intake does not EXPOSE 8051", self.failures_for(text))

    def test_intake_http_on_loopback_fails(self):
        text = DOCKERFILE.read_text().replace(
            "SHANGJI_INTAKE_HTTP_ADDR=0.0.0.0:8051", "SHANGJI_INTAKE_HTTP_ADDR=127.0.0.1:8051"
        )
        self.assertIn("ENV SHANGJI_INTAKE_HTTP_ADDR=0.0.0.0:8051", self.failures_for(text))

    def compose_failures(self, edit=None):
        compose = yaml.safe_load(COMPOSE.read_text())
        if edit:
            edit(compose["services"]["intake"])
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
            yaml.safe_dump(compose, f)
        failures = []
        check_containers.check_compose(f.name, failures)
        pathlib.Path(f.name).unlink()
        return " ".join(failures)

    def test_the_real_compose_passes(self):
        self.assertEqual(self.compose_failures(), "")

    def test_compose_intake_http_rules(self):
        def unpublished(intake):
            intake["ports"] = [p for p in intake["ports"] if "8051" not in p]

        def loopback(intake):
            intake["environment"]["SHANGJI_INTAKE_HTTP_ADDR"] = "127.0.0.1:8051"

        def trusting(intake):
            intake["environment"]["SHANGJI_INTAKE_HTTP_TRUST_FORWARDED_FOR"] = "true"

        self.assertIn("must publish its HTTP port 8051", self.compose_failures(unpublished))
        self.assertIn("must set SHANGJI_INTAKE_HTTP_ADDR", self.compose_failures(loopback))
        self.assertIn("must not set SHANGJI_INTAKE_HTTP_TRUST_FORWARDED_FOR", self.compose_failures(trusting))

    def test_published_ports_short_and_long_syntax(self):
        ports = ["8051:8051", "127.0.0.1:9151:9151/tcp", {"target": 50051, "published": 50051}]
        self.assertEqual(check_containers.published_container_ports(ports), {"8051", "9151", "50051"})


class ObservabilityRules(unittest.TestCase):
    def test_metric_names_ignore_label_values(self):
        expr = 'sum(rate(shangji_x_total{code=~"13"}[5m])) / max(jetstream_stream_total_messages{stream_name="shangji_fake"}) and up{job="a"}'
        self.assertEqual(
            check_observability.metrics_in(expr),
            {"shangji_x_total", "jetstream_stream_total_messages", "up"},
        )

    def test_histogram_series_map_to_the_metric(self):
        self.assertEqual(
            check_observability.metrics_in("rate(shangji_grpc_request_duration_seconds_bucket[5m])"),
            {"shangji_grpc_request_duration_seconds"},
        )

    def test_unknown_metric_fails(self):
        failures, warnings = [], []
        check_observability.check_metric("shangji_no_such_metric", "x", {"shangji_a"}, failures, warnings)
        self.assertEqual(len(failures), 1)

    def test_anchors_follow_github(self):
        self.assertIn(
            "alert-shangjiconsumerlag",
            check_observability.anchors("## Alert: ShangjiConsumerLag\n"),
        )


if __name__ == "__main__":
    unittest.main()
