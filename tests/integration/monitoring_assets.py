"""The shipped monitoring assets (monitoring/: Grafana dashboards, alert rules and their promtool cases) read
the way the promtool and scrape tests need them: every PromQL expression, and the metric names they use."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
MONITORING = REPO / "monitoring"
ALERTS = MONITORING / "alerts.yaml"
ALERT_TESTS = MONITORING / "alerts_test.yaml"
_GRAFANA_VARIABLE = re.compile(r"\$\{?(\w+)\}?")
_LABEL_VALUES = re.compile(r"^label_values\((?P<metric>[a-zA-Z_:][\w:]*)\s*,\s*\w+\)$")
_METRIC = re.compile(r"\bneuroedge_[a-z0-9_]+\b")
_LABEL_REF = re.compile(r"\{\{\s*\$labels\.(\w+)\s*\}\}")


def dashboards() -> dict[str, dict[str, Any]]:
    """Every dashboard, by file name."""
    return {
        path.name: json.loads(path.read_text()) for path in sorted((MONITORING / "dashboards").glob("*.json"))
    }


def grafana_to_promql(expr: str) -> str:
    """A panel's expression as Prometheus gets it: Grafana's interval variables become durations, template
    variables (used as `label=~"$var"`) the match-everything regex."""

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in {"__rate_interval", "__interval", "__range"}:
            return "5m"
        return ".*"

    return _GRAFANA_VARIABLE.sub(substitute, expr)


def panel_expressions() -> list[tuple[str, str, str]]:
    """(dashboard file, panel title, PromQL) of every query of every panel."""
    found = []
    for name, board in dashboards().items():
        for panel in board["panels"]:
            for target in panel.get("targets", []):
                found.append((name, panel["title"], grafana_to_promql(target["expr"])))
    return found


def variable_metrics() -> set[str]:
    """Metrics the dashboards' template variables read labels from (`label_values(metric, label)`)."""
    found = set()
    for board in dashboards().values():
        for variable in board["templating"]["list"]:
            if variable["type"] != "query":
                continue
            match = _LABEL_VALUES.match(variable["query"]["query"])
            assert match, f"unsupported variable query {variable['query']!r}"
            found.add(match["metric"])
    return found


def alert_rules() -> list[dict[str, Any]]:
    return [rule for group in yaml.safe_load(ALERTS.read_text())["groups"] for rule in group["rules"]]


def metric_names(expr: str) -> set[str]:
    """The NeuroEdge metric names an expression selects (all of ours share the `neuroedge_` prefix)."""
    return set(_METRIC.findall(expr))


def used_metric_names() -> set[str]:
    """Every metric name the dashboards and the alerts use."""
    names = set(variable_metrics())
    for _, _, expr in panel_expressions():
        names |= metric_names(expr)
    for rule in alert_rules():
        names |= metric_names(rule["expr"])
    return names


def render_annotations(rule: dict[str, Any], labels: dict[str, str]) -> dict[str, str]:
    """A rule's annotations as Prometheus renders them for an alert with `labels` (they use only $labels)."""
    return {
        key: _LABEL_REF.sub(lambda m: labels.get(m.group(1), ""), text)
        for key, text in rule.get("annotations", {}).items()
    }
