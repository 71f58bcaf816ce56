"""The shipped alerts and dashboards, checked by promtool (built once from the Go module proxy and cached):
the rules file passes `promtool check rules`, every alert has a case where it fires and one where it stays
quiet and `promtool test rules` passes them, and every dashboard expression parses as PromQL."""

from __future__ import annotations

import copy
import shutil
import subprocess
from pathlib import Path
from typing import Any

import monitoring_assets as assets
import pytest
import yaml

from neuroedge_dev import toolchain


@pytest.fixture(scope="session")
def promtool() -> Path:
    """promtool of Prometheus 3.16; the first build on a machine takes minutes."""
    return toolchain.on_demand(toolchain.PROMTOOL)


def run(promtool: Path, *args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(promtool), *map(str, args)], capture_output=True, text=True, timeout=120, check=False, cwd=cwd
    )


def test_alert_rules_pass_promtool_check(promtool: Path) -> None:
    checked = run(promtool, "check", "rules", assets.ALERTS)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(assets.alert_rules())} rules found" in checked.stdout


def test_every_alert_has_runbook_text() -> None:
    for rule in assets.alert_rules():
        notes = rule["annotations"]
        assert {"summary", "description", "runbook"} <= set(notes), rule["alert"]
        assert len(notes["runbook"].splitlines()) >= 2, rule["alert"]
        assert rule["labels"]["severity"] in {"critical", "warning"}, rule["alert"]


def _completed_cases(cases: dict[str, Any]) -> dict[str, Any]:
    """The promtool cases with each expected alert's annotations rendered from its rule."""
    rules = {rule["alert"]: rule for rule in assets.alert_rules()}
    done = copy.deepcopy(cases)
    for test in done["tests"]:
        for check in test.get("alert_rule_test", []):
            for alert in check["exp_alerts"]:
                labels = {"alertname": check["alertname"], **alert["exp_labels"]}
                alert["exp_annotations"] = assets.render_annotations(rules[check["alertname"]], labels)
    return done


def _promtool_test(promtool: Path, cases: dict[str, Any], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    shutil.copy(assets.ALERTS, tmp_path / "alerts.yaml")
    (tmp_path / "alerts_test.yaml").write_text(yaml.safe_dump(_completed_cases(cases), sort_keys=False))
    return run(promtool, "test", "rules", "alerts_test.yaml", cwd=tmp_path)


def test_every_alert_fires_and_stays_quiet_as_its_cases_say(promtool: Path, tmp_path: Path) -> None:
    cases = yaml.safe_load(assets.ALERT_TESTS.read_text())
    firing: set[str] = set()
    quiet: set[str] = set()
    for test in cases["tests"]:
        for check in test["alert_rule_test"]:
            (firing if check["exp_alerts"] else quiet).add(check["alertname"])
    alerts = {rule["alert"] for rule in assets.alert_rules()}
    assert alerts - firing == set(), "alerts without a firing case"
    assert alerts - quiet == set(), "alerts without a non-firing case"
    tested = _promtool_test(promtool, cases, tmp_path)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout


def test_promtool_test_fails_when_an_expectation_is_wrong(promtool: Path, tmp_path: Path) -> None:
    """The harness can fail: a firing case expecting another label, and a quiet case expecting an alert."""
    cases = yaml.safe_load(assets.ALERT_TESTS.read_text())
    wrong = copy.deepcopy(cases)
    check = next(c for t in wrong["tests"] for c in t["alert_rule_test"] if c["exp_alerts"])
    check["exp_alerts"][0]["exp_labels"]["severity"] = "info"
    assert _promtool_test(promtool, wrong, tmp_path).returncode != 0
    wrong = copy.deepcopy(cases)
    check = next(c for t in wrong["tests"] for c in t["alert_rule_test"] if not c["exp_alerts"])
    check["exp_alerts"] = [{"exp_labels": {"severity": "warning"}}]
    assert _promtool_test(promtool, wrong, tmp_path).returncode != 0


def _recording_rules(expressions: list[tuple[str, str, str]]) -> str:
    rules = [
        {"record": f"neuroedge_dashboard:query_{i}", "expr": expr}
        for i, (_, _, expr) in enumerate(expressions)
    ]
    return yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}, sort_keys=False)


def test_every_dashboard_expression_parses(promtool: Path, tmp_path: Path) -> None:
    expressions = assets.panel_expressions()
    per_board = {name for name, _, _ in expressions}
    assert per_board == set(assets.dashboards()), "a dashboard without queries"
    rules = tmp_path / "dashboards.rules.yaml"
    rules.write_text(_recording_rules(expressions))
    checked = run(promtool, "check", "rules", rules)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(expressions)} rules found" in checked.stdout

    broken = [
        *expressions,
        ("x.json", "broken", "sum by (kind (rate(neuroedge_operator_reconcile_total[5m]))"),
    ]
    rules.write_text(_recording_rules(broken))
    assert run(promtool, "check", "rules", rules).returncode != 0
