"""A VectorIndex's layout from its spec, and the status a pass publishes: storage name, the point count only
when it is news, and the Warning when registered storage was recreated empty."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from neuroedge_operator.builders import vectorindex as vector_builder
from neuroedge_operator.plan import vectorindex as plan
from neuroedge_operator.plan import vectorindex_reports as reports
from neuroedge_operator.resources import conditions, storage
from neuroedge_operator.resources import vectorindex as model

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
READY = [conditions.vector_ready("qdrant", "vec_acme__kb"), conditions.not_degraded()]


def index(**spec: Any) -> model.VectorIndex:
    body = {
        "metadata": {"name": "kb", "namespace": "acme", "uid": "u"},
        "spec": {"backend": "qdrant", "dimension": 4, **spec},
    }
    return model.parse(body)


def test_layout_takes_every_parameter_from_the_spec() -> None:
    found = vector_builder.layout(
        "acme",
        index(
            distance="Dot",
            hnsw={"m": 32, "efConstruct": 64},
            onDisk=True,
            payloadIndexes=[{"field": "lang", "type": "keyword"}, {"field": "meta.year", "type": "integer"}],
        ),
    )
    assert found == storage.Layout(
        tenant="acme",
        name="kb",
        storage_name="vec_acme__kb",
        backend="qdrant",
        dimension=4,
        distance="Dot",
        m=32,
        ef_construct=64,
        on_disk=True,
        payload_indexes=frozenset(
            {storage.PayloadIndex("lang", "keyword"), storage.PayloadIndex("meta.year", "integer")}
        ),
    )


def test_layout_defaults_follow_the_crd() -> None:
    found = vector_builder.layout("acme", index())
    assert (found.distance, found.m, found.ef_construct, found.on_disk) == ("Cosine", 16, 100, False)
    assert found.payload_indexes == frozenset()


def test_layout_storage_is_named_by_tenant_so_two_tenants_never_share_it() -> None:
    assert (
        vector_builder.layout("acme", index()).storage_name
        != vector_builder.layout("beta", index()).storage_name
    )


def test_a_new_count_is_published_with_the_time_it_was_measured() -> None:
    report = reports.Outcome(READY, "vec_acme__kb", 5).report({}, NOW)
    assert report.fields == {
        "storageName": "vec_acme__kb",
        "pointCount": 5,
        "lastCountTime": "2026-03-01T12:00:00Z",
    }
    assert report.ready and report.notices == ()


def test_an_unchanged_count_is_not_rewritten() -> None:
    published = {"pointCount": 5, "lastCountTime": "2026-02-01T00:00:00Z"}
    report = reports.Outcome(READY, "vec_acme__kb", 5).report(published, NOW)
    assert report.fields == {"storageName": "vec_acme__kb"}


def test_a_failed_pass_publishes_only_its_conditions() -> None:
    failed = conditions.backend_unavailable("qdrant", "connection refused")
    report = reports.Outcome(failed).report({"pointCount": 5}, NOW)
    assert report.fields == {} and not report.ready
    assert list(report.conditions) == failed


def test_recreated_storage_is_announced_as_a_warning() -> None:
    outcome = reports.Outcome(
        READY, "vec_acme__kb", 0, recreated=True, actions=(plan.Action("create_storage"),)
    )
    (notice,) = outcome.report({}, NOW).notices
    assert (notice.type, notice.reason) == ("Warning", "StorageRecreated")
    assert "vec_acme__kb" in notice.message and "recreated empty" in notice.message
