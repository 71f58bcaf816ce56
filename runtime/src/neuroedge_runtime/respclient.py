"""A lean, automatically pipelining Redis client for the one call every authenticated request makes (the
rate-limit and revocation script).

Why not redis-py for it: profiled under load, redis-py's per-call machinery (connection pool checkout and
release, command packing, the retry wrapper, response parsing through its own classes) was over a quarter of
an authenticated request's CPU time. Here one connection carries every call: a call appends its encoded
command to the connection's outgoing buffer and a future to a FIFO; the buffer is written once at the end of
the event-loop turn, so the commands of every request that reached the limiter in that turn go to Redis in
one write (and their replies come back in one read), without any request waiting for another. Redis answers
a connection's commands in order, so the n-th reply belongs to the n-th future: each call still gets its own
reply to its own command, and each script still runs atomically on its own (pipelining changes how commands
travel, not what they do).

Replies are parsed by hiredis (redis-py's own C parser). A call inside a recording span (tracing on, the
request sampled) gets a CLIENT span of its own, as redis-py's calls do, never made current
(`tracecontext.client_call`: a Redis call starts no span of its own, and making it current cost a quarter
of the span in a microbenchmark). Connection loss fails every pending call with `redis.ConnectionError` and
the next call reconnects; `reset()` drops the connection on purpose (after a timeout, when the replies
still owed can no longer be trusted to come).
"""

from __future__ import annotations

import asyncio
import collections
import functools
import ssl
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import unquote, urlsplit

import hiredis
import redis.exceptions
from opentelemetry import trace

from neuroedge_queue import currentspan, tracecontext

Arg = str | bytes | int


@functools.cache
def _tracer() -> trace.Tracer:
    """The tracer of this client's spans (asked for only once a call is traced, so the SDK is installed)."""
    return trace.get_tracer(__name__)


@dataclass(frozen=True)
class Endpoint:
    """Where and as whom to connect, parsed once from a `redis://` or `rediss://` URL."""

    host: str
    port: int
    username: str | None
    password: str | None
    db: int
    tls: bool


def parse_url(url: str) -> Endpoint:
    """The endpoint of `redis://[[user]:password@]host[:port][/db]` (`rediss://` for TLS)."""
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss"):
        raise ValueError(f"not a redis:// or rediss:// URL: {parts.scheme}://")
    path = parts.path.strip("/")
    return Endpoint(
        host=parts.hostname or "localhost",
        port=parts.port or 6379,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
        db=int(path) if path else 0,
        tls=parts.scheme == "rediss",
    )


def encode(args: tuple[Arg, ...]) -> bytes:
    """One command as a RESP array of bulk strings."""
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        raw = arg if isinstance(arg, bytes) else str(arg).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(raw), raw))
    return b"".join(out)


@functools.lru_cache(maxsize=4096)
def _evalsha(sha: str, keys: tuple[str, ...], args: tuple[Arg, ...]) -> bytes:
    """`EVALSHA sha len(keys) *keys *args`, encoded: about 3 us for the rate limiter's eleven arguments, which
    repeat for every request of an access token (a bounded cache: a few hundred bytes per entry)."""
    return encode(("EVALSHA", sha, len(keys), *keys, *args))


def handshake(endpoint: Endpoint) -> list[tuple[Arg, ...]]:
    """The commands a new connection sends before any other: AUTH when the URL has a password, SELECT when it
    names a database other than 0."""
    commands: list[tuple[Arg, ...]] = []
    if endpoint.password is not None:
        if endpoint.username:
            commands.append(("AUTH", endpoint.username, endpoint.password))
        else:
            commands.append(("AUTH", endpoint.password))
    if endpoint.db:
        commands.append(("SELECT", endpoint.db))
    return commands


