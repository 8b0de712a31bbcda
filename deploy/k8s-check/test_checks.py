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

ROOT = pathlib.Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "deploy/docker/Dockerfile"


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
