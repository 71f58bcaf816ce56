"""Cost of the Engine/WorkerPool pure core per object and pass: building an Engine's objects (with the
spec hash), planning its schedules (steady pass, due pass, a first catch-up) and deciding a pool's replicas.
Each is compared with a baseline measured in the same run on the same machine: deep-copying the built
manifests, one croniter step, one `max(min(...))`. Needs no stack (bench/run.py's environment is unused)."""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from croniter import croniter

from neuroedge_operator.builders import engine as engine_builder
from neuroedge_operator.plan import autoscale, schedules
from neuroedge_operator.resources import engine as engine_model

BODY = {
    "metadata": {
        "name": "bench",
        "namespace": "acme",
        "uid": "u",
        "generation": 1,
        "creationTimestamp": "2026-11-01T00:00:00Z",
    },
    "spec": {
        "type": "conversation",
        "replicas": 2,
        "config": {f"KEY_{i}": "x" * 200 for i in range(32)},
        "workerPoolRef": {"name": "general"},
        "schedules": [
            {"name": "nightly", "cron": "0 2 * * *"},
            {"name": "kb", "cron": "*/30 8-18 * * MON-FRI"},
        ],
    },
    "status": {
        "lastSchedules": [
            {"name": "nightly", "lastEnqueuedTime": "2026-11-21T02:00:00Z"},
            {"name": "kb", "lastEnqueuedTime": "2026-11-20T18:30:00Z"},
        ]
    },
}
INPUTS = engine_builder.EngineInputs(tenant="acme", default_image="img:1")
NOW = datetime(2026, 11, 21, 12, tzinfo=UTC)


def per_call(fn: Callable[[], object], seconds: float = 0.5) -> float:
    """Microseconds per call, best of three batches sized to take about `seconds`."""
    calls, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds / 5:
        fn()
        calls += 1
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        best = min(best, (time.perf_counter() - start) / calls)
    return best * 1e6


def emit(name: str, value: float, baseline_name: str, baseline: float) -> None:
    print(
        json.dumps(
            {
                "name": name,
                "value": round(value, 2),
                "unit": "us",
                "baseline_name": baseline_name,
                "baseline_value": round(baseline, 2),
            }
        )
    )


def main() -> None:
    engine = engine_model.parse(BODY)
    built = engine_builder.desired(engine, INPUTS)
    emit(
        "engine_build_objects",
        per_call(lambda: engine_builder.desired(engine, INPUTS)),
        "deepcopy_engine_objects",
        per_call(lambda: copy.deepcopy(built)),
    )
    cron_step = per_call(lambda: croniter("*/30 8-18 * * MON-FRI", NOW).get_next(datetime))
    steady = per_call(lambda: schedules.plan(engine, NOW, NOW - timedelta(hours=1)))
    emit("engine_plan_schedules_nothing_due", steady, "croniter_one_get_next", cron_step)
    due = per_call(lambda: schedules.plan(engine, NOW + timedelta(days=1), NOW))
    emit("engine_plan_schedules_both_due", due, "croniter_one_get_next", cron_step)
    body = copy.deepcopy(BODY)
    body["status"] = {}  # never run, created 20 days earlier: counts ~300 skipped due times once
    fresh = engine_model.parse(body)
    emit(
        "engine_plan_schedules_catch_up",
        per_call(lambda: schedules.plan(fresh, NOW, NOW)),
        "croniter_one_get_next",
        cron_step,
    )
    decide = lambda: autoscale.decide(  # noqa: E731
        3, min_replicas=1, max_replicas=10, lag=420, pending=13, target_lag_per_replica=100,
        now=NOW, last_scale_time=NOW - timedelta(seconds=30), cooldown=60, step=1,
    )  # fmt: skip
    emit(
        "pool_autoscale_decide",
        per_call(decide),
        "clamp_expression",
        per_call(lambda: max(1, min(10, -(-433 // 100)))),
    )


if __name__ == "__main__":
    main()
