"""Engine `spec.llm` and Tenant `spec.llmBudget` end to end: CRD validation, a missing API-key Secret or key
named on Ready=False, and once present the registry row the runtime's gateway reads (keys resolved there and
nowhere else), against the real control plane, operator and PostgreSQL."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import tenant_operator_process as operator_process
from operator_helpers import eventually, get, kubectl
from test_workloads_operator import apply, cond, operator, tenant, unique, wait_ready_cr

from neuroedge_dev import procs

pytestmark = pytest.mark.cluster
__all__ = ["operator", "tenant"]  # module fixtures reused from the workload tests


async def _llm_config(database_url: str, tenant: str, engine: str) -> dict[str, Any] | None:
    conn = await asyncpg.connect(database_url)
    try:
        row = await conn.fetchval(
            "SELECT config->>'llm' FROM neuroedge.engines WHERE tenant_id = $1 AND name = $2", tenant, engine
        )
    finally:
        await conn.close()
    return json.loads(row) if row else None


async def test_llm_engine_waits_for_its_api_keys_then_registers_them_in_the_registry_only(
    operator: operator_process.OperatorProcess, kubeconfig: Path, tenant: str, database_url: str
) -> None:
    ns, engine, secret = tenant, unique("llm"), unique("keys")
    kubectl(kubeconfig, "create", "secret", "generic", secret, "-n", ns, "--from-literal=primary=sk-test-1")
    spec = {
        "type": "conversation",
        "replicas": 1,
        "llm": {
            "baseURL": "http://llama.example:8080/v1",
            "model": "gemma",
            "apiKeySecretRef": {"name": secret, "key": "primary"},
            "fallbacks": [
                {
                    "baseURL": "http://big.example/v1",
                    "model": "big",
                    "apiKeySecretRef": {"name": secret, "key": "backup"},
                }
            ],
        },
    }
    apply(kubeconfig, "Engine", ns, engine, spec)
    await eventually(lambda: cond(kubeconfig, f"engine/{engine}", ns).get("reason") == "MissingReference")
    ready = cond(kubeconfig, f"engine/{engine}", ns)
    assert ready["status"] == "False"
    assert f"key '{secret}/backup' (spec.llm.fallbacks[0].apiKeySecretRef) does not exist" in ready["message"]

    backup = base64.b64encode(b"sk-test-2").decode()
    kubectl(
        kubeconfig,
        "patch",
        "secret",
        secret,
        "-n",
        ns,
        "--type=merge",
        "-p",
        json.dumps({"data": {"backup": backup}}),
    )
    wait_ready_cr(kubeconfig, f"engine/{engine}", ns)

    llm = await eventually(lambda: _llm_config(database_url, tenant, engine))
    assert llm["baseURL"] == "http://llama.example:8080/v1" and llm["apiKey"] == "sk-test-1"
    assert llm["fallbacks"] == [{"baseURL": "http://big.example/v1", "model": "big", "apiKey": "sk-test-2"}]
    config_map = get(kubeconfig, "configmap", f"engine-{engine}", "-n", ns)
    assert "sk-test" not in json.dumps(config_map)


def test_crd_rejects_llm_on_other_engine_types(kubeconfig: Path, tenant: str) -> None:
    body = {
        "apiVersion": "neuroedge.io/v1alpha1",
        "kind": "Engine",
        "metadata": {"name": unique("bad"), "namespace": tenant},
        "spec": {"type": "predictive", "llm": {"baseURL": "http://x.example/v1", "model": "m"}},
    }
    with pytest.raises(procs.StackError, match=r"spec\.llm is only for conversation and agent Engines"):
        kubectl(kubeconfig, "apply", "--dry-run=server", "-f", "-", input_text=json.dumps(body))


async def test_tenant_llm_budget_reaches_the_registry_row(
    operator: operator_process.OperatorProcess, kubeconfig: Path, tenant: str, database_url: str
) -> None:
    budget = {"llmBudget": {"tokensPerMinute": 1000, "tokensPerDay": 50000}}
    kubectl(kubeconfig, "patch", "tenant", tenant, "--type=merge", "-p", json.dumps({"spec": budget}))

    async def row() -> tuple[int, int] | None:
        conn = await asyncpg.connect(database_url)
        try:
            found = await conn.fetchrow(
                "SELECT llm_tokens_per_minute, llm_tokens_per_day FROM neuroedge.tenants "
                "WHERE tenant_id = $1",
                tenant,
            )
        finally:
            await conn.close()
        return (found[0], found[1]) if found and found[0] == 1000 else None

    assert await eventually(row) == (1000, 50000)
