"""`neuroedge-operator`: kopf with our settings, handlers, liveness endpoint and Prometheus metrics."""

from __future__ import annotations

import logging
from typing import Any

import kopf
import prometheus_client

from neuroedge_operator import metrics
from neuroedge_operator.handlers import deployments as deployment_handlers
from neuroedge_operator.handlers import engine as engine_handlers
from neuroedge_operator.handlers import tenant as tenant_handlers
from neuroedge_operator.handlers import vectorindex as vectorindex_handlers
from neuroedge_operator.handlers import workerpool as workerpool_handlers
from neuroedge_operator.reconcile import context
from neuroedge_operator.resources import engine as engine_model
from neuroedge_operator.resources import workerpool as pool_model
from neuroedge_operator.settings import OperatorSettings
from neuroedge_queue import tracecontext


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


def build_registry(settings: OperatorSettings) -> kopf.OperatorRegistry:
    """Every handler of the operator, plus start-up and clean-up of the shared clients."""
    registry = kopf.OperatorRegistry()

    async def startup(memo: kopf.Memo, **_: Any) -> None:
        memo.context = await context.open_context(settings)
        metrics.LEADER.set(1)

    async def cleanup(memo: kopf.Memo, **_: Any) -> None:
        metrics.LEADER.set(0)
        ctx = getattr(memo, "context", None)
        if ctx is not None:
            await ctx.close()

    # A fresh registry has none of kopf's default login handlers: log in like the `kubernetes` client does.
    kopf.on.login(registry=registry)(kopf.login_via_client)
    kopf.on.startup(registry=registry)(startup)
    kopf.on.cleanup(registry=registry)(cleanup)
    tenant_handlers.register(registry, settings)
    vectorindex_handlers.register(registry, settings)
    engine_handlers.register(registry, settings)
    workerpool_handlers.register(registry, settings)
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
    liveness = f"http://0.0.0.0:{settings.health_port}/healthz" if settings.health_port else None
    namespaces = list(settings.watch_namespaces)
    kopf.run(
        registry=build_registry(settings),
        settings=kopf_settings(settings),
        memo=kopf.Memo(),
        standalone=True,
        clusterwide=not namespaces,
        namespaces=namespaces,
        liveness_endpoint=liveness,
    )
    return 0
