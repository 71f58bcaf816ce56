"""Parsing a Tenant body: defaults, durations, quantities, and clear messages for impossible specs."""

from __future__ import annotations

from typing import Any

import pytest

from neuroedge_operator.resources import duration, quantity
from neuroedge_operator.resources import tenant as tenant_model


def body(spec: dict[str, Any], name: str = "acme") -> dict[str, Any]:
    return {"metadata": {"name": name, "uid": "u-1", "generation": 3}, "spec": spec}


def test_defaults() -> None:
    tenant = tenant_model.parse(body({}))
    assert tenant.namespaces == ("acme",)
    assert tenant.spec.network_isolation is True
    assert tenant.spec.database.reclaim_policy == "Retain"
    assert tenant.spec.auth.access_token_ttl == 900
    assert tenant.owner_reference["uid"] == "u-1" and tenant.owner_reference["controller"] is True


def test_full_spec() -> None:
    tenant = tenant_model.parse(
        body(
            {
                "namespaces": ["acme-a", {"name": "acme-b"}],
                "quota": {"cpu": "4", "memory": "8Gi", "pods": 20},
                "limitRange": {
                    "defaultRequest": {"cpu": "100m"},
                    "default": {"cpu": "500m", "memory": "512Mi"},
                },
                "networkIsolation": False,
                "database": {"reclaimPolicy": "Delete"},
                "auth": {"accessTokenTTL": "10m", "refreshTokenTTL": "7d", "keyRotationPeriod": "1h30m"},
                "rateLimit": {"requestsPerSecond": 5, "burst": 10},
                "suspend": True,
            }
        )
    )
    assert tenant.namespaces == ("acme-a", "acme-b")
    assert tenant.spec.auth.access_token_ttl == 600 and tenant.spec.auth.key_rotation_period == 5400
    assert tenant.spec.limit_range.default_request.cpu == "100m"
    assert tenant.spec.suspend and tenant.spec.database.reclaim_policy == "Delete"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"quota": {"cpu": "lots"}}, "spec.quota.cpu: 'lots' is not a Kubernetes quantity"),
        ({"quota": {"memory": "-1Gi"}}, "spec.quota.memory: '-1Gi' must not be negative"),
        ({"quota": {"cpu": "1"}, "limitRange": {"default": {"cpu": "2"}}}, "exceeds spec.quota.cpu (1)"),
        (
            {"limitRange": {"defaultRequest": {"memory": "1Gi"}, "default": {"memory": "512Mi"}}},
            "spec.limitRange.defaultRequest.memory (1Gi) exceeds spec.limitRange.default.memory (512Mi)",
        ),
        ({"quota": {"cpu": "0"}}, "spec.quota.cpu is 0"),
        ({"auth": {"accessTokenTTL": "soon"}}, "spec.auth.accessTokenTTL"),
        ({"database": {"reclaimPolicy": "Shred"}}, "spec.database.reclaimPolicy"),
        ({"namespaces": ["Bad_Name"]}, "not a valid namespace name"),
        ({"namespaces": ["a", "a"]}, "unique"),
    ],
)
def test_invalid_specs_are_explained(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(tenant_model.InvalidTenantError) as raised:
        tenant_model.parse(body(spec))
    assert message in str(raised.value)


def test_invalid_name() -> None:
    with pytest.raises(tenant_model.InvalidTenantError, match="DNS label"):
        tenant_model.parse(body({}, name="x" * 41))


def test_quantities() -> None:
    assert quantity.parse("500m") == quantity.parse("0.5")
    assert quantity.parse("1Gi") == 1024**3
    assert quantity.parse("1e3") == 1000
    assert quantity.same("1000m", "1") and not quantity.same("1", "x")
    with pytest.raises(quantity.QuantityError):
        quantity.parse("1.2.3")


def test_durations() -> None:
    assert duration.parse_seconds("1h30m") == 5400
    assert duration.parse_seconds("14d") == 14 * 86400
    assert duration.parse_seconds(60) == 60
    for bad in ("", "5 minutes", "0s", True):
        with pytest.raises(duration.DurationError):
            duration.parse_seconds(bad)  # type: ignore[arg-type]
