"""A plain-HTTP loopback proxy in front of the test API server that counts one client's requests by verb.

The client (an operator process) gets a kubeconfig pointing at the proxy, without credentials; the proxy
forwards every request over TLS with the admin identity and streams the answers back (watches included).
The API server's own metrics cannot tell one client from another; this can. It runs its own event loop in
a thread, so tests that block on kubectl do not stall it.
"""

from __future__ import annotations

import asyncio
import base64
import ssl
import tempfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from aiohttp import web

HOP_HEADERS = {"host", "content-length", "transfer-encoding", "connection", "keep-alive"}


def _write(directory: Path, name: str, data: str) -> str:
    path = directory / name
    path.write_bytes(base64.b64decode(data))
    path.chmod(0o600)
    return str(path)


class CountingProxy:
    """`kubeconfig` for the counted client; `requests` holds (monotonic time, verb, path, watch?) rows."""

    def __init__(self, admin_kubeconfig: Path) -> None:
        document: dict[str, Any] = yaml.safe_load(admin_kubeconfig.read_text())
        self._dir = Path(tempfile.mkdtemp(prefix="kube-proxy-"))
        cluster, user = document["clusters"][0]["cluster"], document["users"][0]["user"]
        self._upstream = cluster["server"].rstrip("/")
        context = ssl.create_default_context(
            cafile=_write(self._dir, "ca.crt", cluster["certificate-authority-data"])
        )
        context.load_cert_chain(
            _write(self._dir, "client.crt", user["client-certificate-data"]),
            _write(self._dir, "client.key", user["client-key-data"]),
        )
        self._ssl = context
        self.requests: list[tuple[float, str, str, bool]] = []
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self.port = 0
        started = threading.Event()
        threading.Thread(target=self._run, args=(started,), daemon=True).start()
        started.wait(10)
        self.kubeconfig = self._dir / "kubeconfig"
        self.kubeconfig.write_text(
            yaml.safe_dump(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "clusters": [{"name": "proxy", "cluster": {"server": f"http://127.0.0.1:{self.port}"}}],
                    "users": [{"name": "proxy", "user": {}}],
                    "contexts": [{"name": "proxy", "context": {"cluster": "proxy", "user": "proxy"}}],
                    "current-context": "proxy",
                }
            )
        )

    def _run(self, started: threading.Event) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._forward)
        runner = web.AppRunner(app, access_log=None)
        self._loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", 0)
        self._loop.run_until_complete(site.start())
        self.port = runner.addresses[0][1]
        self._session = self._loop.run_until_complete(self._open_session())
        started.set()
        self._loop.run_forever()

    async def _open_session(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(ssl=self._ssl, limit=0)
        return aiohttp.ClientSession(
            connector=connector, timeout=aiohttp.ClientTimeout(total=None), auto_decompress=False
        )

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        watch = request.query.get("watch") in ("true", "1")
        with self._lock:
            self.requests.append((time.monotonic(), request.method, request.path, watch))
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_HEADERS}
        body = await request.read()
        async with self._session.request(
            request.method, self._upstream + request.path_qs, data=body or None, headers=headers
        ) as upstream:
            response = web.StreamResponse(
                status=upstream.status,
                headers={k: v for k, v in upstream.headers.items() if k.lower() not in HOP_HEADERS},
            )
            await response.prepare(request)
            async for chunk in upstream.content.iter_any():
                await response.write(chunk)
            await response.write_eof()
            return response

    def count(self, since: float, until: float | None = None) -> Mapping[str, int]:
        """Non-watch requests by verb (GET, PUT, PATCH, ...) in [since, until)."""
        end = until if until is not None else time.monotonic()
        counts: dict[str, int] = {}
        with self._lock:
            for at, method, _path, watch in self.requests:
                if since <= at < end and not watch:
                    counts[method] = counts.get(method, 0) + 1
        return counts

    def paths(self, since: float, method: str = "GET") -> list[str]:
        with self._lock:
            return [p for at, m, p, watch in self.requests if at >= since and m == method and not watch]
