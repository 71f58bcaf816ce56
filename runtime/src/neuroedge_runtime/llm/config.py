"""An LLM Engine's upstream settings, as the Engine reconciler writes them into the registry row's config.

`spec.llm` of a conversation or agent Engine arrives in the registry config under the key `llm` as JSON text
(Engine configs are string maps); the operator has already resolved `apiKeySecretRef` into `apiKey`, so the
runtime never reads Kubernetes. Parsed once per request here, at the edge of the gateway.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pydantic

LLM_KEY = "llm"
LLM_KINDS = frozenset({"conversation", "agent"})


class Upstream(pydantic.BaseModel):
    """One OpenAI-compatible server and the model to ask it for."""

    model_config = pydantic.ConfigDict(extra="ignore", populate_by_name=True, frozen=True)
    base_url: pydantic.AnyHttpUrl = pydantic.Field(alias="baseURL")
    model: str = pydantic.Field(min_length=1, max_length=256)
    api_key: str | None = pydantic.Field(default=None, alias="apiKey", repr=False)

    def url(self, path: str) -> str:
        """`path` under the base URL (`.../v1` + `/chat/completions`)."""
        return str(self.base_url).rstrip("/") + path


class LLMConfig(pydantic.BaseModel):
    """`spec.llm`: the primary upstream, its limits and the fallbacks tried in order when it fails."""

    model_config = pydantic.ConfigDict(extra="ignore", populate_by_name=True, frozen=True)
    base_url: pydantic.AnyHttpUrl = pydantic.Field(alias="baseURL")
    model: str = pydantic.Field(min_length=1, max_length=256)
    api_key: str | None = pydantic.Field(default=None, alias="apiKey", repr=False)
    timeout_seconds: float = pydantic.Field(default=60.0, gt=0, le=3600, alias="timeoutSeconds")
    max_tokens: int = pydantic.Field(default=512, ge=1, le=1_000_000, alias="maxTokens")
    temperature: float | None = pydantic.Field(default=None, ge=0, le=2)
    fallbacks: tuple[Upstream, ...] = ()

    def upstreams(self) -> tuple[Upstream, ...]:
        """The primary upstream then the fallbacks, in the order they are tried."""
        primary = Upstream.model_validate(
            {"baseURL": self.base_url, "model": self.model, "apiKey": self.api_key}
        )
        return (primary, *self.fallbacks)


class NotAnLLMEngine(ValueError):  # noqa: N818 - reads better at call sites
    """The Engine exists but has no usable `spec.llm`."""


def from_engine(kind: str, config: Mapping[str, Any]) -> LLMConfig:
    """The LLM settings of an Engine registry row, or NotAnLLMEngine saying why there are none."""
    if kind not in LLM_KINDS:
        raise NotAnLLMEngine(f"engines of kind {kind} have no LLM")
    raw = config.get(LLM_KEY)
    if raw is None:
        raise NotAnLLMEngine("the engine has no spec.llm")
    try:
        data = json.loads(raw) if isinstance(raw, str) else raw
        return LLMConfig.model_validate(data)
    except (json.JSONDecodeError, pydantic.ValidationError) as exc:
        raise NotAnLLMEngine(f"the engine's spec.llm is not usable: {exc}") from None


def is_llm_engine(kind: str, config: Mapping[str, Any]) -> bool:
    return kind in LLM_KINDS and LLM_KEY in config
