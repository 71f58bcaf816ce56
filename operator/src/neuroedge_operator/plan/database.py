"""The database planner: a tenant's desired catalog state vs what the catalog holds -> ordered actions.

Pure, so that every decision (create, alter, grant, revoke, drop) is unit-tested without PostgreSQL; the
executor in `clients/postgres.py` only runs what this returns, in one transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from neuroedge_operator.builders import sql

ActionKind = Literal["create", "alter", "grant", "revoke", "drop", "upsert", "delete", "terminate"]


@dataclass(frozen=True)
class Action:
    """One statement to run; `args` are bind parameters (never secrets: passwords travel as verifiers)."""

    kind: ActionKind
    statement: str
    args: tuple[object, ...] = ()


@dataclass(frozen=True)
class RoleState:
    """The attributes of a role that we manage, as read from `pg_authid`."""

    login: bool
    bypassrls: bool = False
    inherit: bool = False
    superuser: bool = False
    createrole: bool = False
    createdb: bool = False
    replication: bool = False
    verifier: str | None = None


@dataclass(frozen=True)
class PolicyState:
    """A policy as listed in `pg_policies`."""

    roles: tuple[str, ...]
    cmd: str
    qual: str | None
    with_check: str | None
    permissive: str = "PERMISSIVE"


@dataclass(frozen=True)
class Observed:
    """The catalog as it concerns one tenant."""

    role: RoleState | None = None
    member_of: frozenset[str] = frozenset()
    schema_usage: bool = False
    privileges: Mapping[str, frozenset[str]] = field(default_factory=dict)
    policies: Mapping[str, PolicyState] = field(default_factory=dict)
    registry: Mapping[str, object] | None = None
    tables: frozenset[str] = frozenset(sql.TABLE_PRIVILEGES)


@dataclass(frozen=True)
class Desired:
    """What the tenant's database state should be."""

    tenant: str
    password: str
    login: bool
    registry: Mapping[str, object]

    @property
    def role(self) -> str:
        return sql.role_name(self.tenant)


def plan(desired: Desired, observed: Observed) -> list[Action]:
    """Actions that bring the catalog to `desired`; empty when it is already there."""
    return [
        *_plan_registry(desired, observed),
        *_plan_role(desired, observed),
        *_plan_grants(desired, observed),
        *_plan_policies(desired, observed),
    ]


def _plan_registry(desired: Desired, observed: Observed) -> list[Action]:
    if observed.registry is not None and all(
        observed.registry.get(k) == v for k, v in desired.registry.items()
    ):
        return []
    args = (desired.tenant, *(desired.registry[c] for c in sql.REGISTRY_COLUMNS))
    return [Action("upsert", sql.upsert_registry(), args)]


def _role_attributes_ok(role: RoleState, login: bool) -> bool:
    flags = (role.bypassrls, role.inherit, role.superuser, role.createrole, role.createdb, role.replication)
    return role.login == login and not any(flags)


def _plan_role(desired: Desired, observed: Observed) -> list[Action]:
    role = observed.role
    if role is None:
        verifier = sql.scram_verifier(desired.password)
        return [Action("create", sql.create_role(desired.role, verifier, desired.login))]
    actions: list[Action] = []
    if not _role_attributes_ok(role, desired.login):
        actions.append(Action("alter", sql.alter_role_options(desired.role, desired.login)))
        if role.login and not desired.login:
            actions.append(Action("terminate", sql.terminate_sessions(desired.role)))
    if not sql.scram_matches(role.verifier, desired.password):
        actions.append(
            Action("alter", sql.alter_role_password(desired.role, sql.scram_verifier(desired.password)))
        )
    # A tenant role is a member of nothing: membership in the runtime role would let it SET ROLE and pick
    # any tenant through app.current_tenant.
    actions.extend(
        Action("revoke", sql.revoke_membership(g, desired.role)) for g in sorted(observed.member_of)
    )
    return actions


def _plan_grants(desired: Desired, observed: Observed) -> list[Action]:
    actions: list[Action] = []
    if not observed.schema_usage:
        actions.append(Action("grant", sql.grant_schema_usage(desired.role)))
    for name in sorted(observed.tables & set(sql.TABLE_PRIVILEGES)):
        wanted, have = sql.TABLE_PRIVILEGES[name], observed.privileges.get(name, frozenset())
        if wanted - have:
            actions.append(Action("grant", sql.grant_table(desired.role, name, wanted - have)))
        if have - wanted:
            actions.append(Action("revoke", sql.revoke_table(desired.role, name, have - wanted)))
    return actions


def _policy_ok(policy: PolicyState, desired: Desired) -> bool:
    expr = sql.policy_expression(desired.tenant)
    return (
        policy.roles == (desired.role,)
        and policy.cmd == "ALL"
        and policy.permissive == "PERMISSIVE"
        and policy.qual == expr
        and policy.with_check == expr
    )


def _plan_policies(desired: Desired, observed: Observed) -> list[Action]:
    actions: list[Action] = []
    for name in sorted(observed.tables & set(sql.TABLE_PRIVILEGES)):
        policy = observed.policies.get(name)
        if policy is not None and _policy_ok(policy, desired):
            continue
        if policy is not None:
            actions.append(Action("drop", sql.drop_policy(name, desired.tenant)))
        actions.append(Action("create", sql.create_policy(name, desired.tenant, desired.role)))
    return actions


def plan_removal(tenant: str, observed: Observed, reclaim: Literal["Retain", "Delete"]) -> list[Action]:
    """Actions for a deleted Tenant. Retain keeps the role (without LOGIN) and every row; Delete drops the
    policies, grants and role, and deletes the tenant's rows (the registry row cascades)."""
    role = sql.role_name(tenant)
    if reclaim == "Retain":
        if observed.role is None or not observed.role.login:
            return []
        return [
            Action("alter", sql.alter_role_options(role, login=False)),
            Action("terminate", sql.terminate_sessions(role)),
        ]
    actions: list[Action] = []
    if observed.registry is not None:
        actions.append(Action("delete", sql.delete_registry(), (tenant,)))
    for name in sorted(observed.policies):
        actions.append(Action("drop", sql.drop_policy(name, tenant)))
    if observed.role is not None:
        for name, privileges in sorted(observed.privileges.items()):
            if privileges:
                actions.append(Action("revoke", sql.revoke_table(role, name, privileges)))
        if observed.schema_usage:
            actions.append(Action("revoke", sql.revoke_schema_usage(role)))
        actions.append(Action("terminate", sql.terminate_sessions(role)))
        actions.append(Action("drop", sql.drop_role(role)))
    return actions
