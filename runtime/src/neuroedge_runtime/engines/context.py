"""The tenant an engine runs for, as a context variable.

Engine kinds are called as `engine(config, inputs)`; most need nothing else, but those that read the tenant's
data (a conversation answering from a VectorIndex, a router running another Engine) must act for the caller's
tenant only. The API's EngineService sets it for each call from the access token, and a worker sets it once to
its own tenant, so an engine never takes a tenant from its input.
"""

from __future__ import annotations

import contextvars

TENANT: contextvars.ContextVar[str | None] = contextvars.ContextVar("neuroedge_engine_tenant", default=None)
ENGINE: contextvars.ContextVar[str | None] = contextvars.ContextVar("neuroedge_engine_name", default=None)
"""The name of the Engine being run (an LLM agent meters its tokens under it)."""


def tenant() -> str:
    """The tenant of the running engine call (a programming error when none was set)."""
    value = TENANT.get()
    if value is None:
        raise RuntimeError("no tenant is set for this engine call")
    return value


def engine() -> str:
    """The name of the running Engine (a programming error when none was set)."""
    value = ENGINE.get()
    if value is None:
        raise RuntimeError("no engine name is set for this engine call")
    return value
