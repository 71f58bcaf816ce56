"""Serve the API until SIGTERM/SIGINT, then drain: stop accepting, let in-flight requests finish (up to
`shutdown_timeout_seconds`), then close the app's resources."""

from __future__ import annotations

import asyncio
import logging
import signal

from aiohttp import web

from neuroedge_runtime import app as app_module
from neuroedge_runtime import heap, logs
from neuroedge_runtime.settings import RuntimeSettings

log = logging.getLogger(__name__)


async def serve(
    app: web.Application, host: str, port: int, shutdown_timeout: float, stop: asyncio.Event
) -> None:
    """Run `app` on host:port until `stop` is set, then shut down gracefully."""
    runner = web.AppRunner(app, shutdown_timeout=shutdown_timeout, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    heap.freeze_startup()
    heap.collect_less_often()
    log.info("runtime api listening", extra={"fields": {"host": host, "port": port}})
    try:
        await stop.wait()
        log.info("draining in-flight requests")
    finally:
        await runner.cleanup()  # closes the listener, waits for handlers, then runs the cleanup contexts
    log.info("runtime api stopped")


async def _main(settings: RuntimeSettings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await serve(
        app_module.init_app(settings), settings.host, settings.port, settings.shutdown_timeout_seconds, stop
    )


def run(settings: RuntimeSettings) -> None:
    """Entry point of `neuroedge-runtime api`, on the configured event loop."""
    logs.configure(settings.log_level)
    if settings.event_loop == "uvloop":
        import uvloop  # noqa: PLC0415 - only the API's process needs it

        uvloop.run(_main(settings))
    else:
        asyncio.run(_main(settings))
