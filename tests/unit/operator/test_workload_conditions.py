"""The workload conditions the handlers publish: named helpers, merged like every other condition, and the
adoption rule of the apply step (ours or unowned, never another controller's object)."""

from __future__ import annotations

from datetime import UTC, datetime

from neuroedge_operator.handlers import deployments as children
from neuroedge_operator.plan import workload_status
from neuroedge_operator.reconcile import workloads
from neuroedge_operator.resources import conditions, workload

OWNER = workload.Identity("Engine", "e", "acme", "uid-1", 1, datetime(2026, 1, 1, tzinfo=UTC))


def test_keda_not_installed_says_the_built_in_autoscaler_is_used() -> None:
    cond = conditions.keda_not_installed(50)
    assert (cond.type, cond.status, cond.reason) == ("Autoscaling", "True", "KedaNotInstalled")
    assert "scaledobjects.keda.sh" in cond.message and "built-in autoscaler" in cond.message


def test_invalid_spec_and_no_tenant_are_not_ready_and_degraded() -> None:
    for conds in (
        conditions.invalid_workload_spec("spec.replicas: too big"),
        conditions.workload_no_tenant("Engine", "x", "has no neuroedge.io/tenant label"),
    ):
        assert [(c.type, c.status) for c in conds] == [("Ready", "False"), ("Degraded", "True")]


def test_evaluated_conditions_merge_with_the_conditions_helpers() -> None:
    """One Condition type: what workload_status decides goes straight into conditions.merge."""
    evaluated = workload_status.evaluate(workload_status.Observed(None), 1, suspended=False)
    merged = conditions.merge([], evaluated.conditions, "2026-01-01T00:00:00Z", 3)
    assert [(c["type"], c["status"], c["observedGeneration"]) for c in merged] == [
        ("Ready", "False", 3),
        ("Degraded", "False", 3),
        ("Progressing", "True", 3),
    ]
    assert conditions.transitions(merged, evaluated.conditions) == []


def test_apply_adopts_only_our_or_unowned_children() -> None:
    def meta(*refs: dict[str, object]) -> dict[str, object]:
        return {"metadata": {"ownerReferences": list(refs)}}

    assert workloads._controlled_by(meta(), OWNER)
    assert workloads._controlled_by(meta({"uid": "uid-1", "controller": True}), OWNER)
    assert workloads._controlled_by(meta({"uid": "other", "controller": False}), OWNER)
    assert not workloads._controlled_by(meta({"uid": "other", "controller": True}), OWNER)


def test_only_our_children_may_be_deleted() -> None:
    ours = {"metadata": {"ownerReferences": [{"uid": "uid-1", "controller": True}]}}
    assert workloads._owned_by(ours, OWNER)
    assert not workloads._owned_by({"metadata": {}}, OWNER)  # adopted by apply, never deleted


def test_a_deployment_event_names_its_engine_or_pool() -> None:
    def child(*refs: dict[str, object]) -> dict[str, object]:
        return {"metadata": {"namespace": "acme", "ownerReferences": list(refs)}}

    pool_ref = {"apiVersion": "neuroedge.io/v1alpha1", "kind": "WorkerPool", "name": "p", "controller": True}
    assert children.owner(child(pool_ref)) == ("WorkerPool", "p")
    assert children.owner(child({**pool_ref, "controller": False})) is None
    assert children.owner(child({**pool_ref, "kind": "Tenant"})) is None
    assert children.owner(child()) is None
