"""OpenAI-compatible views of the LLM gateway: parse, call `llm.gateway`, relay. Errors in OpenAI's shape.

A stream is relayed event by event as the upstream sends it (no buffering beyond the event being read), each
chunk's `model` set to the Engine's name as in non-streamed answers; the usage chunk the gateway always asks
for is dropped unless the client asked for it too. When the client goes
away mid-stream the upstream response is closed at once, which cancels the generation upstream, and the tokens
streamed so far are settled and metered (an estimate: the upstream never reported them).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

import aiohttp
import pydantic
from aiohttp import web

from neuroedge_runtime import keys
from neuroedge_runtime.llm import gateway, memory, retrieval, sse, upstream
from neuroedge_runtime.serving import openai_errors

STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
SOURCES_HEADER = "X-NeuroEdge-Sources"
CLIENT_GONE = (ConnectionResetError, aiohttp.ClientConnectionResetError, BrokenPipeError)


class ChatCompletionBody(pydantic.BaseModel):
    """OpenAI's chat completion request (documented for the OpenAPI document; fields beyond these pass on)."""

    model_config = pydantic.ConfigDict(extra="allow")
    model: str
    messages: list[dict[str, Any]]
    stream: bool = False


def _error(exc: gateway.GatewayError) -> web.Response:
    response = openai_errors.error_response(exc.status, exc.message, exc.type_, exc.param, exc.code)
    response.headers.update(exc.headers)
    return response


async def _json_body(request: web.Request) -> dict[str, Any]:
    try:
        data = json.loads(await request.read())
    except ValueError:
        raise gateway.GatewayError(400, "the body is not valid JSON", "invalid_request_error") from None
    if not isinstance(data, dict):
        raise gateway.GatewayError(400, "the body must be a JSON object", "invalid_request_error")
    return data


def _conversation(request: web.Request) -> str | None:
    value = request.headers.get(memory.HEADER)
    if value is None:
        return None
    if not memory.CONVERSATION_ID.match(value):
        raise gateway.GatewayError(
            400, f"{memory.HEADER} must match {memory.CONVERSATION_ID.pattern}", "invalid_request_error"
        )
    return value


async def chat_completions(request: web.Request) -> web.StreamResponse:
    """`POST /v1/chat/completions` for an LLM Engine of the caller's tenant."""
    service = request.app[keys.LLM]
    try:
        raw = await _json_body(request)
        call = await service.prepare(request[keys.PRINCIPAL].info, raw, _conversation(request))
        opened = await service.open(call)
    except gateway.GatewayError as exc:
        return _error(exc)
    if opened.response.status != 200:
        return await _passthrough_error(service, call, opened)
    if call.request.stream:
        return await _relay_stream(request, service, call, opened)
    return await _relay_whole(service, call, opened)


async def _passthrough_error(
    service: gateway.Gateway, call: gateway.Call, opened: upstream.Opened
) -> web.Response:
    """A 4xx from the upstream (a request it refuses) goes back to the client as the upstream said it."""
    try:
        data = await opened.response.read()
    finally:
        opened.response.close()
    await service.release(call, f"upstream_{opened.response.status}")
    if gateway.decode(data) is None:
        data = openai_errors.error_body(data.decode("utf-8", "replace")[:500], "upstream_error")
    return web.Response(status=opened.response.status, body=data, content_type="application/json")


async def _relay_whole(service: gateway.Gateway, call: gateway.Call, opened: upstream.Opened) -> web.Response:
    try:
        data = await opened.response.read()
    except TimeoutError:
        await service.release(call, "timeout")
        message = f"the upstream did not finish within {call.engine.llm.timeout_seconds:g}s"
        return _error(gateway.GatewayError(504, message, "timeout", "upstream_timeout"))
    finally:
        opened.response.close()
    completion = gateway.decode(data)
    usage = sse.usage_from(completion) or sse.Usage(call.prompt_estimate, 0, estimated=True)
    await service.finish(call, usage, gateway.reply_of(completion), "ok")
    if isinstance(completion, dict):  # the client's model name: the Engine's, never the upstream's
        extra = {"sources": retrieval.sources(call.passages)} if call.passages else {}
        data = json.dumps({**completion, "model": call.engine.name, **extra}, ensure_ascii=False).encode()
    return web.Response(body=data, content_type="application/json")


