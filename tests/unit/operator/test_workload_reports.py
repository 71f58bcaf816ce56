"""The status bodies handlers write: replica figures, endpoint, schedules, selector, queue figures."""

from __future__ import annotations

from datetime import UTC, datetime

import workload_samples as samples

from neuroedge_operator.plan import workload_reports as reports
from neuroedge_operator.plan import workload_status as ws
from neuroedge_operator.resources import engine as engine_model
from neuroedge_operator.resources import workerpool as pool_model

EVALUATED = ws.evaluate(
    ws.Observed(
        {
            "metadata": {"generation": 1},
            "status": {
                "observedGeneration": 1,
                "replicas": 2,
                "updatedReplicas": 2,
                "readyReplicas": 1,
                "availableReplicas": 1,
            },
        }
    ),
    2,
    False,
)
WHEN = datetime(2026, 11, 21, 2, tzinfo=UTC)


def test_engine_status_body() -> None:
    engine = samples.engine()
    last = [engine_model.LastSchedule(name="nightly-summary", last_enqueued_time=WHEN, last_job_id="J")]
    body = reports.engine_status(engine, EVALUATED, last).body()
    assert body == {
        "observedGeneration": 3,
        "replicas": 2,
        "readyReplicas": 1,
        "endpoint": "http://support-assistant.acme.svc:8080",
        "lastSchedules": [
            {"name": "nightly-summary", "lastEnqueuedTime": "2026-11-21T02:00:00Z", "lastJobId": "J"}
        ],
        "conditions": [],
    }


def test_pool_status_body_with_queue_figures() -> None:
    figures = pool_model.QueueFigures(length=120, lag=100, pending=20, dead_lettered=3)
    body = reports.pool_status(
        samples.pool(), EVALUATED, reports.QueueObservation(figures, True), WHEN
    ).body()
    assert body == {
        "observedGeneration": 1,
        "replicas": 2,
        "readyReplicas": 1,
        "selector": "app.kubernetes.io/component=worker,neuroedge.io/workerpool=general",
        "queue": {"length": 120, "lag": 100, "pending": 20, "deadLettered": 3},
        "lastScaleTime": "2026-11-21T02:00:00Z",
        "conditions": [],
    }


def test_unreadable_queue_keeps_the_last_figures_and_blocks_ready() -> None:
    body = samples.pool_body()
    body["status"] = {
        "queue": {"length": 1, "lag": 1, "pending": 0, "deadLettered": 0},
        "lastScaleTime": "2026-11-20T00:00:00Z",
    }
    pool = pool_model.parse(body)
    observation = reports.QueueObservation(None, False, error="connection refused")
    status = reports.pool_status(pool, EVALUATED, observation, None)
    assert status.queue == pool.status.queue
    assert status.last_scale_time == datetime(2026, 11, 20, tzinfo=UTC)
    (blocker,) = reports.queue_blockers(observation)
    assert (blocker.reason, blocker.message) == (
        "QueueUnavailable",
        "the pool's queue cannot be read: connection refused",
    )


def test_missing_consumer_group_blocks_ready() -> None:
    (blocker,) = reports.queue_blockers(reports.QueueObservation(pool_model.QueueFigures(), False))
    assert "consumer group 'pool'" in blocker.message
    assert reports.queue_blockers(reports.QueueObservation(pool_model.QueueFigures(), True)) == []


def test_the_engine_reconcile_writes_only_its_own_fields() -> None:
    """lastSchedules belongs to the schedules pass: the reconcile never rewrites it."""
    fields = reports.engine_fields(samples.engine(), EVALUATED)
    assert fields == {
        "observedGeneration": 3,
        "replicas": 2,
        "readyReplicas": 1,
        "endpoint": "http://support-assistant.acme.svc:8080",
    }


def test_the_pool_reconcile_writes_only_its_own_fields() -> None:
    """lastScaleTime belongs to the autoscaler: the reconcile never rewrites it."""
    figures = pool_model.QueueFigures(length=5, lag=4, pending=1, dead_lettered=0)
    fields = reports.pool_fields(samples.pool(), EVALUATED, reports.QueueObservation(figures, True))
    assert set(fields) == {"observedGeneration", "replicas", "readyReplicas", "selector", "queue"}
    assert fields["queue"] == {"length": 5, "lag": 4, "pending": 1, "deadLettered": 0}


def test_autoscaling_condition_names_who_scales() -> None:
    def reason(keda_installed: bool, **autoscaling: object) -> tuple[str, str]:
        cond = reports.autoscaling(samples.pool(autoscaling=autoscaling), keda_installed)
        return cond.status, cond.reason

    assert reason(True, enabled=False) == ("False", "Disabled")
    assert reason(True, enabled=True) == ("True", "Operator")
    assert reason(True, enabled=True, keda=True) == ("True", "KEDA")
    assert reason(False, enabled=True, keda=True) == ("True", "KedaNotInstalled")
