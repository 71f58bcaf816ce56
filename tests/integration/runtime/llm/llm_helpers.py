"""Helpers of the LLM gateway tests: Engine configs and OpenAI clients of the runtime."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import openai
from aiohttp.test_utils import TestClient
from runtime_helpers import Tenant, login, openai_client


def llm_config(base_url: str, model: str = "tiny", **extra: Any) -> dict[str, str]:
    """An Engine registry config with `spec.llm` as the Engine reconciler writes it."""
    return {"llm": json.dumps({"baseURL": base_url, "model": model, **extra})}


@dataclass
class Caller:
    """A tenant with an admin token, and an OpenAI client of the runtime acting for it."""

    tenant: Tenant
    tokens: dict[str, Any]
    openai: openai.AsyncOpenAI


async def make_caller(client: TestClient[Any, Any], tenant: Tenant) -> Caller:
    tokens = await login(client, tenant)
    oai = openai_client(client, tokens["access_token"], max_retries=0, timeout=120)
    return Caller(tenant, tokens, oai)


def metric(text: str, name: str, **labels: str) -> float:
    """The value of sample `name` with exactly `labels` in a Prometheus text exposition (0 when absent)."""
    from prometheus_client.parser import text_string_to_metric_families  # noqa: PLC0415

    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
    return 0.0
