"""bench/run.py's results file: a subset or on-demand run keeps the other scripts' recorded figures, a full
run replaces them, and the on-demand scale run is not part of `make bench`."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

BENCH = Path(__file__).resolve().parents[3] / "bench"


def load_runner() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_runner", BENCH / "run.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def item(name: str, script: str | None, value: float = 1.0) -> dict[str, object]:
    found: dict[str, object] = {"name": name, "value": value}
    return found if script is None else {**found, "script": script}


def test_a_run_keeps_what_scripts_that_did_not_run_recorded(tmp_path: Path) -> None:
    runner = load_runner()
    path = tmp_path / "results.json"
    recorded = [item("a", "bench_a.py"), item("scale", "bench_scale.py"), item("old", None)]
    path.write_text(json.dumps(recorded))
    fresh = [item("a", "bench_a.py", 2.0)]
    merged = runner.keep_unmeasured(path, fresh, {"bench_a.py"})
    assert merged == [item("a", "bench_a.py", 2.0), item("scale", "bench_scale.py")]


def test_a_rerun_replaces_the_scripts_own_results_even_renamed_ones(tmp_path: Path) -> None:
    runner = load_runner()
    path = tmp_path / "results.json"
    path.write_text(json.dumps([item("renamed", "bench_a.py")]))
    fresh = [item("b", "bench_a.py")]
    assert runner.keep_unmeasured(path, fresh, {"bench_a.py"}) == fresh
    assert runner.keep_unmeasured(tmp_path / "missing.json", [], set()) == []


def test_the_scale_run_is_on_demand() -> None:
    runner = load_runner()
    assert "bench_operator_scale.py" in runner.ON_DEMAND and (BENCH / "bench_operator_scale.py").exists()


def test_the_failover_figures_are_part_of_make_bench() -> None:
    runner = load_runner()
    assert (BENCH / "bench_operator_failover.py").exists()
    assert "bench_operator_failover.py" not in runner.ON_DEMAND
