"""The database planner: desired vs observed catalog state -> actions."""

from __future__ import annotations

from neuroedge_operator.builders import sql
from neuroedge_operator.plan import database

REGISTRY = {
    "suspended": False,
    "access_token_ttl_seconds": 900,
    "refresh_token_ttl_seconds": 86400,
    "rate_limit_rps": 10.0,
    "rate_limit_burst": 20,
    "llm_tokens_per_minute": 1000,
    "llm_tokens_per_day": None,
}


def desired(login: bool = True) -> database.Desired:
    return database.Desired(tenant="acme", password="pw", login=login, registry=REGISTRY)


def converged(login: bool = True) -> database.Observed:
    expr = sql.policy_expression("acme")
    return database.Observed(
        role=database.RoleState(login=login, verifier=sql.scram_verifier("pw")),
        schema_usage=True,
        privileges=dict(sql.TABLE_PRIVILEGES),
        policies={
            t: database.PolicyState(("ne_tenant_acme",), "ALL", expr, expr) for t in sql.TABLE_PRIVILEGES
        },
        registry=dict(REGISTRY),
    )


def kinds(actions: list[database.Action]) -> list[str]:
    return [a.kind for a in actions]


def test_empty_catalog_creates_everything() -> None:
    actions = database.plan(desired(), database.Observed())
    assert kinds(actions).count("create") == 1 + len(sql.TABLE_PRIVILEGES)
    assert actions[0].kind == "upsert" and actions[0].args[0] == "acme"
    assert any(a.statement.startswith('CREATE ROLE "ne_tenant_acme" LOGIN') for a in actions)
    assert sum(1 for a in actions if a.kind == "grant") == 1 + len(sql.TABLE_PRIVILEGES)


def test_converged_catalog_plans_nothing() -> None:
    assert database.plan(desired(), converged()) == []


def test_changed_registry_settings_are_upserted() -> None:
    observed = converged()
    observed = database.Observed(**{**observed.__dict__, "registry": {**REGISTRY, "rate_limit_burst": 1}})
    assert kinds(database.plan(desired(), observed)) == ["upsert"]


def test_wrong_password_is_reset_with_a_verifier() -> None:
    observed = database.Observed(
        **{**converged().__dict__, "role": database.RoleState(login=True, verifier="x")}
    )
    (action,) = database.plan(desired(), observed)
    assert (
        action.kind == "alter" and "PASSWORD 'SCRAM-SHA-256$" in action.statement and "pw" not in action.args
    )


def test_escalated_role_is_altered_back() -> None:
    role = database.RoleState(login=True, bypassrls=True, verifier=sql.scram_verifier("pw"))
    observed = database.Observed(
        **{**converged().__dict__, "role": role, "member_of": frozenset({"neuroedge_runtime"})}
    )
    actions = database.plan(desired(), observed)
    assert kinds(actions) == ["alter", "revoke"]
    assert "NOBYPASSRLS" in actions[0].statement
    assert actions[1].statement == 'REVOKE "neuroedge_runtime" FROM "ne_tenant_acme"'


def test_suspend_disables_login_and_ends_sessions_and_unsuspend_restores() -> None:
    actions = database.plan(desired(login=False), converged(login=True))
    assert kinds(actions) == ["upsert", "alter", "terminate"] or kinds(actions) == ["alter", "terminate"]
    assert any("NOLOGIN" in a.statement for a in actions)
    restore = database.plan(desired(login=True), converged(login=False))
    assert kinds(restore) == ["alter"] and " LOGIN " in restore[0].statement


def test_extra_privileges_are_revoked_and_missing_granted() -> None:
    privileges = {
        **sql.TABLE_PRIVILEGES,
        "tenants": frozenset({"SELECT", "UPDATE"}),
        "users": frozenset({"SELECT"}),
    }
    observed = database.Observed(**{**converged().__dict__, "privileges": privileges})
    statements = [a.statement for a in database.plan(desired(), observed)]
    assert 'REVOKE UPDATE ON "neuroedge"."tenants" FROM "ne_tenant_acme"' in statements
    assert 'GRANT DELETE, INSERT, UPDATE ON "neuroedge"."users" TO "ne_tenant_acme"' in statements


def test_tampered_policy_is_replaced() -> None:
    policies = dict(converged().policies)
    policies["users"] = database.PolicyState(("ne_tenant_acme",), "ALL", "true", "true")
    observed = database.Observed(**{**converged().__dict__, "policies": policies})
    assert kinds(database.plan(desired(), observed)) == ["drop", "create"]


def test_missing_policy_is_created_only_for_existing_tables() -> None:
    policies = {k: v for k, v in converged().policies.items() if k != "users"}
    observed = database.Observed(**{**converged().__dict__, "policies": policies})
    assert kinds(database.plan(desired(), observed)) == ["create"]
    partial = database.Observed(**{**observed.__dict__, "tables": frozenset({"tenants"})})
    assert database.plan(desired(), partial) == []


def test_removal_with_retain_only_disables_login() -> None:
    assert kinds(database.plan_removal("acme", converged(), "Retain")) == ["alter", "terminate"]
    assert database.plan_removal("acme", converged(login=False), "Retain") == []
    assert database.plan_removal("acme", database.Observed(), "Retain") == []


def test_removal_with_delete_drops_rows_policies_grants_and_role_in_order() -> None:
    actions = database.plan_removal("acme", converged(), "Delete")
    assert actions[0].kind == "delete" and actions[-1].statement == 'DROP ROLE IF EXISTS "ne_tenant_acme"'
    assert kinds(actions).count("drop") == len(sql.TABLE_PRIVILEGES) + 1
    assert database.plan_removal("acme", database.Observed(), "Delete") == []
