"""Kubernetes builders and the apply diff."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import jwt

from neuroedge_operator.builders import jwt_keys, namespaces, networkpolicy, quota, rbac
from neuroedge_operator.builders import secret as secret_builder
from neuroedge_operator.plan import kubernetes as kube_plan
from neuroedge_operator.resources import tenant as tenant_model

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def make(spec: dict[str, object] | None = None) -> tenant_model.Tenant:
    return tenant_model.parse({"metadata": {"name": "acme", "uid": "uid-1"}, "spec": spec or {}})


def test_every_child_is_labelled_and_owned() -> None:
    tenant = make({"quota": {"cpu": "2", "pods": 10}, "limitRange": {"default": {"cpu": "1"}}})
    objects = [
        namespaces.namespace(tenant, "acme"),
        quota.resource_quota(tenant, "acme"),
        quota.limit_range(tenant, "acme"),
        networkpolicy.isolation(tenant, "acme", "neuroedge.io/platform"),
        rbac.service_account(tenant, "acme"),
        rbac.role(tenant, "acme"),
        rbac.role_binding(tenant, "acme"),
    ]
    for obj in objects:
        assert obj is not None
        assert obj["metadata"]["labels"]["neuroedge.io/tenant"] == "acme"
        assert obj["metadata"]["ownerReferences"][0]["uid"] == "uid-1"


def test_quota_and_limits_follow_the_spec() -> None:
    tenant = make({"quota": {"cpu": "2", "memory": "4Gi", "pods": 10}})
    hard = quota.resource_quota(tenant, "acme")["spec"]["hard"]  # type: ignore[index]
    assert hard == {
        "requests.cpu": "2",
        "limits.cpu": "2",
        "requests.memory": "4Gi",
        "limits.memory": "4Gi",
        "pods": "10",
    }
    assert quota.resource_quota(make(), "acme") is None
    assert quota.limit_range(make(), "acme") is None


def test_network_policy_admits_own_and_platform_namespaces_only() -> None:
    policy = networkpolicy.isolation(make(), "acme", "neuroedge.io/platform")
    sources = policy["spec"]["ingress"][0]["from"]
    assert sources == [
        {"namespaceSelector": {"matchLabels": {"neuroedge.io/tenant": "acme"}}},
        {"namespaceSelector": {"matchLabels": {"neuroedge.io/platform": "true"}}},
    ]
    assert policy["spec"]["policyTypes"] == ["Ingress"]


def test_matches_ignores_server_fields_and_normalised_quantities() -> None:
    desired = quota.resource_quota(make({"quota": {"cpu": "1000m"}}), "acme")
    assert desired is not None
    live = copy.deepcopy(desired)
    live["spec"]["hard"]["requests.cpu"] = "1"
    live["metadata"]["resourceVersion"] = "7"
    live["status"] = {"used": {}}
    assert kube_plan.matches(desired, live)
    live["spec"]["hard"]["requests.cpu"] = "2"
    assert not kube_plan.matches(desired, live)


def test_matches_treats_what_the_api_server_omits_as_empty() -> None:
    desired = {"data": {}, "spec": {"env": [{"name": "A", "value": ""}], "volumes": [], "x": None}}
    live = {"spec": {"env": [{"name": "A"}]}}
    assert kube_plan.matches(desired, live)
    assert not kube_plan.matches({"replicas": 0}, {})  # zero and false are values, not omissions
    assert not kube_plan.matches({"env": [{"name": "A", "value": "1"}]}, {"env": [{"name": "A"}]})


def test_diff_applies_changed_and_deletes_unwanted() -> None:
    tenant = make()
    ns = namespaces.namespace(tenant, "acme")
    policy = networkpolicy.isolation(tenant, "acme", "p")
    plan = kube_plan.diff([ns, policy], [ns])
    assert plan.apply == [policy] and plan.delete == []
    plan = kube_plan.diff([ns], [ns, policy])
    assert plan.apply == [] and plan.delete == [
        ("networking.k8s.io/v1", "NetworkPolicy", "acme", policy["metadata"]["name"])
    ]
    assert kube_plan.diff([ns, policy], [ns, policy]).empty
    # A namespace dropped from the spec is kept.
    assert kube_plan.diff([], [ns]).empty


def test_credentials_are_kept_from_the_live_secret() -> None:
    tenant = make()
    endpoints = secret_builder.Endpoints("db:5432", "neuroedge", "redis:6379")
    first = secret_builder.decide(tenant, {}, "", NOW, jwt_keys.generate_key, "example.test")
    assert first.admin_email == "admin@acme.example.test"
    values = secret_builder.values("acme", first, endpoints)
    assert values["DATABASE_URL"].startswith("postgresql://ne_tenant_acme:") and values[
        "DATABASE_URL"
    ].endswith("@db:5432/neuroedge")
    again = secret_builder.decide(tenant, values, "", NOW, _no_new_key, "example.test")
    assert secret_builder.values("acme", again, endpoints) == values
    assert first.database_password not in repr(again) and first.admin_password not in repr(again)


def _no_new_key(now: datetime) -> dict[str, object]:
    raise AssertionError("no rotation expected")


def test_key_rotation_on_period_and_on_request() -> None:
    keyset = jwt_keys.rotate(None, jwt_keys.generate_key(NOW), NOW, 900)
    assert not jwt_keys.needs_rotation(keyset, NOW, 3600, requested=False)
    later = NOW.replace(hour=1)
    assert jwt_keys.needs_rotation(keyset, later, 3600, requested=False)
    assert jwt_keys.needs_rotation(keyset, NOW, 3600, requested=True)
    rotated = jwt_keys.rotate(keyset, jwt_keys.generate_key(later), later, 900)
    old = next(k for k in rotated["keys"] if k["kid"] == keyset["active"])
    assert rotated["active"] != keyset["active"] and old["verify_until"] == "2026-01-01T01:15:00Z"
    assert [k["kid"] for k in jwt_keys.prune(rotated, NOW.replace(hour=2))["keys"]] == [rotated["active"]]
    assert jwt_keys.parse(jwt_keys.dumps(rotated)) == rotated
    assert jwt_keys.parse("{") is None


def test_rotate_annotation_is_handled_once() -> None:
    tenant = tenant_model.parse(
        {
            "metadata": {"name": "acme", "uid": "u", "annotations": {"neuroedge.io/rotate-keys": "r1"}},
            "spec": {},
        }
    )
    endpoints = secret_builder.Endpoints("db:5432", "neuroedge", "redis:6379")
    base = secret_builder.decide(make(), {}, "", NOW, jwt_keys.generate_key, "x")
    values = secret_builder.values("acme", base, endpoints)
    rotated = secret_builder.decide(tenant, values, "", NOW, jwt_keys.generate_key, "x")
    assert rotated.rotated_for == "r1" and rotated.keyset["active"] != base.keyset["active"]
    assert len(rotated.keyset["keys"]) == 2
    done = secret_builder.decide(
        tenant, secret_builder.values("acme", rotated, endpoints), "r1", NOW, _no_new_key, "x"
    )
    assert done.keyset == rotated.keyset


def test_jwt_keys_sign_and_verify() -> None:

    key = jwt_keys.generate_key(NOW)
    token = jwt.encode({"sub": "u"}, key["private_key_pem"], algorithm="EdDSA", headers={"kid": key["kid"]})
    public = jwt.PyJWK(key["public_jwk"])
    assert jwt.decode(token, public.key, algorithms=["EdDSA"])["sub"] == "u"
    assert jwt.get_unverified_header(token)["kid"] == key["kid"]


def test_children_of_engines_and_pools_are_not_the_tenants() -> None:
    """A WorkerPool's KEDA Secret carries the tenant's labels; the Tenant's diff must never delete it."""
    pool_secret = {"metadata": {"ownerReferences": [{"kind": "WorkerPool", "controller": True, "uid": "p"}]}}
    tenant_secret = {"metadata": {"ownerReferences": [{"kind": "Tenant", "controller": True, "uid": "t"}]}}
    assert kube_plan.controlled_by_other_kind(pool_secret, "Tenant")
    assert not kube_plan.controlled_by_other_kind(tenant_secret, "Tenant")
    assert not kube_plan.controlled_by_other_kind({"metadata": {"name": "unowned"}}, "Tenant")
