"""Redis ACL rules: confinement to the tenant prefix, hashed password, deny list, drift detection inputs."""

from __future__ import annotations

from neuroedge_operator.builders import redis_acl


def test_rules_reset_confine_and_hash_the_password() -> None:
    rules = redis_acl.setuser_rules("acme", "pw", enabled=True)
    assert rules[:5] == ["reset", "on", "#" + redis_acl.password_hash("pw"), "~ne:acme:*", "&ne:acme:*"]
    assert "pw" not in rules and "+@all" in rules and "-@dangerous" in rules and "-scan" in rules
    assert redis_acl.setuser_rules("acme", "pw", enabled=False)[1] == "off"
    assert redis_acl.user_name("acme") == "ne-tenant-acme"


def test_probes_cover_other_tenants_and_server_wide_commands() -> None:
    probes = dict(redis_acl.probes("acme"))
    assert probes[("get", "ne:acme:probe")] is True
    assert probes[("get", "ne:other-tenant:probe")] is False
    assert (
        probes[("flushall",)] is False and probes[("script", "flush")] is False and probes[("scan",)] is False
    )


def test_up_to_date_compares_every_managed_field() -> None:
    state = redis_acl.UserState(
        enabled=True,
        passwords=(redis_acl.password_hash("pw"),),
        keys="~ne:acme:*",
        channels="&ne:acme:*",
        permissions_ok=True,
    )
    assert redis_acl.up_to_date(state, "acme", "pw", enabled=True)
    assert not redis_acl.up_to_date(None, "acme", "pw", enabled=True)
    assert not redis_acl.up_to_date(state, "acme", "other", enabled=True)
    assert not redis_acl.up_to_date(state, "acme", "pw", enabled=False)
    assert not redis_acl.up_to_date(state, "other", "pw", enabled=True)
    broken = redis_acl.UserState(**{**state.__dict__, "permissions_ok": False})
    assert not redis_acl.up_to_date(broken, "acme", "pw", enabled=True)
