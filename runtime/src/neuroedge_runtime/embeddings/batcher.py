"""Adaptive batching of embedding calls: concurrent requests are coalesced into one model call.

One consumer task takes the first waiting request and everything else queued at that moment (up to
`max_batch` texts), runs the model once on a dedicated thread (so the event loop keeps serving), and hands
each request its rows. Under light load a request runs alone at once; under heavy load batches grow and the
per-call overhead is shared. The model itself never knows it is batched.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from neuroedge_runtime.embeddings.model import Encoded


@dataclass
class _Request:
    texts: list[str]
    done: asyncio.Future[Encoded] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class Batcher:
    """Runs `encode` (synchronous, CPU-bound) for concurrent callers in coalesced batches."""

    def __init__(self, encode: Callable[[list[str]], Encoded], max_batch: int = 512) -> None:
        self._encode = encode
        self._max_batch = max_batch
        self._queue: asyncio.Queue[_Request] = asyncio.Queue()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="embeddings")
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the consumer task (in the running loop)."""
        self._task = asyncio.get_running_loop().create_task(self._consume(), name="embedding-batcher")

    async def close(self) -> None:
        """Stop the consumer; requests still queued fail with CancelledError."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        while not self._queue.empty():
            self._queue.get_nowait().done.cancel()
        self._executor.shutdown(wait=True)

    async def encode(self, texts: list[str]) -> Encoded:
        """Vectors and token counts of `texts`, computed in a batch with whatever else is waiting."""
        if self._task is None or self._task.done():
            raise RuntimeError("the embedding batcher is not running")
        request = _Request(list(texts))
        await self._queue.put(request)
        return await request.done

    def _take(self, first: _Request) -> list[_Request]:
        batch, size = [first], len(first.texts)
        while size < self._max_batch and not self._queue.empty():
            request = self._queue.get_nowait()
            batch.append(request)
            size += len(request.texts)
        return batch

    async def _consume(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = [r for r in self._take(await self._queue.get()) if not r.done.done()]
            texts = [t for r in batch for t in r.texts]
            try:
                encoded = await loop.run_in_executor(self._executor, self._encode, texts)
            except Exception as exc:  # handed to every waiting caller
                for request in batch:
                    if not request.done.done():
                        request.done.set_exception(exc)
                continue
            _deliver(batch, encoded)


def _deliver(batch: list[_Request], encoded: Encoded) -> None:
    row = 0
    for request in batch:
        end = row + len(request.texts)
        if not request.done.done():  # the caller may have gone (cancelled) meanwhile
            request.done.set_result(Encoded(encoded.vectors[row:end], encoded.tokens[row:end]))
        row = end
