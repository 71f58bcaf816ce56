"""`neuroedge-operator`: kopf with our settings and handlers, run only while this replica holds the Lease.

Every replica serves `/healthz` and `/metrics` and takes part in the leader election; the leader runs kopf
in a thread of its own and stops it the moment its leadership ends (the write fence has already refused its
writes by then); SIGTERM closes the fence, releases the Lease and stops kopf, for a fast handover.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
from typing import Any

import kopf
import prometheus_client

from neuroedge_operator import health, memory, metrics
from neuroedge_operator import settings as settings_module
from neuroedge_operator.clients import fence, kube
from neuroedge_operator.handlers import deployments as deployment_handlers
from neuroedge_operator.handlers import engine as engine_handlers
from neuroedge_operator.handlers import tenant as tenant_handlers
from neuroedge_operator.handlers import vectorindex as vectorindex_handlers
from neuroedge_operator.handlers import workerpool as workerpool_handlers
from neuroedge_operator.reconcile import binding, context, election, kopf_fence, periodic
from neuroedge_operator.resources import engine as engine_model
from neuroedge_operator.resources import workerpool as pool_model
from neuroedge_operator.settings import OperatorSettings
from neuroedge_queue import tracecontext

log = logging.getLogger(__name__)


def kopf_settings(settings: OperatorSettings) -> kopf.OperatorSettings:
    """kopf's own settings: watches that time out (never silent), no automatic Event per handler log line
    (we post Events on condition transitions only), and our own names for the finalizer and annotations."""
    config = kopf.OperatorSettings()
    config.watching.server_timeout = settings.watch_server_timeout
    config.watching.client_timeout = settings.watch_server_timeout + 30
    config.watching.connect_timeout = 10
    config.networking.request_timeout = 30
    config.posting.enabled = False
    config.persistence.finalizer = "neuroedge.io/finalizer"
    config.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix="neuroedge.io")
    config.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(prefix="neuroedge.io")
    return config


def build_registry(settings: OperatorSettings, jobs: binding.Jobs) -> kopf.OperatorRegistry:
    """Every handler of the operator, plus start-up and clean-up of the shared clients and of the periodic
    loop, which runs the `jobs` the handlers declare (filled in here)."""
    registry = kopf.OperatorRegistry()

    async def startup(memo: kopf.Memo, **_: Any) -> None:
        memo.context = await context.open_context(settings)
        workerpool_handlers.follow_engines(memo.context)  # an Engine's model volume is in its pool's pods
        engine_handlers.follow_model_maps(memo.context)  # a model's ConfigMap created: its Engines recover
        workerpool_handlers.follow_model_maps(memo.context)  # ... and their pools mount it
        memo.periodic = asyncio.create_task(periodic.Loop(memo.context, jobs).run(), name="periodic")
        metrics.LEADER.set(1)

    async def cleanup(memo: kopf.Memo, **_: Any) -> None:
        metrics.LEADER.set(0)
        loop_task: asyncio.Task[None] | None = getattr(memo, "periodic", None)
        if loop_task is not None:
            loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await loop_task
        ctx = getattr(memo, "context", None)
        if ctx is not None:
            await ctx.close()

    # A fresh registry has none of kopf's default login handlers: log in like the `kubernetes` client does.
    kopf.on.login(registry=registry)(kopf.login_via_client)
    kopf.on.startup(registry=registry)(startup)
    kopf.on.cleanup(registry=registry)(cleanup)
    tenant_handlers.register(registry, jobs, settings)
    vectorindex_handlers.register(registry, jobs, settings)
    engine_handlers.register(registry, jobs, settings)
    workerpool_handlers.register(registry, jobs, settings)
    deployment_handlers.register(
        registry,
        {engine_model.KIND: engine_handlers.reconcile, pool_model.KIND: workerpool_handlers.reconcile},
    )
    return registry


def run(settings: OperatorSettings) -> int:
    """Run the operator until it is stopped (SIGINT/SIGTERM)."""
    handler = logging.StreamHandler()
    handler.setFormatter(tracecontext.TraceFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    logging.basicConfig(level=settings.log_level, handlers=[handler])
    if settings.metrics_port:
        prometheus_client.start_http_server(settings.metrics_port, addr="0.0.0.0")  # noqa: S104
    kopf_fence.install(fence.FENCE)
    asyncio.run(_main(settings))
    return 0


def run_kopf(settings: OperatorSettings, stop: threading.Event) -> None:
    """kopf with every handler, on an event loop of its own (in the calling thread), until `stop` is set.

    Its own thread, so that a busy reconcile never delays a Lease renewal, and so that kopf's shutdown (which
    cancels every task of its loop) never touches the election's tasks."""
    namespaces = list(settings.watch_namespaces)
    asyncio.run(
        kopf.operator(
            registry=build_registry(settings, []),
            settings=kopf_settings(settings),
            memo=kopf.Memo(),
            standalone=True,
            clusterwide=not namespaces,
            namespaces=namespaces,
            stop_flag=stop,
        )
    )


