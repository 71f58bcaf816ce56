"""Model artifacts fetched from a loopback HTTP server and from mounted files: digest checked before anything
is kept, size cap, content-addressed cache (a second fetch does not download), and each failure's reason."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from neuroedge_runtime.serving import artifacts, spec

DATA = b"model bytes " * 100
DIGEST = hashlib.sha256(DATA).hexdigest()


@pytest.fixture
async def server() -> AsyncIterator[tuple[str, dict[str, int]]]:
    hits: dict[str, int] = {}

    async def model(request: web.Request) -> web.StreamResponse:
        hits[request.path] = hits.get(request.path, 0) + 1
        if request.path == "/chunked.onnx":  # no Content-Length: the cap applies while streaming
            response = web.StreamResponse()
            await response.prepare(request)
            for _ in range(10):
                await response.write(DATA)
            await response.write_eof()
            return response
        if request.path != "/m.onnx":
            raise web.HTTPNotFound()
        return web.Response(body=DATA)

    app = web.Application()
    app.router.add_get("/{name}", model)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}", hits
    await runner.cleanup()


async def fetch(tmp_path: Path, uri: str, sha256: str | None, max_bytes: int = 1 << 20) -> artifacts.Artifact:
    locations = artifacts.Locations(tmp_path / "cache", tmp_path / "mounts", max_bytes, timeout_seconds=5)
    async with aiohttp.ClientSession() as session:
        return await artifacts.Fetcher(session, locations).fetch(spec.ModelSpec(uri=uri, sha256=sha256))


async def test_download_is_verified_cached_and_not_fetched_again(
    tmp_path: Path, server: tuple[str, dict[str, int]]
) -> None:
    base, hits = server
    for _ in range(2):
        found = await fetch(tmp_path, f"{base}/m.onnx", DIGEST)
        assert found.data == DATA and found.digest == DIGEST
    assert hits == {"/m.onnx": 1}
    assert (tmp_path / "cache" / f"{DIGEST}.onnx").read_bytes() == DATA


@pytest.mark.parametrize(
    ("path", "digest", "max_bytes", "reason"),
    [
        ("/m.onnx", "0" * 64, 1 << 20, "DigestMismatch"),
        ("/gone.onnx", DIGEST, 1 << 20, "Unreachable"),
        ("/m.onnx", DIGEST, 100, "TooLarge"),
        ("/chunked.onnx", DIGEST, len(DATA) * 5, "TooLarge"),
    ],
)
async def test_failures_have_their_reason_and_leave_nothing_in_the_cache(
    tmp_path: Path, server: tuple[str, dict[str, int]], path: str, digest: str, max_bytes: int, reason: str
) -> None:
    base, _hits = server
    with pytest.raises(artifacts.ArtifactError) as caught:
        await fetch(tmp_path, f"{base}{path}", digest, max_bytes)
    assert caught.value.reason == reason
    cache = tmp_path / "cache"
    assert not cache.exists() or not any(cache.iterdir())


async def test_nothing_listening_is_unreachable(tmp_path: Path) -> None:
    with pytest.raises(artifacts.ArtifactError) as caught:
        await fetch(tmp_path, "http://127.0.0.1:9/m.onnx", DIGEST)
    assert caught.value.reason == "Unreachable"


async def test_mounted_files_are_read_verified_and_capped(tmp_path: Path) -> None:
    path = tmp_path / "mounts" / "pvc" / "claim" / "dir" / "m.onnx"
    path.parent.mkdir(parents=True)
    path.write_bytes(DATA)
    assert (await fetch(tmp_path, "pvc://claim/dir/m.onnx", None)).digest == DIGEST
    with pytest.raises(artifacts.ArtifactError, match="sha256") as caught:
        await fetch(tmp_path, "pvc://claim/dir/m.onnx", "0" * 64)
    assert caught.value.reason == "DigestMismatch"
    with pytest.raises(artifacts.ArtifactError) as caught:
        await fetch(tmp_path, "pvc://claim/dir/m.onnx", None, max_bytes=10)
    assert caught.value.reason == "TooLarge"
    with pytest.raises(artifacts.ArtifactError) as caught:
        await fetch(tmp_path, "configmap://cm/absent.onnx", None)
    assert caught.value.reason == "Unreachable"
