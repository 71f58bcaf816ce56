"""The gateway's steps for one chat completion, in order: resolve the Engine, assemble the prompt (memory),
reserve tokens, open the upstream (with fallbacks), and once the answer is known settle the reservation, meter
the usage and remember the turn. The HTTP adapter (`views.llm`) calls these and relays the bytes.
"""

from __future__ import annotations

import functools
import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp
import asyncpg
import pydantic

from neuroedge_runtime import spans
from neuroedge_runtime.llm import budget, catalog, chat, config, memory, metering, retrieval, upstream
from neuroedge_runtime.llm.sse import Usage
from neuroedge_runtime.tenancy.registry import TenantInfo

log = logging.getLogger(__name__)


class GatewayError(Exception):
    """A failure answered in OpenAI's error shape."""

    def __init__(  # noqa: PLR0917 - mirrors OpenAI's error fields
        self,
        status: int,
        message: str,
        type_: str,
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.type_ = status, message, type_
        self.code, self.param, self.headers = code, param, headers or {}


@dataclass
class Call:
    """One chat completion in flight."""

    tenant: str
    engine: catalog.LLMEngine
    request: chat.ChatRequest
    body: dict[str, Any]
    prompt_estimate: int
    reservation: budget.Reservation
    conversation: str | None
    remember: list[dict[str, Any]] = field(default_factory=list)
    passages: list[retrieval.Passage] = field(default_factory=list)


@dataclass
class Gateway:
    """The process's gateway: database pool, Redis-backed budgets and memory, metrics, upstream session."""

    pool: asyncpg.Pool
    budgets: budget.Budgets
    memory: memory.Memory
    usage: metering.UsageStore
    metrics: metering.LLMMetrics
    session: aiohttp.ClientSession
    search: retrieval.TextSearch | None = None
    """Text search of the tenant's VectorIndexes (retrieval); None: Engines with `vectorIndex` are refused."""

    async def prepare(self, info: TenantInfo, raw: dict[str, Any], conversation: str | None) -> Call:
        """Everything before the upstream is called; raises GatewayError (400, 404, 429)."""
        request = parse_request(raw)
        engine = await self._engine(info.tenant, request.model)
        history = await self.memory.load(info.tenant, conversation) if conversation else []
        sent = [m.model_dump(exclude_none=False) for m in request.messages]
        system = [m for m in sent if m.get("role") in {"system", "developer"}]
        turns = [m for m in sent if m.get("role") not in {"system", "developer"}]
        passages = await self._retrieve(info.tenant, engine, [*history, *turns])
        messages = retrieval.augment([*system, *history, *turns], passages)
        max_tokens = chat.completion_limit(request.requested_max_tokens(), engine.llm.max_tokens)
        body = chat.upstream_body(raw, messages, engine.llm.model, max_tokens, engine.llm.temperature)
        estimate = chat.estimate_prompt_tokens(messages)
        limits = budget.Limits(info.llm_tokens_per_minute, info.llm_tokens_per_day)
        held = await self.budgets.reserve(info.tenant, estimate + max_tokens, limits)
        if isinstance(held, budget.Denied):
            self.metrics.requests.labels(info.tenant, engine.name, "budget_exhausted").inc()
            raise budget_error(held, estimate + max_tokens)
        return Call(info.tenant, engine, request, body, estimate, held, conversation, turns, passages)

    async def _retrieve(
        self, tenant: str, engine: catalog.LLMEngine, messages: list[dict[str, Any]]
    ) -> list[retrieval.Passage]:
        wanted = retrieval.settings_of(engine.config)
        query = retrieval.last_user_text(messages)
        if wanted is None or query is None:
            return []
        if self.search is None:
            message = (
                f"model {engine.name!r} retrieves from a VectorIndex, and this runtime has no text search"
            )
            raise GatewayError(503, message, "server_error", "retrieval_unavailable")
        try:
            return await self.search(tenant, wanted.index, query, wanted.top_k)
        except retrieval.RetrievalError as exc:
            raise GatewayError(
                400, f"model {engine.name!r}: {exc}", "invalid_request_error", "retrieval_failed"
            ) from None

    async def _engine(self, tenant: str, name: str) -> catalog.LLMEngine:
        try:
            return await catalog.lookup(self.pool, tenant, name)
        except catalog.UnknownModel:
            raise model_not_found(name) from None
        except config.NotAnLLMEngine as exc:
            raise GatewayError(
                400, f"model {name!r}: {exc}", "invalid_request_error", "model_not_llm"
            ) from None

    async def open(self, call: Call) -> upstream.Opened:
        """The first upstream's response headers; on failure the reservation is released (502, 504)."""

        def skipped(_u: config.Upstream, _why: str) -> None:
            self.metrics.fallbacks.labels(call.tenant, call.engine.name).inc()

        try:
            return await upstream.open_completion(
                self.session, call.engine.llm.upstreams(), call.body, call.engine.llm.timeout_seconds, skipped
            )
        except upstream.UpstreamTimeout as exc:
            await self.release(call, "timeout")
            raise GatewayError(504, str(exc), "timeout", "upstream_timeout") from None
        except upstream.NoUpstream as exc:
            await self.release(call, "unavailable")
            message = "no upstream LLM server could answer: " + "; ".join(exc.failures)
            raise GatewayError(502, message, "upstream_error", "upstream_unavailable") from None

    async def release(self, call: Call, outcome: str) -> None:
        """The call produced nothing: give back its whole reservation."""
        self.metrics.requests.labels(call.tenant, call.engine.name, outcome).inc()
        spans.annotate_current(functools.partial(usage_attributes, call, None, outcome))
        await self.budgets.settle(call.reservation, 0)

    async def finish(self, call: Call, usage: Usage, reply: dict[str, Any] | None, outcome: str) -> None:
        """Settle the reservation with the real usage, meter it, and remember the turn."""
        self.metrics.requests.labels(call.tenant, call.engine.name, outcome).inc()
        spans.annotate_current(functools.partial(usage_attributes, call, usage, outcome))
        await self.budgets.settle(call.reservation, usage.total_tokens)
        labels = (call.tenant, call.engine.name)
        self.metrics.tokens.labels(*labels, "prompt").inc(usage.prompt_tokens)
        self.metrics.tokens.labels(*labels, "completion").inc(usage.completion_tokens)
        await self.usage.record(call.tenant, call.engine.name, usage, datetime.now(UTC))
        if call.conversation and reply is not None:
            await self.memory.append(call.tenant, call.conversation, [*call.remember, reply])


def usage_attributes(call: Call, usage: Usage | None, outcome: str) -> spans.Attributes:
    """What a completion used, for the request's span (OpenTelemetry's GenAI usage attributes)."""
    found: spans.Attributes = {
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": call.engine.name,
        "neuroedge.llm.outcome": outcome,
    }
    if usage is not None:
        found["gen_ai.usage.input_tokens"] = usage.prompt_tokens
        found["gen_ai.usage.output_tokens"] = usage.completion_tokens
        found["neuroedge.llm.usage_estimated"] = usage.estimated
    return found


def parse_request(raw: dict[str, Any]) -> chat.ChatRequest:
    try:
        return chat.ChatRequest.model_validate(raw)
    except pydantic.ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        param = ".".join(str(part) for part in first["loc"])
        raise GatewayError(400, f"{param}: {first['msg']}", "invalid_request_error", param=param) from None


def model_not_found(name: str) -> GatewayError:
    """The one answer for an unknown Engine and another tenant's Engine alike."""
    return GatewayError(
        404, f"The model {name!r} does not exist", "invalid_request_error", "model_not_found", "model"
    )


def budget_error(denied: budget.Denied, needed: int) -> GatewayError:
    """429 with Retry-After when the window is used up; 400 when the request could never fit the window
    (waiting would not help: the client must ask for fewer max_tokens)."""
    if needed > denied.limit:
        message = (
            f"this request needs up to {needed} tokens (estimated prompt + max_tokens), more than the "
            f"tenant's whole LLM token budget per {denied.window} ({denied.limit}); lower max_tokens"
        )
        return GatewayError(400, message, "invalid_request_error", "token_budget_too_small", "max_tokens")
    left = max(0, denied.limit - denied.used)
    message = (
        f"the tenant's LLM token budget per {denied.window} is exhausted: this request needs up to {needed} "
        f"tokens (estimated prompt + max_tokens), {left} of {denied.limit} are left; "
        f"retry in {denied.retry_after_seconds}s"
    )
    headers = {"Retry-After": str(denied.retry_after_seconds)}
    return GatewayError(429, message, "rate_limit_error", "token_budget_exhausted", headers=headers)


def reply_of(completion: Any) -> dict[str, Any] | None:
    """The assistant message of a non-streamed completion (what memory keeps)."""
    try:
        message = completion["choices"][0]["message"]
    except (KeyError, IndexError, TypeError):
        return None
    return {k: v for k, v in message.items() if k in {"role", "content", "tool_calls"} and v is not None}


def decode(data: bytes) -> Any:
    try:
        return json.loads(data)
    except ValueError:
        return None
