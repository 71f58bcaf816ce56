"""The registry cache's rules, on a feed whose liveness and changes the test drives (pure logic)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from prometheus_client import CollectorRegistry, Counter

from neuroedge_runtime.tenancy import cache, changes


class FakeFeed(changes.Feed):
    """A feed that never connects: the test says when it is live and which changes arrive."""

    def __init__(self) -> None:
        super().__init__("postgresql://unused")
        self.is_live = True

    @property
    def live(self) -> bool:
        return self.is_live

    def notify(self, payload: str) -> None:
        self._notified(None, 0, changes.CHANNEL, payload)

    def drop(self) -> None:
        self._went_down()


def loader(values: dict[str, str]) -> tuple[Callable[[str], Callable[[], Awaitable[str]]], list[str]]:
    reads: list[str] = []

    def load(key: str) -> Callable[[], Awaitable[str]]:
        async def read() -> str:
            reads.append(key)
            return values[key]

        return read

    return load, reads


def test_payloads_parse_into_changes_and_junk_is_refused() -> None:
    assert changes.parse('{"table": "engines", "tenant": "acme", "name": "churn"}') == changes.Change(
        "engines", "acme", "churn"
    )
    assert changes.parse('{"table": "tenants", "tenant": "acme", "name": null}') == changes.Change(
        "tenants", "acme", None
    )
    for junk in ("", "not json", "[]", '{"table": 1, "tenant": "a"}', '{"table": "tenants"}'):
        assert changes.parse(junk) is None


async def test_a_row_is_read_once_then_served_until_a_change_names_it() -> None:
    feed, values = FakeFeed(), {"a": "1", "b": "2"}
    rows: cache.RegistryCache[str, str] = cache.RegistryCache(feed, "tenants", lambda c: c.tenant)
    load, reads = loader(values)
    assert [await rows.get("a", load("a")) for _ in range(3)] == ["1", "1", "1"]
    assert await rows.get("b", load("b")) == "2"
    assert reads == ["a", "b"]
    values["a"] = "changed"
    feed.notify('{"table": "tenants", "tenant": "a"}')
    assert await rows.get("a", load("a")) == "changed"
    assert await rows.get("b", load("b")) == "2"  # another tenant's change leaves b cached
    assert reads == ["a", "b", "a"]


async def test_changes_of_another_table_leave_the_cache_alone() -> None:
    feed = FakeFeed()
    rows: cache.RegistryCache[str, str] = cache.RegistryCache(feed, "tenants", lambda c: c.tenant)
    load, reads = loader({"a": "1"})
    await rows.get("a", load("a"))
    feed.notify('{"table": "engines", "tenant": "a", "name": "x"}')
    await rows.get("a", load("a"))
    assert reads == ["a"]


async def test_nothing_is_kept_while_the_feed_is_down_and_all_is_forgotten_when_it_drops() -> None:
    feed = FakeFeed()
    rows: cache.RegistryCache[str, str] = cache.RegistryCache(feed, "tenants", lambda c: c.tenant)
    load, reads = loader({"a": "1"})
    await rows.get("a", load("a"))
    feed.drop()
    feed.is_live = False
    assert len(rows) == 0
    await rows.get("a", load("a"))
    await rows.get("a", load("a"))
    assert reads == ["a", "a", "a"]
    feed.is_live = True
    await rows.get("a", load("a"))
    await rows.get("a", load("a"))
    assert reads == ["a", "a", "a", "a"]


async def test_a_row_read_while_a_change_arrived_is_returned_but_not_kept() -> None:
    feed = FakeFeed()
    rows: cache.RegistryCache[str, str] = cache.RegistryCache(feed, "tenants", lambda c: c.tenant)
    reads = 0

    async def racing_read() -> str:
        nonlocal reads
        reads += 1
        feed.notify('{"table": "tenants", "tenant": "a"}')  # the row changed while we read it
        return "maybe stale"

    assert await rows.get("a", racing_read) == "maybe stale"
    assert await rows.get("a", racing_read) == "maybe stale"
    assert reads == 2


async def test_an_unreadable_notification_forgets_everything() -> None:
    feed = FakeFeed()
    rows: cache.RegistryCache[tuple[str, str], str] = cache.RegistryCache(
        feed, "engines", lambda c: (c.tenant, c.name) if c.name else None
    )
    load, reads = loader({"x": "1"})
    await rows.get(("a", "x"), load("x"))
    feed.notify("garbage")
    await rows.get(("a", "x"), load("x"))
    assert reads == ["x", "x"]


async def test_no_feed_means_no_cache_and_lookups_are_counted() -> None:
    lookups = Counter("lookups", "test", ["table", "source"], registry=CollectorRegistry())
    rows: cache.RegistryCache[str, str] = cache.RegistryCache(None, "tenants", lambda c: c.tenant, lookups)
    load, reads = loader({"a": "1"})
    await rows.get("a", load("a"))
    await rows.get("a", load("a"))
    assert reads == ["a", "a"]
    assert lookups.labels("tenants", "database")._value.get() == 2
    cached: cache.RegistryCache[str, str] = cache.RegistryCache(FakeFeed(), "t2", lambda c: c.tenant, lookups)
    await cached.get("a", load("a"))
    await cached.get("a", load("a"))
    assert lookups.labels("t2", "cache")._value.get() == 1


async def test_the_cache_is_bounded() -> None:
    feed = FakeFeed()
    rows: cache.RegistryCache[str, str] = cache.RegistryCache(feed, "tenants", lambda c: None, max_entries=3)
    load, _ = loader({str(i): str(i) for i in range(10)})
    for i in range(10):
        assert await rows.get(str(i), load(str(i))) == str(i)
        assert len(rows) <= 3