class _Protocol(asyncio.Protocol):
    """One connection: writes batched per event-loop turn, replies matched to calls in order."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._reader = hiredis.Reader(replyError=redis.exceptions.ResponseError)
        self._waiting: collections.deque[asyncio.Future[Any]] = collections.deque()
        self._outgoing: list[bytes] = []
        self._transport: asyncio.Transport | None = None
        self.lost: Exception | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream transport (uvloop's is not a subclass of asyncio.Transport, so no isinstance check).
        self._transport = cast(asyncio.Transport, transport)

    def call(self, command: bytes) -> asyncio.Future[Any]:
        """Queue `command`; the future gets its reply (a ResponseError reply is set as the exception)."""
        if self.lost is not None:
            raise redis.exceptions.ConnectionError(f"Redis connection lost: {self.lost}")
        future = self._loop.create_future()
        self._waiting.append(future)
        if not self._outgoing:
            self._loop.call_soon(self._flush)
        self._outgoing.append(command)
        return future

    def _flush(self) -> None:
        if self._transport is not None and self._outgoing and self.lost is None:
            self._transport.write(b"".join(self._outgoing))
        self._outgoing = []

    def data_received(self, data: bytes) -> None:
        self._reader.feed(data)
        while (reply := self._reader.gets()) is not False:
            if not self._waiting:  # a reply to nothing: the stream cannot be trusted any more
                self._fail(redis.exceptions.ConnectionError("Redis sent a reply nobody asked for"))
                return
            future = self._waiting.popleft()
            if future.done():  # its caller gave up (a timeout); the reply is dropped
                continue
            if isinstance(reply, redis.exceptions.ResponseError):
                future.set_exception(reply)
            else:
                future.set_result(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(redis.exceptions.ConnectionError(f"Redis closed the connection: {exc or 'EOF'}"))

    def _fail(self, error: redis.exceptions.ConnectionError) -> None:
        if self.lost is None:
            self.lost = error
        while self._waiting:
            future = self._waiting.popleft()
            if not future.done():
                future.set_exception(error)
        if self._transport is not None:
            self._transport.close()

    def close(self) -> None:
        self._fail(redis.exceptions.ConnectionError("connection reset by the client"))


class Client:
    """Commands over one pipelining connection, opened on first use and again after it was lost."""

    def __init__(self, url: str, connect_timeout: float = 5.0) -> None:
        self._endpoint = parse_url(url)
        self._connect_timeout = connect_timeout
        self._protocol: _Protocol | None = None
        self._connecting: asyncio.Lock | None = None

    async def execute(self, *args: Arg) -> Any:
        """Send one command and return its reply (`redis.ResponseError` for an error reply,
        `redis.ConnectionError` when the connection fails)."""
        return await self._send(str(args[0]), encode(args))

    async def _send(self, command: str, encoded: bytes) -> Any:
        if currentspan.recording() is not None:  # tracing on and this request sampled
            name = command.upper()
            attributes = {"db.system": "redis", "db.operation.name": name}
            return await tracecontext.client_call(_tracer(), name, attributes, self._call(encoded))
        return await self._call(encoded)

    async def _call(self, encoded: bytes) -> Any:
        protocol = self._protocol
        if protocol is None or protocol.lost is not None:
            protocol = await self._connect()
        return await protocol.call(encoded)

    async def evalsha(self, sha: str, script: str, keys: tuple[str, ...], args: tuple[Arg, ...]) -> Any:
        """Run a Lua script by its SHA1, sending its text only when Redis does not know it yet (NOSCRIPT).
        The command's encoding is remembered (`_evalsha`): a script called again and again with the same keys
        and arguments (the rate limiter's, once per request of the same access token) is encoded once."""
        try:
            return await self._send("EVALSHA", _evalsha(sha, keys, args))
        except redis.exceptions.ResponseError as exc:
            if not str(exc).startswith("NOSCRIPT"):
                raise
            return await self.execute("EVAL", script, len(keys), *keys, *args)

    async def _connect(self) -> _Protocol:
        if self._connecting is None:
            self._connecting = asyncio.Lock()
        async with self._connecting:  # one connection, however many calls wait for it
            if self._protocol is not None and self._protocol.lost is None:
                return self._protocol
            loop = asyncio.get_running_loop()
            endpoint = self._endpoint
            protocol = _Protocol(loop)
            try:
                async with asyncio.timeout(self._connect_timeout):
                    await loop.create_connection(
                        lambda: protocol,
                        endpoint.host,
                        endpoint.port,
                        ssl=ssl.create_default_context() if endpoint.tls else None,
                    )
                    for command in handshake(endpoint):
                        await protocol.call(encode(command))
            except (OSError, TimeoutError, redis.exceptions.RedisError) as exc:
                protocol.close()
                raise redis.exceptions.ConnectionError(
                    f"cannot connect to Redis at {endpoint.host}:{endpoint.port}: {exc or type(exc).__name__}"
                ) from None
            self._protocol = protocol
            return protocol

    def reset(self) -> None:
        """Drop the connection (its pending calls fail); the next call opens a new one."""
        if self._protocol is not None:
            self._protocol.close()
            self._protocol = None

    async def aclose(self) -> None:
        """Close the connection."""
        self.reset()
