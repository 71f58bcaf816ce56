"""The copies of crds/, the samples and the Argo CD health script stay equal to their single source.

`helm/sync-crds.py` writes them; this test fails on drift, so the chart's CRDs always equal `crds/`.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path
from types import ModuleType

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]


def _load_sync() -> ModuleType:
    spec = importlib.util.spec_from_file_location("neuroedge_sync_crds", REPO / "helm" / "sync-crds.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


sync = _load_sync()


@pytest.fixture
def repo_copy(tmp_path: Path) -> Path:
    """The sources and derived trees of the repository, copied so a test may break them."""
    for tree in ("crds", "helm/neuroedge/crds", "helm/neuroedge/files", "manifests", "monitoring"):
        shutil.copytree(REPO / tree, tmp_path / tree)
    return tmp_path


def test_repository_has_no_drift() -> None:
    assert sync.drift() == []


def test_chart_crds_are_byte_identical_to_crds() -> None:
    sources = sorted(p.name for p in (REPO / "crds").glob("*.yaml"))
    assert sources == ["engine.yaml", "tenant.yaml", "vectorindex.yaml", "workerpool.yaml"]
    for tree in ("helm/neuroedge/crds", "manifests/base/crds"):
        assert sorted(p.name for p in (REPO / tree).glob("*.yaml")) == sources
        for name in sources:
            assert (REPO / tree / name).read_bytes() == (REPO / "crds" / name).read_bytes(), f"{tree}/{name}"


def test_edited_chart_crd_is_reported_then_fixed(repo_copy: Path) -> None:
    target = repo_copy / "helm/neuroedge/crds/engine.yaml"
    target.write_text(target.read_text().replace("maxItems: 16", "maxItems: 17"))
    assert sync.drift(repo_copy) == ["helm/neuroedge/crds/engine.yaml: differs from its source"]
    assert sync.sync(repo_copy) == [Path("helm/neuroedge/crds/engine.yaml")]
    assert sync.drift(repo_copy) == []


def test_changed_source_is_reported_for_every_copy(repo_copy: Path) -> None:
    source = repo_copy / "crds/tenant.yaml"
    source.write_text(source.read_text() + "# a new comment\n")
    assert sync.drift(repo_copy) == [
        "helm/neuroedge/crds/tenant.yaml: differs from its source",
        "manifests/base/crds/tenant.yaml: differs from its source",
    ]


def test_missing_and_stale_copies_are_reported(repo_copy: Path) -> None:
    (repo_copy / "manifests/base/crds/workerpool.yaml").unlink()
    (repo_copy / "helm/neuroedge/crds/old.yaml").write_text("kind: CustomResourceDefinition\n")
    assert sync.drift(repo_copy) == [
        "manifests/base/crds/workerpool.yaml: missing",
        "helm/neuroedge/crds/old.yaml: not in crds/ (stale copy)",
    ]
    sync.sync(repo_copy)
    assert not (repo_copy / "helm/neuroedge/crds/old.yaml").exists()
    assert sync.drift(repo_copy) == []


def test_health_script_change_reaches_every_kind_and_the_configmap(repo_copy: Path) -> None:
    source = repo_copy / "manifests/argocd/health.lua"
    source.write_text(source.read_text() + "-- changed\n")
    assert sorted(sync.drift(repo_copy)) == sorted(
        [f"manifests/argocd/neuroedge.io/{kind}/health.lua: differs from its source" for kind in sync.KINDS]
        + ["manifests/argocd/argocd-cm-patch.yaml: differs from its source"]
    )


def test_check_mode_exit_status(capsys: pytest.CaptureFixture[str]) -> None:
    assert sync.main(["--check"]) == 0
    assert capsys.readouterr().err == ""


def test_changed_alerts_and_dashboards_reach_the_chart_and_the_manifests(repo_copy: Path) -> None:
    alerts = repo_copy / "monitoring/alerts.yaml"
    alerts.write_text(alerts.read_text().replace("for: 30m", "for: 45m"))
    board = repo_copy / "monitoring/dashboards/neuroedge-operator.json"
    board.write_text(board.read_text().replace("NeuroEdge / Operator", "NeuroEdge / The operator"))
    assert sorted(sync.drift(repo_copy)) == [
        "helm/neuroedge/files/alerts.yaml: differs from its source",
        "helm/neuroedge/files/dashboards/neuroedge-operator.json: differs from its source",
        "manifests/monitoring/dashboards/neuroedge-operator.json: differs from its source",
        "manifests/monitoring/prometheusrule.yaml: differs from its source",
    ]
    sync.sync(repo_copy)
    assert sync.drift(repo_copy) == []
    rule = yaml.safe_load((repo_copy / "manifests/monitoring/prometheusrule.yaml").read_text())
    assert rule["kind"] == "PrometheusRule"
    assert rule["spec"] == yaml.safe_load(alerts.read_text())
