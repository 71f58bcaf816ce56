"""`spec.llm` of an Engine: parsed and validated, its API-key Secrets checked, and written into the registry
row (keys resolved) but never into the ConfigMap."""

from __future__ import annotations

import dataclasses
import json

import pytest
import workload_samples as samples

from neuroedge_operator.builders import engine as engine_builder
from neuroedge_operator.plan import references
from neuroedge_operator.resources import tenant as tenant_model
from neuroedge_operator.resources import workload

LLM = {
    "baseURL": "http://llama.acme:8080/v1",
    "model": "gemma",
    "apiKeySecretRef": {"name": "llm-keys", "key": "primary"},
    "maxTokens": 256,
    "fallbacks": [
        {
            "baseURL": "https://api.example.com/v1",
            "model": "big",
            "apiKeySecretRef": {"name": "llm-keys", "key": "backup"},
        }
    ],
}
NAMES = references.ObservedNames(
    worker_pools={"general"},
    secrets={"support-model", "neuroedge-tenant-credentials", "llm-keys"},
    secret_keys={"llm-keys": ("primary", "backup")},
)


def test_llm_is_parsed_with_defaults() -> None:
    engine = samples.engine(llm=LLM)
    assert engine.spec.llm is not None
    assert engine.spec.llm.timeout_seconds == 60 and engine.spec.llm.max_tokens == 256
    assert [path for path, _ in engine.spec.llm.secret_refs()] == [
        "spec.llm.apiKeySecretRef",
        "spec.llm.fallbacks[0].apiKeySecretRef",
    ]


def test_llm_only_on_conversation_and_agent_engines() -> None:
    samples.engine(type="agent", llm=LLM)
    with pytest.raises(workload.InvalidResourceError, match="only for conversation and agent"):
        samples.engine(type="predictive", llm=LLM)


def test_missing_secret_and_missing_key_are_named() -> None:
    engine = samples.engine(llm=LLM)
    assert references.engine_missing(engine, NAMES) == []
    no_secret = dataclasses.replace(NAMES, secrets={"support-model", "neuroedge-tenant-credentials"})
    assert [m.message for m in references.engine_missing(engine, no_secret)] == [
        "Secret 'llm-keys' (spec.llm.apiKeySecretRef) does not exist",
        "Secret 'llm-keys' (spec.llm.fallbacks[0].apiKeySecretRef) does not exist",
    ]
    no_key = dataclasses.replace(NAMES, secret_keys={"llm-keys": ("primary",)})
    assert [m.message for m in references.engine_missing(engine, no_key)] == [
        "key 'llm-keys/backup' (spec.llm.fallbacks[0].apiKeySecretRef) does not exist"
    ]


def test_registry_config_carries_the_resolved_keys_and_the_configmap_none() -> None:
    engine = samples.engine(llm=LLM)
    keys = {("llm-keys", "primary"): "sk-1", ("llm-keys", "backup"): "sk-2"}
    config = engine_builder.registry_config(engine, {}, keys)
    llm = json.loads(config["llm"])
    assert llm["apiKey"] == "sk-1" and llm["fallbacks"][0]["apiKey"] == "sk-2"
    assert llm["baseURL"] == LLM["baseURL"] and llm["maxTokens"] == 256 and "apiKeySecretRef" not in llm
    assert "llm" not in engine_builder.effective_config(engine, {})
    assert "sk-1" not in json.dumps(
        engine_builder.config_map(engine, engine_builder.EngineInputs("acme", "runtime:1", {}))
    )


def test_engine_without_llm_has_no_llm_key() -> None:
    engine = samples.engine()
    assert "llm" not in engine_builder.registry_config(engine, {}, {})


def test_tenant_llm_budget() -> None:
    spec = tenant_model.TenantSpec.model_validate({"llmBudget": {"tokensPerMinute": 10, "tokensPerDay": 100}})
    assert (spec.llm_budget.tokens_per_minute, spec.llm_budget.tokens_per_day) == (10, 100)
    assert tenant_model.TenantSpec.model_validate({}).llm_budget.tokens_per_day is None
    with pytest.raises(ValueError, match="cannot exceed"):
        tenant_model.TenantSpec.model_validate({"llmBudget": {"tokensPerMinute": 1000, "tokensPerDay": 100}})
