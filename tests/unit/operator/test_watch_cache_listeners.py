"""A watch cache tells its listeners what changed, after storing it (so a reconcile they start reads the new
version); a relist announces only what differs, and nothing on the first list; a kind cached for lists only
leaves reads by name to the API server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any, cast

from neuroedge_operator.clients import informer, kube

ENGINE = informer.Spec("neuroedge.io/v1alpha1", "Engine", fields=("metadata", "spec"), by_name=False)


def engine(name: str, version: str, uri: str, namespace: str = "acme") -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": namespace, "resourceVersion": version},
        "spec": {"model": {"uri": uri}},
        "status": {"conditions": []},
    }


class FakeKube:
    """What an informer asks of the API server: one list, then watch events (pure data, no socket)."""

    def __init__(self, listed: list[dict[str, Any]], events: list[tuple[str, dict[str, Any]]]) -> None:
        self.listed, self.events = listed, events

    async def list_versioned(self, *_: Any) -> tuple[list[dict[str, Any]], str]:
        return [dict(o) for o in self.listed], "10"

    async def watch(self, *_: Any) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        for kind, obj in self.events:
            yield kind, obj


Seen = list[tuple[str | None, str | None, bool]]


def recording(store: informer.Informer, seen: Seen) -> informer.Listener:
    def listener(old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> None:
        name = (new or old or {})["metadata"]["name"]
        stored = store.get("acme", name)
        uri = lambda obj: obj["spec"]["model"]["uri"] if obj else None  # noqa: E731
        seen.append((uri(old), uri(new), stored == (dict(new) if new else None)))

    return listener


async def test_watch_events_reach_listeners_after_the_cache_holds_them() -> None:
    fake = FakeKube(
        [engine("iris", "1", "pvc://a/1")],
        [
            ("MODIFIED", engine("iris", "2", "pvc://a/2")),
            ("ADDED", engine("small", "3", "configmap://b/m")),
            ("DELETED", engine("iris", "4", "pvc://a/2")),
        ],
    )
    store = informer.Informer(cast(kube.Kube, fake), ENGINE, watch_timeout=60)
    seen: Seen = []
    store.listeners.append(recording(store, seen))
    await store._relist()
    assert seen == []  # the first list announces nothing
    await store._watch("10")
    assert seen == [
        ("pvc://a/1", "pvc://a/2", True),
        (None, "configmap://b/m", True),
        ("pvc://a/2", None, True),
    ]
    assert "status" not in (store.get("acme", "small") or {})


async def test_a_relist_announces_only_the_differences() -> None:
    fake = FakeKube([engine("iris", "1", "pvc://a/1"), engine("same", "1", "pvc://s/1")], [])
    store = informer.Informer(cast(kube.Kube, fake), ENGINE, watch_timeout=60)
    seen: Seen = []
    store.listeners.append(recording(store, seen))
    await store._relist()
    fake.listed = [
        engine("iris", "5", "pvc://a/2"),
        engine("same", "1", "pvc://s/1"),
        engine("new", "6", "pvc://n"),
    ]
    await store._relist()
    assert sorted(seen, key=str) == sorted(
        [("pvc://a/1", "pvc://a/2", True), (None, "pvc://n", True)], key=str
    )
    fake.listed = []
    seen.clear()
    await store._relist()
    assert sorted(seen, key=str) == sorted(
        [("pvc://a/2", None, True), ("pvc://s/1", None, True), ("pvc://n", None, True)], key=str
    )


async def test_a_failing_listener_does_not_stop_the_cache_or_the_others() -> None:
    fake = FakeKube([], [("ADDED", engine("iris", "2", "pvc://a/1"))])
    store = informer.Informer(cast(kube.Kube, fake), ENGINE, watch_timeout=60)
    seen: Seen = []

    def broken(*_: Any) -> None:
        raise RuntimeError("bug")

    store.listeners += [broken, recording(store, seen)]
    await store._relist()
    await store._watch("10")
    assert seen == [(None, "pvc://a/1", True)]


async def test_a_list_only_cache_answers_lists_but_not_reads_by_name() -> None:
    fake = FakeKube([engine("iris", "1", "pvc://a/1")], [])
    cache = informer.Cache(cast(kube.Kube, fake), [ENGINE])
    store = cache._informers[(ENGINE.api_version, ENGINE.kind)]
    await store._relist()
    store.synced.set()
    assert cache.get("neuroedge.io/v1alpha1", "Engine", "acme", "iris") == (False, None)
    listed = cache.list("neuroedge.io/v1alpha1", "Engine", "", "acme")
    assert [o["metadata"]["name"] for o in listed or []] == ["iris"]
    assert cache.list("neuroedge.io/v1alpha1", "Engine", "", "other") == []
    seen: list[object] = []
    cache.subscribe("neuroedge.io/v1alpha1", "Engine", lambda old, new: seen.append((old, new)))
    assert store.listeners and not seen
