"""The chart ships the monitoring assets off by default: enabled, it renders one ConfigMap per dashboard with
the sidecar's label, the PrometheusRule whose spec is exactly monitoring/alerts.yaml, and the runtime
PodMonitor; the kustomize add-on renders the same rule and dashboards; bad monitoring values are refused."""

from __future__ import annotations

import json
from pathlib import Path

import monitoring_assets
import yaml
from delivery_helpers import REPO, documents, helm_template, run

from neuroedge_dev import toolchain

ALL_ON = (
    "--set=monitoring.dashboards.enabled=true",
    "--set=monitoring.prometheusRule.enabled=true",
    "--set=monitoring.podMonitor.enabled=true",
)
MONITORING_KINDS = {"PrometheusRule", "PodMonitor"}


def _dashboards(docs: list[dict[str, object]]) -> dict[str, dict[str, object]]:
    found = {}
    for doc in docs:
        meta = doc["metadata"]
        assert isinstance(meta, dict)
        if doc["kind"] == "ConfigMap" and (meta.get("labels") or {}).get("grafana_dashboard") == "1":
            data = doc["data"]
            assert isinstance(data, dict)
            for key, text in data.items():
                found[key] = json.loads(text)
    return found


def test_monitoring_is_off_by_default(helm_rendering: str) -> None:
    docs = documents(helm_rendering)
    assert not [d for d in docs if d["kind"] in MONITORING_KINDS]
    assert _dashboards(docs) == {}


def test_enabled_monitoring_renders_dashboards_rule_and_pod_monitor(helm: Path) -> None:
    rendered = helm_template(helm, *ALL_ON, "--set=monitoring.prometheusRule.labels.release=prom")
    assert rendered.returncode == 0, rendered.stderr
    docs = documents(rendered.stdout)
    assert _dashboards(docs) == monitoring_assets.dashboards()
    (rule,) = [d for d in docs if d["kind"] == "PrometheusRule"]
    assert rule["metadata"]["labels"]["release"] == "prom"
    assert rule["spec"] == yaml.safe_load(monitoring_assets.ALERTS.read_text())
    (monitor,) = [d for d in docs if d["kind"] == "PodMonitor"]
    assert {e["port"] for e in monitor["spec"]["podMetricsEndpoints"]} == {"http", "metrics"}
    assert monitor["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"] == "neuroedge-runtime"


def test_the_dashboards_can_go_to_grafanas_namespace_under_another_label(helm: Path) -> None:
    rendered = helm_template(
        helm,
        "--set=monitoring.dashboards.enabled=true",
        "--set=monitoring.dashboards.namespace=grafana",
        "--set=monitoring.dashboards.label=dashboards",
        "--set=monitoring.dashboards.labelValue=neuroedge",
    )
    assert rendered.returncode == 0, rendered.stderr
    maps = [d for d in documents(rendered.stdout) if d["kind"] == "ConfigMap"]
    assert len(maps) == len(monitoring_assets.dashboards())
    assert all(m["metadata"]["namespace"] == "grafana" for m in maps)
    assert all(m["metadata"]["labels"]["dashboards"] == "neuroedge" for m in maps)


def test_bad_monitoring_values_are_refused_naming_the_value(helm: Path) -> None:
    for bad, named in (
        ("--set=monitoring.podMonitor.interval=soon", "interval"),
        ("--set=monitoring.dashboards.namespace=Not_A_Namespace", "namespace"),
        ("--set=monitoring.alerts=true", "alerts"),
    ):
        rendered = helm_template(helm, bad)
        assert rendered.returncode != 0 and named in rendered.stderr, (bad, rendered.stderr)


def test_the_kustomize_add_on_renders_the_same_rule_and_dashboards() -> None:
    rendered = run([toolchain.kubectl(), "kustomize", REPO / "manifests" / "monitoring"])
    assert rendered.returncode == 0, rendered.stderr
    docs = documents(rendered.stdout)
    assert _dashboards(docs) == monitoring_assets.dashboards()
    (rule,) = [d for d in docs if d["kind"] == "PrometheusRule"]
    assert rule["metadata"]["namespace"] == "neuroedge-system"
    assert rule["spec"] == yaml.safe_load(monitoring_assets.ALERTS.read_text())
    assert [d["kind"] for d in docs].count("PodMonitor") == 1
