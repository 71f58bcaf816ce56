"""An Engine's model as its registry row carries it (`engines.model`: `spec.model` with `spec.batching` under
`batching`, written by the Engine reconciler), parsed at the edge into a typed model."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import pydantic
from pydantic import Field

from neuroedge_runtime.serving.batcher import BatchingSettings

SHA256 = re.compile(r"^[0-9a-f]{64}$")
SCHEMES = ("http", "https", "pvc", "configmap")


class Batching(pydantic.BaseModel):
    """Dynamic batching of one model."""

    model_config = pydantic.ConfigDict(extra="forbid", populate_by_name=True, frozen=True)
    max_batch_size: Annotated[int, Field(ge=1, le=65_536, alias="maxBatchSize")]
    max_delay_milliseconds: Annotated[float, Field(ge=0, le=10_000, alias="maxDelayMilliseconds")] = 5.0

    def settings(self) -> BatchingSettings:
        """The batcher's settings."""
        return BatchingSettings(self.max_batch_size, self.max_delay_milliseconds / 1000)


class ModelSpec(pydantic.BaseModel):
    """Where the model is, its digest, its format and how to batch it."""

    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)
    uri: Annotated[str, Field(min_length=1, max_length=2048)]
    sha256: str | None = None
    format: Literal["onnx"] = "onnx"
    batching: Batching | None = None

    @pydantic.field_validator("uri")
    @classmethod
    def _scheme(cls, uri: str) -> str:
        scheme = urlsplit(uri).scheme
        if scheme not in SCHEMES:
            raise ValueError(f"the scheme of the model URI must be one of {', '.join(SCHEMES)}")
        return uri

    @pydantic.field_validator("sha256")
    @classmethod
    def _digest(cls, digest: str | None) -> str | None:
        if digest is not None and not SHA256.match(digest):
            raise ValueError("sha256 must be 64 lowercase hexadecimal digits")
        return digest

    @pydantic.model_validator(mode="after")
    def _pinned(self) -> ModelSpec:
        if urlsplit(self.uri).scheme in ("http", "https") and self.sha256 is None:
            raise ValueError("a model downloaded over http(s) needs its sha256")
        return self


def parse(document: Any) -> ModelSpec:
    """The spec of a registry row's `model` JSON (pydantic.ValidationError says what is wrong)."""
    return ModelSpec.model_validate(document)
