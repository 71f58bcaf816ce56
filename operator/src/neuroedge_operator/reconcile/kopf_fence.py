"""The write fence applied to kopf's own API requests (finalizers, progress and diff-base annotations).

Our clients check the fence themselves; kopf's requests all go through one function,
`kopf._cogs.clients.api.request` (a private module, pinned by the kopf version range in the operator's
pyproject), which is wrapped here so that a replica that lost its Lease cannot patch anything either.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from kopf._cogs.clients import api

from neuroedge_operator import metrics
from neuroedge_operator.clients import fence

_MARK = "_neuroedge_fenced"


def install(write_fence: fence.Fence) -> None:
    """Wrap kopf's request function once per process; GETs (and watches) are never fenced."""
    original: Callable[..., Awaitable[Any]] = api.request
    if getattr(original, _MARK, False):
        return

    async def request(*args: Any, **kwargs: Any) -> Any:
        method = str(kwargs.get("method", args[0] if args else "get")).upper()
        if method == "GET":
            return await original(*args, **kwargs)
        write_fence.check(f"kopf {method} {kwargs.get('url', args[1] if len(args) > 1 else '')}")
        response = await original(*args, **kwargs)
        metrics.API_WRITES.labels(method.lower(), "kopf").inc()
        return response

    setattr(request, _MARK, True)
    setattr(api, "request", request)  # noqa: B010
