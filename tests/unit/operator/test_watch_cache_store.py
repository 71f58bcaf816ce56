"""The watch cache keeps trimmed objects (no managedFields, no last-applied annotation, interned strings) and
finds a namespace's objects without the others; what it answers is otherwise the object as listed."""

from __future__ import annotations

import copy
import sys
from typing import Any, cast

from neuroedge_operator.clients import informer, kube
from neuroedge_operator.plan import selectors


def pod(namespace: str, name: str, app: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {"app": app},
            "annotations": {
                "kubectl.kubernetes.io/last-applied-configuration": '{"big": "' + "x" * 500 + '"}',
                "neuroedge.io/config-hash": "abc",
            },
            "managedFields": [{"manager": "kube-controller-manager", "fieldsV1": {"f:spec": {}}}],
        },
        "spec": {"containers": [{"name": "worker", "image": "neuroedge/runtime:dev"}]},
        "status": {"conditions": [{"type": "Ready", "status": "True"}]},
    }


def test_compact_drops_only_what_nothing_reads() -> None:
    kept = informer.compact(pod("team-a", "p1", "worker"))
    assert "managedFields" not in kept["metadata"]
    assert kept["metadata"]["annotations"] == {"neuroedge.io/config-hash": "abc"}
    expected = pod("team-a", "p1", "worker")
    del expected["metadata"]["managedFields"]
    del expected["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
    assert kept == expected


def test_compact_removes_an_annotations_map_left_empty() -> None:
    obj = pod("team-a", "p1", "worker")
    del obj["metadata"]["annotations"]["neuroedge.io/config-hash"]
    assert "annotations" not in informer.compact(obj)["metadata"]


def test_compact_interns_short_strings_so_objects_share_them() -> None:
    first = informer.compact(pod("team-a", "p1", "worker"))
    second = informer.compact(copy.deepcopy(pod("team-b", "p2", "worker")))
    image = first["spec"]["containers"][0]["image"]
    assert image is second["spec"]["containers"][0]["image"]
    assert image is sys.intern("neuroedge/runtime:dev")


def cache_of(*objects: dict[str, Any]) -> informer.Informer:
    spec = informer.Spec("v1", "Pod")
    store = informer.Informer(cast(kube.Kube, None), spec, watch_timeout=60)
    for obj in objects:
        store._store(obj)
    return store


def test_select_reads_one_namespace_or_all_in_order() -> None:
    store = cache_of(pod("b", "p2", "worker"), pod("a", "p3", "api"), pod("a", "p1", "worker"))
    wanted = selectors.parse("app=worker")
    assert [o["metadata"]["name"] for o in store.select(wanted, "a")] == ["p1"]
    assert [(o["metadata"]["namespace"], o["metadata"]["name"]) for o in store.select(wanted)] == [
        ("a", "p1"),
        ("b", "p2"),
    ]
    assert store.select(wanted, "absent") == []
    assert len(store) == 3


def test_forgetting_the_last_object_of_a_namespace_drops_the_namespace() -> None:
    store = cache_of(pod("a", "p1", "worker"))
    store._forget(pod("a", "p1", "worker"))
    assert len(store) == 0 and store.get("a", "p1") is None
    assert store._objects == {}


def test_answers_are_copies_callers_may_change() -> None:
    store = cache_of(pod("a", "p1", "worker"))
    answer = store.get("a", "p1")
    assert answer is not None
    answer["metadata"]["labels"]["app"] = "changed"
    again = store.get("a", "p1")
    assert again is not None and again["metadata"]["labels"]["app"] == "worker"


def tenant_child(namespace: str, name: str, tenant: str) -> dict[str, Any]:
    obj = pod(namespace, name, "worker")
    obj["metadata"]["labels"]["neuroedge.io/tenant"] = tenant
    return obj


def test_a_tenants_children_are_found_through_its_label_across_namespaces() -> None:
    store = cache_of(
        tenant_child("t1-b", "x", "t1"),
        tenant_child("t1-a", "x", "t1"),
        tenant_child("t2", "x", "t2"),
        pod("other", "x", "worker"),
    )
    found = store.select(selectors.parse("neuroedge.io/tenant=t1,app=worker"))
    assert [o["metadata"]["namespace"] for o in found] == ["t1-a", "t1-b"]
    assert store.select(selectors.parse("neuroedge.io/tenant=t1,app=api")) == []


def test_the_tenant_index_follows_relabels_and_deletes() -> None:
    store = cache_of(tenant_child("ns", "x", "t1"))
    store._store(tenant_child("ns", "x", "t2"))  # relabelled: a MODIFIED event
    assert store.select(selectors.parse("neuroedge.io/tenant=t1")) == []
    assert len(store.select(selectors.parse("neuroedge.io/tenant=t2"))) == 1
    store._forget(tenant_child("ns", "x", "t2"))
    assert store.select(selectors.parse("neuroedge.io/tenant=t2")) == []
    assert store._by_tenant == {} and store._objects == {}


def test_pods_and_replica_sets_are_kept_without_their_spec() -> None:
    cached = {(s.api_version, s.kind): s for s in informer.CACHED}
    for key in (("v1", "Pod"), ("apps/v1", "ReplicaSet")):
        assert cached[key].fields == informer.STATUS_ONLY
        assert cached[key].selector == informer.MANAGED
    kept = informer.compact(pod("a", "p1", "worker"), informer.STATUS_ONLY)
    assert set(kept) == {"apiVersion", "kind", "metadata", "status"}
    assert kept["status"]["conditions"] == [{"type": "Ready", "status": "True"}]
    assert cached["apps/v1", "Deployment"].fields == ()  # the apply diff compares its spec


def test_a_kind_cached_for_the_periodic_loop_only_is_walked_but_answers_no_read() -> None:
    walked_only = informer.Spec("v1", "Pod", serves_reads=False)
    cache = informer.Cache(cast(kube.Kube, None), [walked_only])
    assert cache.walk("v1", "Pod") is None  # not in sync yet: the loop skips the kind
    store = cache._informers["v1", "Pod"]
    store._store(pod("a", "p1", "worker"))
    store._store(pod("b", "p2", "worker"))
    store.synced.set()
    walked = cache.walk("v1", "Pod")
    assert walked is not None
    assert sorted((ns, name) for ns, name, _ in walked) == [("a", "p1"), ("b", "p2")]
    body = cache.copy("v1", "Pod", "a", "p1")
    assert body is not None and body["metadata"]["labels"] == {"app": "worker"}
    body["metadata"]["labels"]["app"] = "changed"  # a copy: the cached object stays as it was
    assert dict(next(obj for _, name, obj in walked if name == "p1")["metadata"]["labels"]) == {
        "app": "worker"
    }
    assert cache.copy("v1", "Pod", "a", "absent") is None
    # Reads of the kind still go to the API server.
    assert cache.get("v1", "Pod", "a", "p1") == (False, None)
    assert cache.list("v1", "Pod", "") is None


def test_the_workload_kinds_are_cached_for_the_loop_without_serving_reads() -> None:
    cached = {(s.api_version, s.kind): s for s in informer.CACHED}
    for kind in ("Tenant", "Engine", "WorkerPool", "VectorIndex"):
        assert cached["neuroedge.io/v1alpha1", kind].selector == ""  # every object: the loop walks them all
    assert cached["neuroedge.io/v1alpha1", "Tenant"].serves_reads  # the Tenant behind a namespace
    # Engines are listed by namespace (the model volumes of their pools), never read by name from the cache.
    engine = cached["neuroedge.io/v1alpha1", "Engine"]
    assert engine.serves_reads and not engine.by_name
    # WorkerPools answer the Engines' reference reads; VectorIndexes are only walked.
    assert cached["neuroedge.io/v1alpha1", "WorkerPool"].serves_reads
    assert not cached["neuroedge.io/v1alpha1", "VectorIndex"].serves_reads
