"""The Tenant's pure builders: its children, registry row, status facts and the live credentials it keeps."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

from neuroedge_operator.builders import jwt_keys
from neuroedge_operator.builders import secret as secret_builder
from neuroedge_operator.builders import tenant as tenant_builder
from neuroedge_operator.resources import tenant as tenant_model

NOW = datetime(2026, 1, 1, tzinfo=UTC)
INPUTS = tenant_builder.Inputs(
    secret_builder.Endpoints("db.svc:5432", "neuroedge", "redis.svc:6379"), "neuroedge.io/platform"
)


def make(spec: dict[str, Any] | None = None) -> tenant_model.Tenant:
    return tenant_model.parse({"metadata": {"name": "acme", "uid": "uid-1"}, "spec": spec or {}})


def creds(tenant: tenant_model.Tenant, live: dict[str, str] | None = None) -> secret_builder.Credentials:
    return secret_builder.decide(tenant, live or {}, "", NOW, jwt_keys.generate_key, "example.test")


def kinds(objects: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(obj["kind"], obj["metadata"].get("namespace", "")) for obj in objects]


def test_children_put_every_namespace_first_then_each_namespace_its_objects() -> None:
    tenant = make({"namespaces": ["acme-a", "acme-b"], "quota": {"cpu": "2"}, "limitRange": {}})
    objects = tenant_builder.children(tenant, creds(tenant), INPUTS)
    assert kinds(objects)[:2] == [("Namespace", ""), ("Namespace", "")]
    per_namespace = ["ResourceQuota", "NetworkPolicy", "ServiceAccount", "Role", "RoleBinding", "Secret"]
    for namespace in ("acme-a", "acme-b"):
        assert [k for k, ns in kinds(objects) if ns == namespace] == per_namespace
    assert all(obj["metadata"]["ownerReferences"][0]["uid"] == "uid-1" for obj in objects)


def test_children_leave_out_the_network_policy_when_isolation_is_off() -> None:
    tenant = make({"networkIsolation": False})
    assert "NetworkPolicy" not in [
        k for k, _ in kinds(tenant_builder.children(tenant, creds(tenant), INPUTS))
    ]


def test_the_isolation_policy_admits_the_configured_platform_label() -> None:
    tenant = make()
    policy = next(
        o for o in tenant_builder.children(tenant, creds(tenant), INPUTS) if o["kind"] == "NetworkPolicy"
    )
    platform = policy["spec"]["ingress"][0]["from"][1]["namespaceSelector"]["matchLabels"]
    assert platform == {"neuroedge.io/platform": "true"}


def test_the_secret_points_at_the_configured_endpoints() -> None:
    tenant = make()
    secret = next(o for o in tenant_builder.children(tenant, creds(tenant), INPUTS) if o["kind"] == "Secret")
    values = secret_builder.decode(secret)
    assert "@db.svc:5432/neuroedge" in values["DATABASE_URL"]
    assert "@redis.svc:6379/0" in values["REDIS_URL"]


def test_registry_row_carries_token_lifetimes_rate_limits_and_llm_budget() -> None:
    tenant = make({"auth": {"accessTokenTTL": "10m", "refreshTokenTTL": "1h"}, "rateLimit": {"burst": 7}})
    assert tenant_builder.registry_row(tenant, suspended=True) == {
        "suspended": True,
        "access_token_ttl_seconds": 600,
        "refresh_token_ttl_seconds": 3600,
        "rate_limit_rps": 50.0,
        "rate_limit_burst": 7,
        "llm_tokens_per_minute": None,
        "llm_tokens_per_day": None,
    }
    budgeted = make({"llmBudget": {"tokensPerMinute": 1000, "tokensPerDay": 50000}})
    row = tenant_builder.registry_row(budgeted, suspended=False)
    assert (row["llm_tokens_per_minute"], row["llm_tokens_per_day"]) == (1000, 50000)


def test_status_facts_name_what_was_provisioned_and_never_a_secret() -> None:
    tenant = make({"namespaces": ["acme", "acme-batch"]})
    issued = creds(tenant)
    facts = tenant_builder.status_facts(tenant, issued)
    active = jwt_keys.active(issued.keyset)
    assert facts == {
        "namespaces": ["acme", "acme-batch"],
        "databaseRole": "ne_tenant_acme",
        "redisUser": "ne-tenant-acme",
        "activeSigningKey": active["kid"],
        "lastKeyRotationTime": active["created_at"],
    }
    text = repr(facts)
    assert issued.database_password not in text and issued.admin_password not in text
    assert issued.redis_password not in text


def secret_in(namespace: str, values: dict[str, str], rotated_for: str = "") -> dict[str, Any]:
    return {
        "kind": "Secret",
        "metadata": {
            "name": secret_builder.NAME,
            "namespace": namespace,
            "annotations": {secret_builder.ROTATED_FOR_ANNOTATION: rotated_for},
        },
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in values.items()},
    }


def test_live_credentials_come_from_the_first_namespace_in_spec_order() -> None:
    tenant = make({"namespaces": ["acme-a", "acme-b"]})
    live = [
        secret_in("acme-b", {"ADMIN_PASSWORD": "second"}),
        {"kind": "ConfigMap", "metadata": {"name": secret_builder.NAME, "namespace": "acme-a"}},
        secret_in("acme-a", {"ADMIN_PASSWORD": "first"}, rotated_for="r1"),
        secret_in("elsewhere", {"ADMIN_PASSWORD": "not ours"}),
    ]
    assert tenant_builder.live_credentials(tenant, live) == ({"ADMIN_PASSWORD": "first"}, "r1")
    assert tenant_builder.live_credentials(tenant, live[:2]) == ({"ADMIN_PASSWORD": "second"}, "")


def test_no_live_credentials_means_empty_values() -> None:
    assert tenant_builder.live_credentials(make(), [secret_in("other", {"A": "b"})]) == ({}, "")
