"""OpenAI-compatible `POST /v1/embeddings`, `GET /v1/models` and `GET /v1/models/{model_id}`.

The adapter parses OpenAI's request, asks the embedder for vectors and renders OpenAI's response; the model
never sees HTTP. Errors use OpenAI's shape (`serving.openai_errors`).
"""

from __future__ import annotations

import json
from typing import Annotated, Literal

from aiohttp import web
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

from neuroedge_runtime import bodies, keys
from neuroedge_runtime.embeddings import codecs, providers
from neuroedge_runtime.embeddings import model as builtin_model
from neuroedge_runtime.serving import models_catalog
from neuroedge_runtime.serving.openai_errors import OpenAIError

MAX_INPUTS = 2048
"""Most texts in one request (as OpenAI)."""
MODEL_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"
"""A model id in a path (no slash: one path segment)."""


def _check_input(value: object) -> object:
    """One message per mistake (a plain union would report every branch's error)."""
    if isinstance(value, str):
        if not value:
            raise ValueError("input must not be an empty string")
        return value
    if not isinstance(value, list):
        raise ValueError("input must be a string or a list of strings")
    if not value:
        raise ValueError("input must contain at least 1 item")
    if len(value) > MAX_INPUTS:
        raise ValueError(f"input must contain at most {MAX_INPUTS} items")
    for position, item in enumerate(value):
        if not isinstance(item, str):
            raise ValueError(f"input[{position}] must be a string (token-id arrays are not supported)")
        if not item:
            raise ValueError(f"input[{position}] must not be an empty string")
    return value


class EmbeddingsRequest(BaseModel):
    """OpenAI's embeddings request (texts only: token-id arrays are refused)."""

    model_config = ConfigDict(extra="forbid")
    input: Annotated[str | list[str], BeforeValidator(_check_input)]
    model: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: Annotated[int, Field(ge=1)] | None = None
    user: Annotated[str, StringConstraints(max_length=256)] | None = None


class Embedding(BaseModel):
    """One input's vector."""

    object: Literal["embedding"] = "embedding"
    index: int
    embedding: list[float] | str


class Usage(BaseModel):
    """Tokens read."""

    prompt_tokens: int
    total_tokens: int


class EmbeddingsResponse(BaseModel):
    """OpenAI's embeddings response."""

    object: Literal["list"] = "list"
    data: list[Embedding]
    model: str
    usage: Usage


def _embedder(request: web.Request, model_id: str) -> providers.Embedder:
    embedder = request.app[keys.EMBEDDERS].get(model_id)
    if embedder is None:
        raise OpenAIError(
            404,
            f"The model '{model_id}' does not exist or is not an embedding model",
            param="model",
            code="model_not_found",
        )
    return embedder


def _check_dimensions(body: EmbeddingsRequest, embedder: providers.Embedder) -> int:
    if body.dimensions is None:
        return embedder.dimension
    if not embedder.truncatable and body.dimensions != embedder.dimension:
        raise OpenAIError(400, f"{embedder.model_id} does not support 'dimensions'", param="dimensions")
    if body.dimensions > embedder.dimension:
        raise OpenAIError(
            400,
            f"'dimensions' must be at most {embedder.dimension} for {embedder.model_id}",
            param="dimensions",
        )
    return body.dimensions


def _check_lengths(tokens: list[int]) -> None:
    for position, count in enumerate(tokens):
        if count > builtin_model.MAX_TOKENS:
            raise OpenAIError(
                400,
                f"input {position} has {count} tokens; this model reads at most {builtin_model.MAX_TOKENS}",
                param="input",
                code="context_length_exceeded",
            )


def _render(body: EmbeddingsRequest, encoded: builtin_model.Encoded, dimensions: int) -> web.Response:
    vectors = builtin_model.truncate(encoded.vectors, dimensions)
    rows = codecs.encode_rows(vectors, body.encoding_format)
    used = sum(encoded.tokens)
    doc = {
        "object": "list",
        "data": [{"object": "embedding", "index": i, "embedding": row} for i, row in enumerate(rows)],
        "model": body.model,
        "usage": {"prompt_tokens": used, "total_tokens": used},
    }
    return web.Response(text=json.dumps(doc), content_type="application/json")


async def create_embeddings(request: web.Request) -> web.Response:
    """Embed one text or a list of texts."""
    body = await bodies.parse_json(request, EmbeddingsRequest)
    embedder = _embedder(request, body.model)
    dimensions = _check_dimensions(body, embedder)
    texts = [body.input] if isinstance(body.input, str) else body.input
    try:
        encoded = await embedder.embed(texts)
    except providers.EmbeddingError as exc:
        raise OpenAIError(502, str(exc), type_="api_error", code="upstream_error") from None
    _check_lengths(encoded.tokens)
    return _render(body, encoded, dimensions)


async def list_models(request: web.Request) -> web.Response:
    """The models the caller's tenant can use."""
    cards = await models_catalog.gather(request.app[keys.MODEL_SOURCES], request[keys.PRINCIPAL].tenant)
    return bodies.json_response(models_catalog.ModelList(data=cards))


async def get_model(request: web.Request) -> web.Response:
    """One model by id; OpenAI's 404 `model_not_found` for any other."""
    model_id = request.match_info["model_id"]
    cards = await models_catalog.gather(request.app[keys.MODEL_SOURCES], request[keys.PRINCIPAL].tenant)
    for card in cards:
        if card.id == model_id:
            return bodies.json_response(card)
    raise OpenAIError(404, f"The model '{model_id}' does not exist", param="model", code="model_not_found")
