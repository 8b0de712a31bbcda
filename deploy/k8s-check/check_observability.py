#!/usr/bin/env python3
"""Checks that the alert rules and the Grafana dashboard fit the code and the docs.

    check_observability.py ALERTS.yml DASHBOARD.json OPERATIONS.md

- every alert has a severity, a summary and a runbook_url whose #anchor is a heading of
  docs/operations.md (so the page an on-call engineer opens exists);
- every shangji_* metric in an alert or panel is emitted by the Rust code under services/
  (found as a string literal), so a renamed metric breaks the lint instead of the alert;
  metrics announced but not yet emitted are listed in PENDING_METRICS and only warned about;
- the NATS metrics used are ones prometheus-nats-exporter (-jsz=all, -varz) exports;
- the dashboard is valid JSON with unique panel ids and a query on every panel.
Exit 1 on failure.
"""

import json
import pathlib
import re
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
NATS_EXPORTER_METRICS = {
    "jetstream_consumer_num_pending",
    "jetstream_consumer_num_ack_pending",
    "jetstream_consumer_num_redelivered",
    "jetstream_stream_total_messages",
    "jetstream_stream_total_bytes",
}
# Announced by the service owners, not emitted yet (docs/operations.md lists them).
PENDING_METRICS = {"shangji_pipeline_opportunities"}
PROMQL_BUILTINS = {"up"}


def slug(heading):
    """GitHub-style anchor of a Markdown heading."""
    text = heading.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(markdown):
    return {slug(m.group(1)) for m in re.finditer(r"^#{1,6}\s+(.+?)\s*$", markdown, re.M)}


def emitted_metrics():
    names = set()
    for path in (ROOT / "services").rglob("*.rs"):
        names |= set(re.findall(r'"(shangji_[a-z0-9_]+)"', path.read_text(encoding="utf-8")))
    return names


def metrics_in(expr):
    """Metric names in a PromQL expression (label values in quotes are not names)."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    found = set(re.findall(r"\b((?:shangji|jetstream|gnatsd)_[a-z0-9_]+)\b", expr))
    found |= set(re.findall(r"\b(up)\s*\{", expr))
    # Histograms are queried through their _bucket/_sum/_count series.
    return {re.sub(r"_(bucket|sum|count)$", "", m) for m in found}


def check_metric(name, where, emitted, failures, warnings):
    if name in PROMQL_BUILTINS or name in NATS_EXPORTER_METRICS:
        return
    if name.startswith("shangji_"):
        if name in emitted:
            return
        if name in PENDING_METRICS:
            warnings.append(f"{where}: {name} is not emitted yet (pending in the services)")
            return
    failures.append(f"{where}: unknown metric {name}")


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    alerts_path, dashboard_path, docs_path = sys.argv[1:]
    failures, warnings = [], []
    emitted = emitted_metrics()
    doc_anchors = anchors(pathlib.Path(docs_path).read_text(encoding="utf-8"))

    with open(alerts_path, encoding="utf-8") as f:
        rules = yaml.safe_load(f)
    alert_count = 0
    for group in rules.get("groups", []):
        for rule in group.get("rules", []):
            name = rule.get("alert") or rule.get("record")
            where = f"{alerts_path}: {name}"
            if "alert" in rule:
                alert_count += 1
                annotations = rule.get("annotations") or {}
                if (rule.get("labels") or {}).get("severity") not in ("warning", "critical"):
                    failures.append(f"{where}: severity must be warning or critical")
                if not annotations.get("summary"):
                    failures.append(f"{where}: no summary")
                url = annotations.get("runbook_url", "")
                anchor = url.partition("docs/operations.md#")[2]
                if not anchor:
                    failures.append(f"{where}: runbook_url must point into docs/operations.md#...")
                elif anchor not in doc_anchors:
                    failures.append(f"{where}: docs/operations.md has no section #{anchor}")
            for metric in metrics_in(rule.get("expr", "")):
                check_metric(metric, where, emitted, failures, warnings)

    with open(dashboard_path, encoding="utf-8") as f:
        dashboard = json.load(f)
    ids = [p["id"] for p in dashboard.get("panels", [])]
    if len(ids) != len(set(ids)):
        failures.append(f"{dashboard_path}: duplicate panel ids")
    for panel in dashboard.get("panels", []):
        if panel.get("type") == "row":
            continue
        where = f"{dashboard_path}: panel {panel.get('title')!r}"
        targets = panel.get("targets") or []
        if not targets:
            failures.append(f"{where}: no query")
        for target in targets:
            for metric in metrics_in(target.get("expr", "")):
                check_metric(metric, where, emitted, failures, warnings)

    for warning in warnings:
        print(f"warn {warning}")
    for failure in failures:
        print(f"FAIL {failure}")
    if failures:
        sys.exit(1)
    print(f"ok   {alert_count} alerts with runbooks, {len(ids)} dashboard panels; metrics known")


if __name__ == "__main__":
    main()