class Supervisor:
    """Runs kopf while this replica leads, stops it the moment leadership ends, and hands over on SIGTERM."""

    def __init__(self, settings: OperatorSettings, elector: election.Elector | None) -> None:
        self._settings, self._elector = settings, elector
        self._stopping = asyncio.Event()
        self._kopf: asyncio.Task[None] | None = None
        self._kopf_stop = threading.Event()
        self._election_task: asyncio.Task[None] | None = None

    def stop(self) -> None:
        """On SIGTERM/SIGINT: close the fence at once, then shut down (see `run`)."""
        if self._elector is not None:
            fence.FENCE.close()
        self._stopping.set()

    def problem(self) -> str | None:
        """Why this replica is unhealthy, or None (the `/healthz` probe)."""
        if self._election_task is not None and self._election_task.done():
            return "the leader election stopped"
        if self._leading() and (self._kopf is None or self._kopf.done()) and not self._stopping.is_set():
            return "leading, but the reconcilers are not running"
        return None

    def role(self) -> str:
        return "leader" if self._leading() else "standby"

    def _leading(self) -> bool:
        return self._elector is None or self._elector.leading

    async def run(self) -> None:
        if self._elector is None:
            self._start_kopf()
            await self._until_stopped_or_kopf_ends()
            await self._stop_kopf()
            return
        self._election_task = asyncio.create_task(self._elector.run(), name="leader-election")
        try:
            while not self._stopping.is_set():
                await self._until_leadership_changes()
                if self._elector.leading and self._kopf is None:
                    self._start_kopf()
                elif not self._elector.leading and self._kopf is not None:
                    await self._stop_kopf()
        finally:
            self._election_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._election_task
            await self._elector.release()
            await self._stop_kopf()

    def _start_kopf(self) -> None:
        self._kopf_stop = threading.Event()
        self._kopf = asyncio.create_task(asyncio.to_thread(run_kopf, self._settings, self._kopf_stop))

    async def _stop_kopf(self) -> None:
        if self._kopf is None:
            return
        self._kopf_stop.set()
        with contextlib.suppress(Exception):
            await self._kopf
        self._kopf = None

    async def _until_leadership_changes(self) -> None:
        """Until the leadership flips, a stop is asked for, or kopf ends (which, on the leader, is fatal)."""
        assert self._elector is not None
        changed = asyncio.create_task(self._elector.changed.wait())
        stopping = asyncio.create_task(self._stopping.wait())
        waits: list[asyncio.Future[Any]] = [changed, stopping]
        if self._kopf is not None:
            waits.append(self._kopf)
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        changed.cancel()
        stopping.cancel()
        self._elector.changed.clear()
        if self._kopf is not None and self._kopf.done() and self._elector.leading:
            log.error("kopf stopped on its own while leading: giving up the Lease")
            self._stopping.set()

    async def _until_stopped_or_kopf_ends(self) -> None:
        assert self._kopf is not None
        stopping = asyncio.create_task(self._stopping.wait())
        await asyncio.wait([stopping, self._kopf], return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()


async def _main(settings: OperatorSettings) -> None:
    client = await kube.Kube.connect() if settings.leader_election else None
    elector = None
    if client is not None:
        elector = election.Elector(
            client, settings.identity, settings.lease_namespace, settings_module.timing(settings)
        )
    supervisor = Supervisor(settings, elector)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, supervisor.stop)
    trimming = asyncio.create_task(memory.trim_every(), name="malloc-trim")
    try:
        async with health.serving(settings.health_port, supervisor.problem, supervisor.role):
            await supervisor.run()
    finally:
        trimming.cancel()
        if client is not None:
            await client.close()
