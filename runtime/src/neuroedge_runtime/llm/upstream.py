"""The only module that talks to upstream LLM servers: one POST to `/chat/completions`, tried on the primary
upstream and then on each fallback.

Failure rules (what a platform team expects from a gateway): an upstream that cannot be reached, or answers
5xx, is skipped for the next one; when none is left the request fails with 502. An upstream that accepted the
request but did not answer within the Engine's `timeoutSeconds` fails it with 504 at once (retrying a slow
upstream elsewhere would double the wait and the cost). A 4xx is the client's problem and is passed on as is.
For streams the timeout bounds the wait for the headers and for each following chunk, not the whole stream.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

from neuroedge_runtime import spans
from neuroedge_runtime.llm.config import Upstream

log = logging.getLogger(__name__)
ERROR_SNIPPET_BYTES = 2048


class UpstreamTimeout(Exception):  # noqa: N818
    """The upstream did not answer in time (504)."""


class NoUpstream(Exception):  # noqa: N818
    """Every upstream was unreachable or failed (502); `failures` say how, in order."""

    def __init__(self, failures: list[str]) -> None:
        super().__init__("; ".join(failures))
        self.failures = failures


@dataclass
class Opened:
    """An upstream response whose headers have arrived (the body is read by the caller)."""

    upstream: Upstream
    response: aiohttp.ClientResponse
    skipped: int


def client_timeout(seconds: float, stream: bool) -> aiohttp.ClientTimeout:
    """Non-streamed: the whole answer within `seconds`; streamed: the headers and every chunk."""
    if stream:
        return aiohttp.ClientTimeout(total=None, sock_connect=seconds, sock_read=seconds)
    return aiohttp.ClientTimeout(total=seconds, sock_connect=seconds)


def headers_for(upstream: Upstream) -> dict[str, str]:
    headers = {"Accept": "text/event-stream, application/json"}
    if upstream.api_key:
        headers["Authorization"] = f"Bearer {upstream.api_key}"
    return headers


def new_session() -> aiohttp.ClientSession:
    """The process's upstream session: pooled keep-alive connections, no cookie jar, no global timeout."""
    connector = aiohttp.TCPConnector(limit=0, limit_per_host=256, ttl_dns_cache=60, keepalive_timeout=30)
    return aiohttp.ClientSession(
        connector=connector, cookie_jar=aiohttp.DummyCookieJar(), timeout=aiohttp.ClientTimeout(total=None)
    )


async def open_completion(
    session: aiohttp.ClientSession,
    upstreams: tuple[Upstream, ...],
    body: dict[str, Any],
    timeout_seconds: float,
    on_skip: Callable[[Upstream, str], None] = lambda _u, _why: None,
) -> Opened:
    """POST `body` to the first upstream that answers below 500; `body["model"]` is set per upstream."""
    failures: list[str] = []
    for upstream in upstreams:
        with spans.client(f"chat {upstream.model}", functools.partial(span_attributes, upstream)) as span:
            answer = await _attempt(session, upstream, body, timeout_seconds)
            if isinstance(answer, aiohttp.ClientResponse):
                spans.annotate(span, functools.partial(_status, answer))
                return Opened(upstream, answer, len(failures))
            spans.failed(span, answer)
        log.warning("LLM upstream skipped: %s", answer)
        failures.append(answer)
        on_skip(upstream, answer)
    raise NoUpstream(failures)


async def _attempt(
    session: aiohttp.ClientSession, upstream: Upstream, body: dict[str, Any], timeout_seconds: float
) -> aiohttp.ClientResponse | str:
    """One upstream's response (below 500), or why it is skipped; UpstreamTimeout when it accepted the
    request and did not answer in time."""
    stream = bool(body.get("stream"))
    try:
        response = await session.post(
            upstream.url("/chat/completions"),
            json={**body, "model": upstream.model},
            headers=headers_for(upstream),
            timeout=client_timeout(timeout_seconds, stream),
        )
    except aiohttp.ConnectionTimeoutError:
        return f"{upstream.base_url}: connection timed out"
    except TimeoutError:
        raise UpstreamTimeout(f"{upstream.base_url} did not answer within {timeout_seconds:g}s") from None
    except (aiohttp.ClientError, OSError) as exc:
        return f"{upstream.base_url}: unreachable ({type(exc).__name__})"
    if response.status < 500:
        return response
    snippet = await _snippet(response)
    return f"{upstream.base_url}: HTTP {response.status} {snippet}".strip()


def span_attributes(upstream: Upstream) -> spans.Attributes:
    """The attributes of an upstream call's span (OpenTelemetry's GenAI and HTTP conventions)."""
    return {
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": upstream.model,
        "server.address": upstream.base_url.host or "",
        "server.port": upstream.base_url.port or 0,
        "http.request.method": "POST",
    }


def _status(response: aiohttp.ClientResponse) -> spans.Attributes:
    return {"http.response.status_code": response.status}


async def _snippet(response: aiohttp.ClientResponse) -> str:
    try:
        data = await response.content.read(ERROR_SNIPPET_BYTES)
    except (aiohttp.ClientError, TimeoutError, OSError):
        data = b""
    finally:
        response.close()
    return data.decode("utf-8", "replace").strip()[:300]
