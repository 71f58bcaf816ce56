"""The batcher coalesces concurrent callers into one model call and gives each its own rows, in order."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from neuroedge_runtime.embeddings.batcher import Batcher
from neuroedge_runtime.embeddings.model import Encoded


class Recorder:
    """A model whose vector of a text is [its number] (pure; records the batches it saw)."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def __call__(self, texts: list[str]) -> Encoded:
        self.calls.append(texts)
        if "boom" in texts:
            raise ValueError("boom")
        return Encoded(np.array([[float(t)] for t in texts], dtype=np.float32), [1] * len(texts))


async def test_concurrent_callers_share_batches_and_get_their_rows() -> None:
    recorder = Recorder()
    batcher = Batcher(recorder, max_batch=64)
    batcher.start()
    try:
        results = await asyncio.gather(*(batcher.encode([str(i), str(i + 1000)]) for i in range(100)))
    finally:
        await batcher.close()
    for i, encoded in enumerate(results):
        assert encoded.vectors[:, 0].tolist() == [float(i), float(i + 1000)]
    assert len(recorder.calls) < 100  # coalesced
    assert max(len(c) for c in recorder.calls) <= 64 + 2


async def test_a_failing_call_fails_its_callers_only() -> None:
    batcher = Batcher(Recorder())
    batcher.start()
    try:
        with pytest.raises(ValueError, match="boom"):
            await batcher.encode(["boom"])
        assert (await batcher.encode(["7"])).vectors.tolist() == [[7.0]]
    finally:
        await batcher.close()


async def test_not_started_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="not running"):
        await Batcher(Recorder()).encode(["1"])
