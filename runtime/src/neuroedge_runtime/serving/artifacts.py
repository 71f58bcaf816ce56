"""Model artifacts: the bytes of a model, fetched by URI and checked against its digest.

- `http(s)://...`: downloaded with aiohttp into the local cache (`<cache>/<sha256>.onnx`, written under a
  temporary name and renamed only once the digest matched), refused beyond the size cap;
- `pvc://<claim>/<path>`: the claim mounted read-only at `<mounts>/pvc/<claim>`;
- `configmap://<name>/<key>`: the ConfigMap's binaryData mounted at `<mounts>/configmap/<name>`.

A model whose bytes do not match the declared sha256 is never returned. This is the only serving module that
touches the network or the file system.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

import aiohttp

from neuroedge_runtime import spans
from neuroedge_runtime.serving.spec import ModelSpec

CONFIGMAP_MAX_BYTES = 1024 * 1024


class ArtifactError(Exception):
    """The model could not be fetched; `reason` is the Engine status reason (CamelCase)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class Artifact:
    """A model's verified bytes and their digest."""

    data: bytes
    digest: str


@dataclass(frozen=True)
class Locations:
    """Where models live on this machine, and how large one may be."""

    cache_dir: Path
    mount_dir: Path
    max_bytes: int
    timeout_seconds: float = 60.0


def mounted_path(uri: str, mount_dir: Path) -> Path:
    """The file a pvc:// or configmap:// URI names under `mount_dir` (pure); ArtifactError for a URI that
    would leave its volume."""
    parts = urlsplit(uri)
    relative = PurePosixPath(unquote(parts.path).lstrip("/"))
    if not parts.netloc or not relative.parts or ".." in relative.parts or "." in relative.parts:
        raise ArtifactError("InvalidURI", f"{parts.scheme}:// URIs name <volume>/<path>, not {uri!r}")
    if parts.scheme == "configmap" and len(relative.parts) != 1:
        raise ArtifactError("InvalidURI", f"configmap://<name>/<key> names one key, not {uri!r}")
    return mount_dir / parts.scheme / parts.netloc / Path(*relative.parts)


def _verify(data: bytes, expected: str | None, source: str) -> Artifact:
    digest = hashlib.sha256(data).hexdigest()
    if expected is not None and digest != expected:
        raise ArtifactError("DigestMismatch", f"{source} has sha256 {digest}, the Engine declares {expected}")
    return Artifact(data, digest)


class Fetcher:
    """Fetches models; one per process (it holds the HTTP client session)."""

    def __init__(self, session: aiohttp.ClientSession, locations: Locations) -> None:
        self._session = session
        self._locations = locations

    async def fetch(self, spec: ModelSpec) -> Artifact:
        """The verified bytes of the model of `spec`."""
        scheme = urlsplit(spec.uri).scheme
        if scheme in ("http", "https"):
            return await self._download(spec.uri, str(spec.sha256))
        limit = CONFIGMAP_MAX_BYTES if scheme == "configmap" else self._locations.max_bytes
        path = mounted_path(spec.uri, self._locations.mount_dir)
        data = await asyncio.to_thread(_read, path, limit)
        return _verify(data, spec.sha256, spec.uri)

    async def _download(self, uri: str, sha256: str) -> Artifact:
        cached = self._locations.cache_dir / f"{sha256}.onnx"
        if cached.is_file():
            data = await asyncio.to_thread(cached.read_bytes)
            if hashlib.sha256(data).hexdigest() == sha256:
                return Artifact(data, sha256)
        data = await self._get(uri)
        artifact = _verify(data, sha256, uri)
        await asyncio.to_thread(_store, cached, data)
        return artifact

    async def _get(self, uri: str) -> bytes:
        with spans.client("download model", functools.partial(download_attributes, uri)) as span:
            data = await self._read(uri)
            spans.annotate(span, lambda: {"http.response.body.size": len(data)})
            return data

    async def _read(self, uri: str) -> bytes:
        limit = self._locations.max_bytes
        timeout = aiohttp.ClientTimeout(total=self._locations.timeout_seconds)
        try:
            async with self._session.get(uri, timeout=timeout) as response:
                if response.status != 200:
                    raise ArtifactError("Unreachable", f"GET {uri} answered HTTP {response.status}")
                if (response.content_length or 0) > limit:
                    raise _too_large(uri, limit)
                chunks: list[bytes] = []
                size = 0
                async for chunk in response.content.iter_chunked(1 << 16):
                    size += len(chunk)
                    if size > limit:
                        raise _too_large(uri, limit)
                    chunks.append(chunk)
                return b"".join(chunks)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ArtifactError("Unreachable", f"GET {uri} failed: {type(exc).__name__} {exc}") from None


def download_attributes(uri: str) -> spans.Attributes:
    """A model download's span attributes (the URL without credentials or query: either may be secret, a
    presigned URL's signature is in the query)."""
    parts = urlsplit(uri)
    return {
        "http.request.method": "GET",
        "server.address": parts.hostname or "",
        "url.full": parts._replace(netloc=parts.netloc.rpartition("@")[2], query="", fragment="").geturl(),
    }


def _too_large(source: str, limit: int) -> ArtifactError:
    return ArtifactError("TooLarge", f"{source} is larger than the {limit} byte limit")


def _read(path: Path, limit: int) -> bytes:
    try:
        size = path.stat().st_size
        if size > limit:
            raise _too_large(str(path), limit)
        return path.read_bytes()
    except FileNotFoundError:
        raise ArtifactError("Unreachable", f"{path} does not exist (is the volume mounted?)") from None
    except OSError as exc:
        raise ArtifactError("Unreachable", f"{path} cannot be read: {exc.strerror}") from None


def _store(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".download-")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
