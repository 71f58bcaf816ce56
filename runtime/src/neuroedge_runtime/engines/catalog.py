"""The engine kinds this runtime can run, by kind name (the `kind` column of the engine registry)."""

from __future__ import annotations

from collections.abc import Mapping

from neuroedge_runtime.engines import base
from neuroedge_runtime.engines.agent import AgentEngine
from neuroedge_runtime.engines.analytics import AnalyticsEngine
from neuroedge_runtime.engines.conversation import ConversationEngine
from neuroedge_runtime.engines.predictive import PredictiveEngine
from neuroedge_runtime.engines.retrieval import Retriever
from neuroedge_runtime.engines.router import Embed, RouterEngine


def default_kinds(
    retriever: Retriever | None = None, embed: Embed | None = None
) -> Mapping[str, base.Engine]:
    """One instance of every built-in engine kind (`retriever`: how engines read the tenant's indexes;
    `embed`: the built-in embedding model, without which there are no routers)."""
    engines: list[base.Engine] = [
        PredictiveEngine(),
        AgentEngine(),
        ConversationEngine(retriever),
        AnalyticsEngine(),
    ]
    if embed is not None:
        engines.append(RouterEngine(embed))
    return {engine.kind: engine for engine in engines}
