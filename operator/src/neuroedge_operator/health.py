"""The `/healthz` endpoint every replica serves, leader or standby.

kopf's own liveness endpoint only exists while kopf runs, i.e. on the leader; a standby must be live and
ready too (it is what takes over), so the process serves its own: healthy while the election loop runs and,
on the leader, while the reconcilers run.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from aiohttp import web

Probe = Callable[[], str | None]
"""Returns None when healthy, else why not."""


def _app(probe: Probe, role: Callable[[], str]) -> web.Application:
    async def healthz(_: web.Request) -> web.Response:
        problem = probe()
        if problem:
            return web.Response(status=503, text=f"unhealthy: {problem}\n")
        return web.Response(text=f"ok ({role()})\n")

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    return app


@asynccontextmanager
async def serving(port: int, probe: Probe, role: Callable[[], str]) -> AsyncIterator[None]:
    """Serve `/healthz` on `port` (all interfaces: the kubelet probes the pod IP) while the block runs."""
    runner = web.AppRunner(_app(probe, role), access_log=None)
    await runner.setup()
    try:
        if port:
            await web.TCPSite(runner, "0.0.0.0", port).start()  # noqa: S104
        yield
    finally:
        await runner.cleanup()
