"""The VectorIndex resource as typed models, parsed from the raw body kopf hands us.

The CRD's schema and CEL rules already refuse most bad specs; parsing again here means an object that
slipped past them (an older CRD, a direct etcd write) becomes one clear `InvalidSpec` message, never a
half-made index.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import pydantic

GROUP = "neuroedge.io"
VERSION = "v1alpha1"
PLURAL = "vectorindexes"
KIND = "VectorIndex"
API_VERSION = f"{GROUP}/{VERSION}"
MAX_PGVECTOR_DIMENSION = 2000  # the CRD's CEL rule: pgvector's HNSW index covers no more
_NAME = re.compile(r"^[a-z]([a-z0-9-]*[a-z0-9])?$")
_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]{0,62}$")

Backend = Literal["qdrant", "pgvector"]
Distance = Literal["Cosine", "Dot", "Euclid"]
PayloadType = Literal["keyword", "integer", "float", "bool", "text", "datetime"]


class _Model(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(frozen=True, populate_by_name=True, extra="ignore")


class Hnsw(_Model):
    """Parameters of the HNSW index (mutable: a change rebuilds the index, the data stays)."""

    m: int = pydantic.Field(default=16, ge=2, le=100)
    ef_construct: int = pydantic.Field(default=100, ge=4, le=1000, alias="efConstruct")


class PayloadIndex(_Model):
    """One indexed payload field; dotted fields are nested keys."""

    field: str
    type: PayloadType

    @pydantic.field_validator("field")
    @classmethod
    def _field(cls, value: str) -> str:
        if not _FIELD.match(value) or ".." in value or value.endswith("."):
            raise ValueError(f"{value!r} is not a payload field (letters, digits, '_', dotted keys)")
        return value


BUILTIN_EMBEDDING_MODELS = {"wordllama-256": 256}
"""The runtime's built-in embedding models and the dimension of their vectors."""


class SecretKeyRef(_Model):
    """A key of a Secret in the VectorIndex's namespace."""

    name: str = pydantic.Field(min_length=1, max_length=253)
    key: str = pydantic.Field(min_length=1, max_length=253)


class Embedding(_Model):
    """The model that embeds the index's texts: built into the runtime, or any OpenAI-compatible server."""

    model: str = pydantic.Field(min_length=1, max_length=256)
    provider: Literal["builtin", "openai"] = "builtin"
    base_url: str | None = pydantic.Field(default=None, alias="baseURL", max_length=2048)
    api_key_secret_ref: SecretKeyRef | None = pydantic.Field(default=None, alias="apiKeySecretRef")

    @pydantic.model_validator(mode="after")
    def _consistent(self) -> Embedding:
        if self.provider == "openai":
            if not self.base_url or not re.match(r"^https?://[^\s/]+", self.base_url):
                raise ValueError("provider openai needs baseURL, an http(s) URL of the API root")
        elif self.base_url or self.api_key_secret_ref:
            raise ValueError("baseURL and apiKeySecretRef apply to provider openai only")
        elif self.model not in BUILTIN_EMBEDDING_MODELS:
            known = ", ".join(sorted(BUILTIN_EMBEDDING_MODELS))
            raise ValueError(f"the built-in embedding models are {known}, not {self.model!r}")
        return self


class VectorIndexSpec(_Model):
    """`spec` of a VectorIndex."""

    backend: Backend
    dimension: int = pydantic.Field(ge=1, le=16000)
    distance: Distance = "Cosine"
    hnsw: Hnsw = pydantic.Field(default_factory=Hnsw)
    on_disk: bool = pydantic.Field(default=False, alias="onDisk")
    payload_indexes: tuple[PayloadIndex, ...] = pydantic.Field(
        default=(), alias="payloadIndexes", max_length=32
    )
    reclaim_policy: Literal["Retain", "Delete"] = pydantic.Field(default="Retain", alias="reclaimPolicy")
    embedding: Embedding | None = None

    @pydantic.model_validator(mode="after")
    def _consistent(self) -> VectorIndexSpec:
        if self.backend == "pgvector" and self.dimension > MAX_PGVECTOR_DIMENSION:
            raise ValueError(f"backend pgvector supports at most {MAX_PGVECTOR_DIMENSION} dimensions")
        fields = [p.field for p in self.payload_indexes]
        if len(set(fields)) != len(fields):
            raise ValueError("payloadIndexes must name each field once")
        return self


@dataclass(frozen=True)
class VectorIndex:
    """A parsed VectorIndex: identity, generation and spec."""

    name: str
    namespace: str
    uid: str
    generation: int
    spec: VectorIndexSpec


def embedding_mismatch(spec: VectorIndexSpec) -> str | None:
    """Why the embedding model cannot fill this index (its vectors have another length), or None. Only the
    built-in models' dimensions are known here; an external model's vectors are checked by the runtime."""
    if spec.embedding is None or spec.embedding.provider != "builtin":
        return None
    made = BUILTIN_EMBEDDING_MODELS[spec.embedding.model]
    if made == spec.dimension:
        return None
    return (
        f"embedding model {spec.embedding.model} makes {made}-dimensional vectors "
        f"but spec.dimension is {spec.dimension}"
    )


class InvalidVectorIndexError(ValueError):
    """A VectorIndex the reconciler refuses to act on; the message is shown to the user as is."""


def parse(body: Mapping[str, Any]) -> VectorIndex:
    """A VectorIndex from its raw body; raises InvalidVectorIndexError naming every problem by field path."""
    meta = body.get("metadata", {})
    name = str(meta.get("name", ""))
    if len(name) > 40 or not _NAME.match(name):
        raise InvalidVectorIndexError(
            f"VectorIndex name {name!r} must be a DNS label of at most 40 characters"
        )
    try:
        spec = VectorIndexSpec.model_validate(body.get("spec") or {})
    except pydantic.ValidationError as exc:
        raise InvalidVectorIndexError("; ".join(_describe(error) for error in exc.errors())) from None
    return VectorIndex(
        name=name,
        namespace=str(meta.get("namespace", "")),
        uid=str(meta.get("uid", "")),
        generation=int(meta.get("generation") or 0),
        spec=spec,
    )


@dataclass(frozen=True)
class Departing:
    """What the finalizer needs of a VectorIndex being deleted, read even from a spec that no longer
    validates: identity, the backend as written (an unknown one is reported by name) and the policy."""

    name: str
    namespace: str
    backend: str
    reclaim_policy: Literal["Retain", "Delete"]


def parse_lenient(body: Mapping[str, Any]) -> Departing:
    """The VectorIndex's identity, backend and reclaim policy, never raising: the policy is Delete only when
    the spec says exactly that; anything else keeps the data (Retain), since dropping it cannot be undone."""
    meta = body.get("metadata") or {}
    raw = body.get("spec")
    spec: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
    backend = spec.get("backend")
    return Departing(
        name=str(meta.get("name", "")),
        namespace=str(meta.get("namespace") or ""),
        backend=backend if isinstance(backend, str) else "",
        reclaim_policy="Delete" if spec.get("reclaimPolicy") == "Delete" else "Retain",
    )


def _describe(error: Mapping[str, Any]) -> str:
    path = ".".join(str(part) for part in ("spec", *error.get("loc", ())))
    message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
    return f"{path}: {message}"
