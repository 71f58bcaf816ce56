"""Per-object locks: one holder per key at a time, and the map holds only keys in use (it used to keep a lock
for every object ever seen)."""

from __future__ import annotations

import asyncio

import pytest

from neuroedge_operator.reconcile import locks


async def test_the_map_returns_to_empty_after_use() -> None:
    keyed = locks.KeyedLocks()
    for n in range(100):
        async with keyed.hold(f"Engine/acme/e{n}"):
            assert len(keyed) == 1
    assert len(keyed) == 0


async def test_two_holders_of_one_key_exclude_each_other() -> None:
    keyed = locks.KeyedLocks()
    inside: list[str] = []
    log: list[str] = []
    first_in = asyncio.Event()

    async def hold(name: str) -> None:
        async with keyed.hold("VectorIndex/acme/kb"):
            inside.append(name)
            assert len(inside) == 1, inside  # never two at once
            log.append(f"{name} in")
            first_in.set()
            await asyncio.sleep(0.01)
            log.append(f"{name} out")
            inside.remove(name)

    first = asyncio.create_task(hold("a"))
    await first_in.wait()
    second = asyncio.create_task(hold("b"))
    await asyncio.sleep(0)
    assert len(keyed) == 1  # one entry: a holds it, b waits on it
    await asyncio.gather(first, second)
    assert log == ["a in", "a out", "b in", "b out"]
    assert len(keyed) == 0


async def test_other_keys_do_not_wait() -> None:
    keyed = locks.KeyedLocks()
    async with keyed.hold("Tenant/a"):
        async with asyncio.timeout(1):
            async with keyed.hold("Tenant/b"):
                assert len(keyed) == 2
    assert len(keyed) == 0


async def test_a_waiter_cancelled_or_failing_leaves_nothing_behind() -> None:
    keyed = locks.KeyedLocks()
    release = asyncio.Event()

    async def holder() -> None:
        async with keyed.hold("k"):
            await release.wait()

    async def waiter() -> None:
        async with keyed.hold("k"):
            pass

    held = asyncio.create_task(holder())
    await asyncio.sleep(0)
    waiting = asyncio.create_task(waiter())
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    release.set()
    await held
    assert len(keyed) == 0
    with pytest.raises(RuntimeError):
        async with keyed.hold("k"):
            raise RuntimeError("the pass failed")
    assert len(keyed) == 0
