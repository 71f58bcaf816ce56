"""`make bench`: run every `bench/bench_*.py` against a fresh dev stack and collect their results.

Each script is run as its own process with the stack's environment (`DATABASE_URL`, `REDIS_URL`,
`KUBECONFIG`, `NEUROEDGE_STATE_DIR`) and prints one JSON object per line for each result:
`{"name", "value", "unit", "baseline_name", "baseline_value"}` where the baseline was measured in the same
run. The load generators the scripts use (wrk from Debian, vegeta built through the Go module proxy) are
installed first, through the dev toolchain (cached by version under ~/.cache/neuroedge). This driver adds
`ratio` (value / baseline_value), prints a table and writes `bench/results.json`.
Lines that are not JSON objects are passed through as the script's own commentary.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from neuroedge_dev import stack as dev_stack
from neuroedge_dev import toolchain

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
REQUIRED = ("name", "value", "unit", "baseline_name", "baseline_value")
ON_DEMAND = ("bench_operator_scale.py",)
"""Scripts that run only when named (`make scale`): they take many minutes."""


def parse_results(output: str) -> tuple[list[dict[str, object]], list[str]]:
    """Result objects and commentary lines from a script's stdout."""
    results: list[dict[str, object]] = []
    commentary: list[str] = []
    for line in output.splitlines():
        try:
            item = json.loads(line)
        except json.JSONDecodeError:
            commentary.append(line)
            continue
        if isinstance(item, dict) and all(key in item for key in REQUIRED):
            baseline = float(item["baseline_value"])
            item["ratio"] = round(float(item["value"]) / baseline, 4) if baseline else None
            results.append(item)
        else:
            commentary.append(line)
    return results, commentary


def keep_unmeasured(path: Path, fresh: list[dict[str, object]], ran: set[str]) -> list[dict[str, object]]:
    """The fresh results, then the recorded ones of scripts that did not run this time (an on-demand script,
    or a subset run), so that running one script never drops the others' figures."""
    names = {item["name"] for item in fresh}
    recorded = json.loads(path.read_text()) if path.exists() else []
    kept = [
        item
        for item in recorded
        if item.get("script") is not None and item["script"] not in ran and item.get("name") not in names
    ]
    return fresh + kept


def main(argv: list[str]) -> int:
    """Run the selected (default: all) benchmark scripts and write bench/results.json."""
    scripts = sorted(BENCH_DIR.glob("bench_*.py"))
    if argv:
        scripts = [s for s in scripts if any(word in s.name for word in argv)]
    else:
        scripts = [s for s in scripts if s.name not in ON_DEMAND]
    toolchain.install_bench_tools()  # wrk and vegeta: no script falls back to a client in Python
    state_dir = Path(tempfile.mkdtemp(prefix="neuroedge-bench-"))
    results: list[dict[str, object]] = []
    failed: list[str] = []
    try:
        running = dev_stack.up(state_dir, crds_dir=REPO / "crds", cluster=True)
        env = {**os.environ, **running.env(), "NEUROEDGE_STATE_DIR": str(state_dir)}
        for script in scripts:
            print(f"== {script.name}", flush=True)
            proc = subprocess.run(
                [sys.executable, str(script)], env=env, cwd=REPO, capture_output=True, text=True, check=False
            )
            found, commentary = parse_results(proc.stdout)
            for line in commentary:
                print(f"   {line}")
            for item in found:
                value, baseline = float(str(item["value"])), float(str(item["baseline_value"]))
                print(
                    f"   {item['name']:<48} {value:>12.2f} {item['unit']:<8} "
                    f"vs {item['baseline_name']} {baseline:>12.2f}  ratio {item['ratio']}"
                )
            results.extend({**item, "script": script.name} for item in found)
            if proc.returncode != 0:
                failed.append(script.name)
                print(proc.stderr[-4000:], file=sys.stderr)
    finally:
        dev_stack.down(state_dir, purge=True)
    merged = keep_unmeasured(BENCH_DIR / "results.json", results, {s.name for s in scripts})
    (BENCH_DIR / "results.json").write_text(json.dumps(merged, indent=2) + "\n")
    kept = len(merged) - len(results)
    print(f"wrote {len(results)} results to bench/results.json ({kept} recorded ones kept)")
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
