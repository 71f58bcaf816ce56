"""The one status path's rules that need no server: which transitions are Warning Events (named per
condition type), that every problem a person must act on carries such a condition, and the lock keys."""

from __future__ import annotations

from datetime import UTC, datetime

from neuroedge_operator.plan import workload_status
from neuroedge_operator.reconcile import status
from neuroedge_operator.resources import conditions, report, tenant, vectorindex, workload

TYPES = (
    conditions.READY,
    *conditions.TENANT_PARTS,
    conditions.DEGRADED,
    conditions.PROGRESSING,
    conditions.AUTOSCALING,
    conditions.MODEL_READY,
)


def warnings(conds: list[conditions.Condition]) -> list[str]:
    return [c.type for c in conds if conditions.severity(c) == "Warning"]


def test_every_condition_type_names_its_warning_status() -> None:
    assert set(conditions.WARNING_WHEN) == set(TYPES)
    assert conditions.WARNING_WHEN[conditions.READY] is None
    assert conditions.WARNING_WHEN[conditions.DEGRADED] == "True"
    assert all(conditions.WARNING_WHEN[part] == "False" for part in conditions.TENANT_PARTS)


def test_severity_follows_the_table_and_an_unknown_type_is_normal() -> None:
    assert conditions.severity(conditions.database_unreachable("refused")) == "Warning"
    assert conditions.severity(conditions.database_ready()) == "Normal"
    assert conditions.severity(conditions.ok(conditions.DEGRADED, "X", "y")) == "Warning"
    assert conditions.severity(conditions.not_degraded()) == "Normal"
    assert conditions.severity(conditions.suspended()) == "Normal"  # suspension was asked for
    assert conditions.severity(conditions.model_failed("DigestMismatch", "sha256 differs")) == "Warning"
    assert conditions.severity(conditions.model_loaded("ab" * 32, 2)) == "Normal"
    assert conditions.severity(conditions.failed("Custom", "X", "y")) == "Normal"


def test_a_rollout_warns_nobody_and_a_failing_pod_warns() -> None:
    rolling = workload_status.evaluate(workload_status.Observed(None), 1, suspended=False)
    assert warnings(list(rolling.conditions)) == []
    blocked = workload_status.evaluate(
        workload_status.Observed(None), 1, False, [workload_status.Blocker("MissingReference", "no pool")]
    )
    assert warnings(list(blocked.conditions)) == [conditions.DEGRADED]


def test_every_vectorindex_problem_is_not_ready_and_degraded_for_the_same_reason() -> None:
    for conds in (
        conditions.invalid_vector_spec("spec.dimension: too big"),
        conditions.no_tenant("x", "has no label"),
        conditions.tenant_not_provisioned("acme", "registry row"),
        conditions.backend_unavailable("qdrant", "refused"),
        conditions.backend_error("boom"),
        conditions.vector_deletion_blocked("refused"),
    ):
        (ready, degraded) = conds
        assert (ready.type, ready.status, degraded.type, degraded.status) == (
            "Ready",
            "False",
            "Degraded",
            "True",
        )
        assert ready.reason == degraded.reason and warnings(conds) == [conditions.DEGRADED]
    assert warnings(conditions.spec_diverged(["dimension 4 -> 8"])) == [conditions.DEGRADED]


def test_every_tenant_problem_names_the_part_that_warns() -> None:
    blocked = conditions.deletion_blocked(conditions.CACHE_READY, "refused")
    assert [(c.type, c.reason) for c in blocked] == [
        ("Ready", "DeletionBlocked"),
        ("CacheReady", "DeletionBlocked"),
    ]
    assert warnings(blocked) == [conditions.CACHE_READY]
    assert warnings(conditions.invalid_spec("bad")) == list(conditions.TENANT_PARTS)
    waiting = [conditions.kubernetes_error("refused"), *conditions.tenant_parts_waiting("no API")]
    assert warnings(waiting) == list(conditions.TENANT_PARTS)


def test_a_transition_is_announced_with_its_type_and_message() -> None:
    notice = status.transition(conditions.database_unreachable("refused"))
    assert notice == report.Notice(
        "Warning", "DatabaseUnreachable", "DatabaseReady: PostgreSQL is unreachable: refused"
    )


def test_a_report_is_ready_when_its_ready_condition_is_true() -> None:
    assert report.Report([conditions.vector_ready("qdrant", "t"), conditions.not_degraded()]).ready
    assert not report.Report(conditions.backend_error("x")).ready
    plain = report.Report([conditions.database_ready()], {"a": 1})
    assert plain.report({"anything": True}, datetime(2026, 1, 1, tzinfo=UTC)) is plain


def test_lock_and_census_keys_name_kind_namespace_and_name() -> None:
    engine = {"metadata": {"name": "e", "namespace": "acme"}}
    assert status.key("Engine", engine) == "Engine/acme/e"
    assert status.key("WorkerPool", engine) != status.key("Engine", engine)
    assert status.name_of({"metadata": {"name": "acme"}}) == "acme"
    assert status.key("Tenant", {"metadata": {"name": "acme"}}) == "Tenant/acme"


def test_every_kind_is_published_under_one_api_version() -> None:
    assert status.API_VERSION == workload.API_VERSION == vectorindex.API_VERSION
    assert f"{tenant.GROUP}/{tenant.VERSION}" == status.API_VERSION
