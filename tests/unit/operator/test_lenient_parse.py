"""Finalizers read the object through the resource models, leniently: a spec that no longer validates (an
older CRD, a field edited into nonsense) must not keep an object from being deleted, and anything unreadable
about the reclaim policy keeps the data."""

from __future__ import annotations

from typing import Any

import pytest
from workload_samples import engine_body

from neuroedge_operator.resources import engine as engine_model
from neuroedge_operator.resources import tenant, vectorindex, workload


def tenant_body(spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": "acme", "uid": "uid-1"}, "spec": spec}


def test_a_valid_tenant_reads_the_same_leniently() -> None:
    departing = tenant.parse_lenient(tenant_body({"database": {"reclaimPolicy": "Delete"}}))
    assert departing == tenant.Departing("acme", "uid-1", "Delete")


@pytest.mark.parametrize(
    "spec",
    [
        {"quota": {"cpu": "-1"}, "database": {"reclaimPolicy": "Delete"}},  # invalid elsewhere: still Delete
        {"namespaces": ["NOT A LABEL"], "database": {"reclaimPolicy": "Delete"}},
    ],
)
def test_an_invalid_tenant_spec_keeps_a_valid_reclaim_policy(spec: dict[str, Any]) -> None:
    with pytest.raises(tenant.InvalidTenantError):
        tenant.parse(tenant_body(spec))
    assert tenant.parse_lenient(tenant_body(spec)).reclaim_policy == "Delete"


@pytest.mark.parametrize(
    "spec", [None, "garbage", {"database": "garbage"}, {"database": {"reclaimPolicy": "delete"}}, {}]
)
def test_an_unreadable_tenant_reclaim_policy_keeps_the_data(spec: Any) -> None:
    assert tenant.parse_lenient(tenant_body(spec)) == tenant.Departing("acme", "uid-1", "Retain")


def index_body(spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": "kb", "namespace": "acme"}, "spec": spec}


def test_an_invalid_vectorindex_spec_still_names_backend_and_policy() -> None:
    body = index_body({"backend": "qdrant", "dimension": -4, "reclaimPolicy": "Delete"})
    with pytest.raises(vectorindex.InvalidVectorIndexError):
        vectorindex.parse(body)
    assert vectorindex.parse_lenient(body) == vectorindex.Departing("kb", "acme", "qdrant", "Delete")


def test_an_unknown_backend_is_kept_by_name_for_the_error_message() -> None:
    departing = vectorindex.parse_lenient(index_body({"backend": "milvus", "reclaimPolicy": "Delete"}))
    assert departing.backend == "milvus"


@pytest.mark.parametrize("spec", [None, [], {"backend": 7, "reclaimPolicy": "DELETE"}])
def test_an_unreadable_vectorindex_keeps_its_data(spec: Any) -> None:
    assert vectorindex.parse_lenient(index_body(spec)) == vectorindex.Departing("kb", "acme", "", "Retain")


def test_a_workload_identity_is_read_even_when_the_strict_parse_refuses_it() -> None:
    body = engine_body(replicas=-1)
    body["metadata"]["name"] = "Not_A_Label"
    body["metadata"]["creationTimestamp"] = "yesterday"
    with pytest.raises(workload.InvalidResourceError):
        engine_model.parse(body)
    found = workload.lenient_identity(engine_model.KIND, body)
    assert (found.kind, found.name, found.namespace, found.uid) == (
        "Engine",
        "Not_A_Label",
        "acme",
        "uid-engine-1",
    )
    assert found.created.year == 1970


def test_a_valid_workload_reads_the_same_leniently() -> None:
    body = engine_body()
    assert workload.lenient_identity(engine_model.KIND, body) == engine_model.parse(body).meta
