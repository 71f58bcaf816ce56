"""The consumer group of a pool's stream, created by whichever side touches the queue first: the worker at
start-up, the operator before it reads figures or enqueues a scheduled job.

Both sides need the same idempotent step, so it lives in the contract rather than in the worker loop.
"""

from __future__ import annotations

import redis.asyncio as aioredis
import redis.exceptions

from neuroedge_queue import keys


async def ensure_group(client: aioredis.Redis, queue_keys: keys.QueueKeys) -> None:
    """Create the stream and the group `pool` if missing (from id 0: jobs enqueued before any worker ran
    are consumed too)."""
    try:
        await client.xgroup_create(queue_keys.stream, keys.GROUP, id="0", mkstream=True)
    except redis.exceptions.ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise
