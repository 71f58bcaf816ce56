"""An external OpenAI-compatible embedding provider (OpenAI, TEI, vLLM, llama.cpp's server, ...): the only
module that calls one.

`base_url` is the API root as OpenAI's clients take it (`https://api.openai.com/v1`): requests go to
`<base_url>/embeddings`. Vectors are asked for as float lists (every compatible server supports that; base64
is optional in several) and re-normalised here, so that scores mean the same as with the built-in model.
"""

from __future__ import annotations

import functools
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from neuroedge_runtime import spans
from neuroedge_runtime.embeddings import codecs
from neuroedge_runtime.embeddings.model import Encoded, normalise
from neuroedge_runtime.embeddings.providers import EmbeddingError

MAX_BATCH = 256
"""Texts per upstream request (servers limit it: OpenAI 2048, TEI 32 by default, ...; smaller is safer)."""


class OpenAIEmbedder:
    """One model of one OpenAI-compatible server, called through the process's shared HTTP session."""

    truncatable = False

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        model_id: str,
        dimension: int,
        api_key: str | None = None,
        *,
        timeout: float = 30.0,
    ) -> None:
        self._session = session
        self._url = base_url.rstrip("/") + "/embeddings"
        self.model_id = model_id
        self.dimension = dimension
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    async def embed(self, texts: list[str]) -> Encoded:
        """Vectors of `texts` from the server, in order (batched by MAX_BATCH)."""
        import numpy as np  # noqa: PLC0415 - numpy is loaded on first use, not at start-up

        parts = [texts[i : i + MAX_BATCH] for i in range(0, len(texts), MAX_BATCH)]
        results = [await self._call(part) for part in parts]
        if not results:
            return Encoded(np.zeros((0, self.dimension), dtype=np.float32), [])
        vectors = np.vstack([r.vectors for r in results])
        return Encoded(vectors, [t for r in results for t in r.tokens])

    async def _call(self, texts: list[str]) -> Encoded:
        with spans.client(f"embeddings {self.model_id}", functools.partial(self._attributes, len(texts))):
            return await self._post(texts)

    def _attributes(self, count: int) -> spans.Attributes:
        """The upstream call's span attributes (OpenTelemetry's GenAI and HTTP conventions)."""
        parts = urlsplit(self._url)
        return {
            "gen_ai.operation.name": "embeddings",
            "gen_ai.request.model": self.model_id,
            "server.address": parts.hostname or "",
            "http.request.method": "POST",
            "neuroedge.embeddings.inputs": count,
        }

    async def _post(self, texts: list[str]) -> Encoded:
        body = {"model": self.model_id, "input": texts, "encoding_format": "float"}
        try:
            async with self._session.post(
                self._url, json=body, headers=self._headers, timeout=self._timeout
            ) as response:
                if response.status != 200:
                    reason = await _reason(response)
                    raise EmbeddingError(
                        f"embedding provider {self._url} answered {response.status}: {reason}"
                    )
                doc = await response.json(content_type=None)
        except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
            raise EmbeddingError(
                f"embedding provider {self._url} failed: {type(exc).__name__} {exc}"
            ) from None
        return _parse(doc, len(texts), self._url)


async def _reason(response: aiohttp.ClientResponse) -> str:
    text = await response.text(errors="replace")
    try:
        doc = await response.json(content_type=None)
        message = doc["error"]["message"] if isinstance(doc.get("error"), dict) else doc.get("error")
        return str(message or text)[:300]
    except (ValueError, AttributeError, KeyError, TypeError):
        return text[:300]


def _parse(doc: Any, count: int, url: str) -> Encoded:
    """The vectors of an OpenAI embeddings response, ordered by `index` (pure)."""
    import numpy as np  # noqa: PLC0415 - numpy is loaded on first use, not at start-up

    try:
        data = sorted(doc["data"], key=lambda item: int(item["index"]))
        rows = [
            codecs.decode_base64(item["embedding"])
            if isinstance(item["embedding"], str)
            else item["embedding"]
            for item in data
        ]
        vectors = np.array(rows, dtype=np.float32)
    except (KeyError, TypeError, ValueError) as exc:
        raise EmbeddingError(f"embedding provider {url} answered an unexpected body: {exc}") from None
    if vectors.ndim != 2 or vectors.shape[0] != count or not np.isfinite(vectors).all():
        raise EmbeddingError(f"embedding provider {url} answered {len(rows)} vectors for {count} texts")
    usage = doc.get("usage") or {}
    tokens = [0] * count
    if count:
        tokens[0] = int(usage.get("prompt_tokens") or 0)
    return Encoded(normalise(vectors), tokens)