async def _relay_stream(
    request: web.Request, service: gateway.Gateway, call: gateway.Call, opened: upstream.Opened
) -> web.StreamResponse:
    response = web.StreamResponse(headers=STREAM_HEADERS)
    response.content_type = "text/event-stream"
    if call.passages:  # a stream's sources travel in a header: every chunk stays as the upstream sent it
        response.headers[SOURCES_HEADER] = json.dumps([p.id for p in call.passages])
    state, splitter, outcome = sse.StreamState(), sse.EventSplitter(), "ok"
    try:
        await response.prepare(request)
        async for data in opened.response.content.iter_any():
            for event in splitter.feed(data):
                payload = sse.data_of(event)
                obj = state.observe(payload) if payload is not None else None
                if sse.is_usage_only(obj) and not call.request.wants_usage_chunk():
                    continue
                await response.write(sse.renamed(event, obj, call.engine.name, state.missing_role))
    except CLIENT_GONE:
        outcome = "client_disconnected"
    except TimeoutError:
        outcome = "timeout"
        await _write_quietly(response, _timeout_event(call))
    except asyncio.CancelledError:
        outcome = "client_disconnected"
        raise
    finally:
        opened.response.close()  # closing the connection is what makes the upstream stop generating
        usage = state.usage or sse.Usage(call.prompt_estimate, state.content_chunks, estimated=True)
        reply = {"role": "assistant", "content": "".join(state.text)} if state.done else None
        await asyncio.shield(service.finish(call, usage, reply, outcome))
    with contextlib.suppress(*CLIENT_GONE):
        await response.write_eof()
    return response


def _timeout_event(call: gateway.Call) -> bytes:
    message = f"the upstream sent nothing for {call.engine.llm.timeout_seconds:g}s"
    return b"data: " + openai_errors.error_body(message, "timeout", code="upstream_timeout") + b"\n\n"


async def _write_quietly(response: web.StreamResponse, data: bytes) -> None:
    with contextlib.suppress(*CLIENT_GONE, RuntimeError):
        await response.write(data)


def _iso_date(value: object) -> object:
    """A query's day as the API documents it, `YYYY-MM-DD` (pydantic alone would also take a number such as
    `0.0` as a Unix timestamp, the fuzzer found: `?to=0.0` answered for 1970-01-01)."""
    if isinstance(value, str) and not _ISO_DAY.fullmatch(value):
        raise ValueError("must be a date as YYYY-MM-DD")
    return value


_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
IsoDay = Annotated[date, pydantic.BeforeValidator(_iso_date)]


class UsageQuery(pydantic.BaseModel):
    """Days (UTC, inclusive) to report; the last 30 days by default."""

    model_config = pydantic.ConfigDict(extra="forbid", populate_by_name=True)
    start: IsoDay | None = pydantic.Field(default=None, alias="from")
    end: IsoDay | None = pydantic.Field(default=None, alias="to")


class UsageReport(pydantic.BaseModel):
    tenant: str
    start: date = pydantic.Field(serialization_alias="from")
    end: date = pydantic.Field(serialization_alias="to")
    data: list[dict[str, Any]]
    total_tokens: int


MAX_USAGE_DAYS = 366


async def usage(request: web.Request) -> web.Response:
    """`GET /usage`: the caller's LLM token usage per Engine and UTC day."""
    try:
        query = UsageQuery.model_validate(dict(request.query))
    except pydantic.ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        raise web.HTTPBadRequest(text=f"{'.'.join(map(str, first['loc']))}: {first['msg']}") from None
    end = query.end or datetime.now(UTC).date()
    start = query.start or end - timedelta(days=29)
    if start > end or (end - start).days >= MAX_USAGE_DAYS:
        raise web.HTTPBadRequest(text=f"from must be on or before to, at most {MAX_USAGE_DAYS} days apart")
    tenant = request[keys.PRINCIPAL].tenant
    rows = await request.app[keys.LLM].usage.read(tenant, start, end)
    data = [
        {
            "engine": r.engine,
            "day": r.day.isoformat(),
            "requests": r.requests,
            "prompt_tokens": r.prompt_tokens,
            "completion_tokens": r.completion_tokens,
            "total_tokens": r.prompt_tokens + r.completion_tokens,
        }
        for r in rows
    ]
    report = UsageReport(
        tenant=tenant, start=start, end=end, data=data, total_tokens=sum(d["total_tokens"] for d in data)
    )
    return web.json_response(report.model_dump(mode="json", by_alias=True))
