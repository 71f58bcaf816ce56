"""Label selectors evaluated in memory, as the API server evaluates them, for reads served by watch caches."""

from __future__ import annotations

import pytest

from neuroedge_operator.plan import selectors

MANAGED = "app.kubernetes.io/managed-by=neuroedge-operator"


def test_equality_and_existence_terms() -> None:
    query = selectors.parse(f"neuroedge.io/tenant=acme,{MANAGED},neuroedge.io/engine")
    assert query == {
        "neuroedge.io/tenant": "acme",
        "app.kubernetes.io/managed-by": "neuroedge-operator",
        "neuroedge.io/engine": None,
    }
    labels = {"neuroedge.io/tenant": "acme", "app.kubernetes.io/managed-by": "neuroedge-operator"}
    assert not selectors.matches(query, labels)
    assert selectors.matches(query, {**labels, "neuroedge.io/engine": "x"})
    assert not selectors.matches(query, {**labels, "neuroedge.io/engine": "x", "neuroedge.io/tenant": "b"})


def test_the_empty_selector_selects_everything() -> None:
    assert selectors.parse("") == {}
    assert selectors.matches({}, {})


def test_double_equals_is_equality() -> None:
    assert selectors.parse("a==b") == {"a": "b"}


@pytest.mark.parametrize("term", ["a!=b", "a in (b,c)", "!a"])
def test_forms_not_evaluated_in_memory_are_refused(term: str) -> None:
    with pytest.raises(ValueError, match="unsupported selector term"):
        selectors.parse(term)


def test_a_cache_covers_only_queries_that_ask_for_at_least_its_terms() -> None:
    cache = selectors.parse(MANAGED)
    assert selectors.covers(cache, selectors.parse(f"neuroedge.io/tenant=acme,{MANAGED}"))
    assert not selectors.covers(cache, selectors.parse("neuroedge.io/tenant=acme"))
    assert not selectors.covers(cache, selectors.parse("app.kubernetes.io/managed-by=helm"))
    assert selectors.covers({}, selectors.parse("anything=at-all"))
