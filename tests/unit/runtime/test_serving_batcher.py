"""The dynamic batcher: concurrent requests share runs, each caller gets its own rows back, oversize requests
run alone, and one failing request never fails the others."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import numpy as np
import pytest

from neuroedge_runtime.serving import batcher


class Model:
    """Doubles `x` and records the batch sizes it ran; fails any batch holding a negative row."""

    def __init__(self, delay: float = 0.0) -> None:
        self.batches: list[int] = []
        self.delay = delay

    async def __call__(self, inputs: Mapping[str, Any]) -> dict[str, Any]:
        x = inputs["x"]
        self.batches.append(int(x.shape[0]))
        await asyncio.sleep(self.delay)
        if (x < 0).any():
            raise ValueError("negative input")
        return {"y": x * 2, "sum": x.sum(axis=1)}


def rows(start: int, count: int) -> dict[str, Any]:
    return {"x": np.arange(start, start + count * 3, dtype=np.float32).reshape(count, 3)}


async def test_concurrent_requests_are_batched_and_each_gets_its_own_rows() -> None:
    model = Model()
    b = batcher.Batcher(model, batcher.BatchingSettings(max_batch_size=64, max_delay_seconds=0.05))
    requests = [rows(i * 100, 1 + i % 3) for i in range(20)]
    results = await asyncio.gather(*(b.submit(r) for r in requests))
    for request, result in zip(requests, results, strict=True):
        assert result["y"].tolist() == (request["x"] * 2).tolist()
        assert result["sum"].tolist() == request["x"].sum(axis=1).tolist()
    assert len(model.batches) < 20 and sum(model.batches) == sum(1 + i % 3 for i in range(20))
    assert max(model.batches) <= 64
    await b.close()


async def test_batches_never_exceed_max_batch_size_and_oversize_runs_alone() -> None:
    model = Model()
    b = batcher.Batcher(model, batcher.BatchingSettings(max_batch_size=4, max_delay_seconds=0.05))
    results = await asyncio.gather(*(b.submit(rows(i, 1)) for i in range(10)), b.submit(rows(0, 9)))
    assert results[-1]["y"].shape == (9, 3)
    assert 9 in model.batches
    assert all(size <= 4 for size in model.batches if size != 9)
    await b.close()


async def test_a_failing_request_fails_alone() -> None:
    model = Model()
    b = batcher.Batcher(model, batcher.BatchingSettings(max_batch_size=16, max_delay_seconds=0.05))
    bad = {"x": -np.ones((1, 3), dtype=np.float32)}
    outcome = await asyncio.gather(
        b.submit(rows(0, 2)), b.submit(bad), b.submit(rows(5, 1)), return_exceptions=True
    )
    assert isinstance(outcome[1], ValueError)
    assert outcome[0]["y"].tolist() == (rows(0, 2)["x"] * 2).tolist()  # type: ignore[index]
    assert outcome[2]["y"].tolist() == (rows(5, 1)["x"] * 2).tolist()  # type: ignore[index]
    await b.close()


async def test_requests_of_different_shapes_are_not_stacked_together() -> None:
    model = Model()
    b = batcher.Batcher(model, batcher.BatchingSettings(max_batch_size=16, max_delay_seconds=0.02))
    wide = {"x": np.ones((2, 5), dtype=np.float32)}
    a, c = await asyncio.gather(b.submit(rows(0, 2)), b.submit(wide))
    assert a["y"].shape == (2, 3) and c["y"].shape == (2, 5)
    await b.close()


def test_split_refuses_outputs_without_a_row_per_input_row() -> None:
    with pytest.raises(ValueError, match="cannot be batched"):
        batcher.split({"y": np.ones(3)}, [1, 1])
    parts = batcher.split({"y": np.arange(5)}, [2, 3])
    assert [p["y"].tolist() for p in parts] == [[0, 1], [2, 3, 4]]


class Gate:
    """A model whose runs wait until the test opens the gate; records the batch sizes."""

    def __init__(self) -> None:
        self.batches: list[int] = []
        self.open = asyncio.Event()

    async def __call__(self, inputs: Mapping[str, Any]) -> dict[str, Any]:
        self.batches.append(int(inputs["x"].shape[0]))
        await self.open.wait()
        return {"y": inputs["x"] * 2}


async def test_requests_queued_during_a_run_go_together_when_it_ends_without_waiting_the_delay() -> None:
    model = Gate()
    # A delay no test waits for: only a full batch or the end of a run can start one.
    b = batcher.Batcher(
        model, batcher.BatchingSettings(max_batch_size=2, max_delay_seconds=3600), concurrency=1
    )
    first = [asyncio.ensure_future(b.submit(rows(i, 1))) for i in range(2)]  # full: starts at once
    await asyncio.sleep(0)
    queued = [asyncio.ensure_future(b.submit(rows(10 + i, 1))) for i in range(3)]
    await asyncio.sleep(0)
    assert model.batches == [2]
    model.open.set()
    done = await asyncio.wait_for(asyncio.gather(*first, *queued), timeout=10)
    assert model.batches == [2, 2, 1]  # the queue, taken up to max_batch_size, the rest after
    assert [r["y"].tolist() for r in done] == [(rows(i, 1)["x"] * 2).tolist() for i in (0, 1, 10, 11, 12)]
    await b.close()


async def test_a_cancelled_caller_s_request_is_left_out_of_the_batch() -> None:
    model = Model()
    b = batcher.Batcher(model, batcher.BatchingSettings(max_batch_size=8, max_delay_seconds=0.01))
    gone = asyncio.ensure_future(b.submit(rows(0, 2)))
    kept = asyncio.ensure_future(b.submit(rows(5, 1)))
    await asyncio.sleep(0)
    gone.cancel()
    result = await kept
    assert result["y"].tolist() == (rows(5, 1)["x"] * 2).tolist()
    assert model.batches == [1]
    await b.close()


def test_split_returns_views_of_the_batch_s_outputs() -> None:
    batch = {"y": np.arange(12).reshape(6, 2)}
    parts = batcher.split(batch, [1, 3, 2])
    assert [p["y"].shape for p in parts] == [(1, 2), (3, 2), (2, 2)]
    assert all(np.shares_memory(p["y"], batch["y"]) for p in parts)
    assert np.concatenate([p["y"] for p in parts]).tolist() == batch["y"].tolist()
