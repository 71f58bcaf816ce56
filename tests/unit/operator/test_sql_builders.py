"""SQL builders: quoting, naming, SCRAM verifiers."""

from __future__ import annotations

import pytest

from neuroedge_operator.builders import sql
from neuroedge_operator.db import migrations


def test_identifiers_are_double_quoted_with_embedded_quotes_doubled() -> None:
    assert sql.quote_ident("ne_tenant_a") == '"ne_tenant_a"'
    assert sql.quote_ident('x"; DROP TABLE t; --') == '"x""; DROP TABLE t; --"'
    with pytest.raises(ValueError, match="identifier"):
        sql.quote_ident("")
    with pytest.raises(ValueError, match="identifier"):
        sql.quote_ident("a\x00b")


def test_literals_escape_quotes_and_backslashes() -> None:
    assert sql.quote_literal("acme") == "'acme'"
    assert sql.quote_literal("o'brien") == "'o''brien'"
    assert sql.quote_literal("a\\b'") == "E'a\\\\b'''"
    with pytest.raises(ValueError, match="NUL"):
        sql.quote_literal("a\x00")


def test_role_and_policy_names_follow_the_architecture_contract() -> None:
    assert sql.role_name("acme-prod") == "ne_tenant_acme_prod"
    assert sql.policy_name("acme-prod") == "tenant_acme-prod"


def test_policy_is_restricted_to_the_tenant_role_and_rows() -> None:
    statement = sql.create_policy("users", "acme", "ne_tenant_acme")
    assert statement == (
        'CREATE POLICY "tenant_acme" ON "neuroedge"."users" AS PERMISSIVE FOR ALL TO "ne_tenant_acme" '
        "USING (tenant_id = 'acme'::text) WITH CHECK (tenant_id = 'acme'::text)"
    )


def test_role_is_created_without_rls_bypass_inheritance_or_clear_password() -> None:
    verifier = sql.scram_verifier("s3cret", salt=b"0123456789abcdef")
    statement = sql.create_role("ne_tenant_a", verifier, login=True)
    assert "NOBYPASSRLS" in statement and "NOINHERIT" in statement and " LOGIN " in statement
    assert "s3cret" not in statement and "SCRAM-SHA-256$4096:" in statement
    assert " NOLOGIN " in sql.alter_role_options("ne_tenant_a", login=False)


def test_scram_verifier_round_trip() -> None:
    verifier = sql.scram_verifier("pw")
    assert sql.scram_matches(verifier, "pw")
    assert not sql.scram_matches(verifier, "other")
    assert not sql.scram_matches(None, "pw")
    assert not sql.scram_matches("md5abc", "pw")
    assert not sql.scram_matches("SCRAM-SHA-256$garbage", "pw")


def test_grants_are_sorted_and_qualified() -> None:
    assert sql.grant_table("r", "users", frozenset({"UPDATE", "SELECT"})) == (
        'GRANT SELECT, UPDATE ON "neuroedge"."users" TO "r"'
    )


def test_registry_upsert_is_parameterised() -> None:
    statement = sql.upsert_registry()
    assert "$8" in statement and "$9" not in statement and "ON CONFLICT (tenant_id)" in statement


def test_every_tenant_table_is_granted_and_registries_are_read_only() -> None:

    assert set(sql.TABLE_PRIVILEGES) == set(migrations.TENANT_TABLES)
    assert sql.TABLE_PRIVILEGES["tenants"] == frozenset({"SELECT"})
    assert sql.TABLE_PRIVILEGES["users"] == sql.DML
