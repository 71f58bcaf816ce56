"""The VectorIndex planner: every action, the refusal to touch diverged storage, the count refresh rule."""

from __future__ import annotations

from dataclasses import replace

import pytest

from neuroedge_operator.plan import vectorindex as plan

LANG = plan.PayloadIndex("lang", "keyword")
PRICE = plan.PayloadIndex("price", "float")
LAYOUT = plan.Layout(
    tenant="acme",
    name="docs",
    storage_name="vec_acme__docs",
    backend="pgvector",
    dimension=3,
    distance="Cosine",
    m=16,
    ef_construct=100,
    payload_indexes=frozenset({LANG}),
)
MATCHING = plan.Storage(dimension=3, distance="Cosine", hnsw=(16, 100), payload_indexes=frozenset({LANG}))
ROW = plan.registered(LAYOUT)


def kinds(result: plan.Plan) -> list[str]:
    return [a.kind for a in result.actions]


def test_nothing_to_do_when_storage_and_registry_match() -> None:
    assert plan.plan(LAYOUT, MATCHING, ROW) == plan.Plan()


def test_missing_storage_is_created_and_registered() -> None:
    result = plan.plan(LAYOUT, None, None)
    assert kinds(result) == ["create_storage", "register"]
    assert not result.recreated


def test_registered_storage_that_disappeared_is_recreated_and_flagged() -> None:
    result = plan.plan(LAYOUT, None, ROW)
    assert kinds(result) == ["create_storage"] and result.recreated


def test_missing_registry_row_alone_is_written() -> None:
    assert kinds(plan.plan(LAYOUT, MATCHING, None)) == ["register"]


@pytest.mark.parametrize(
    "hnsw", [(32, 100), (16, 200), None], ids=["m changed", "ef_construct changed", "index missing"]
)
def test_hnsw_parameter_change_or_missing_index_rebuilds(hnsw: tuple[int, int] | None) -> None:
    assert kinds(plan.plan(LAYOUT, replace(MATCHING, hnsw=hnsw), ROW)) == ["rebuild_hnsw"]


def test_leftover_hnsw_index_of_an_interrupted_rebuild_is_cleaned_up() -> None:
    assert kinds(plan.plan(LAYOUT, replace(MATCHING, hnsw_clean=False), ROW)) == ["rebuild_hnsw"]


def test_on_disk_changes_in_place_where_the_backend_has_it() -> None:
    qdrant = replace(LAYOUT, backend="qdrant", on_disk=True)
    storage = replace(MATCHING, on_disk=False)
    assert kinds(plan.plan(qdrant, storage, plan.registered(qdrant))) == ["set_on_disk"]
    # pgvector reports None: never planned there
    assert plan.plan(replace(LAYOUT, on_disk=True), MATCHING, replace(ROW)).actions == ()


def test_payload_indexes_are_dropped_before_the_new_ones_are_created() -> None:
    layout = replace(LAYOUT, payload_indexes=frozenset({PRICE, plan.PayloadIndex("lang", "text")}))
    result = plan.plan(layout, MATCHING, ROW)
    assert [(a.kind, a.index) for a in result.actions] == [
        ("drop_payload_index", LANG),
        ("create_payload_index", plan.PayloadIndex("lang", "text")),
        ("create_payload_index", PRICE),
    ]


def test_access_drift_is_secured_with_the_strays_named() -> None:
    storage = replace(
        MATCHING, access_ok=False, stray_roles=("ne_tenant_other",), stray_policies=("tenant_other",)
    )
    [action] = plan.plan(LAYOUT, storage, ROW).actions
    assert action == plan.Action("secure_access", roles=("ne_tenant_other",), policies=("tenant_other",))


def test_everything_at_once_comes_in_a_stable_order() -> None:
    storage = replace(MATCHING, access_ok=False, hnsw=(8, 100), payload_indexes=frozenset({PRICE}))
    assert kinds(plan.plan(LAYOUT, storage, None)) == [
        "secure_access",
        "rebuild_hnsw",
        "drop_payload_index",
        "create_payload_index",
        "register",
    ]


@pytest.mark.parametrize(
    ("storage", "row", "message"),
    [
        (replace(MATCHING, dimension=5), ROW, "dimension is 3 in the spec but 5 in vec_acme__docs"),
        (replace(MATCHING, distance="Dot"), ROW, "distance is Cosine in the spec but Dot in vec_acme__docs"),
        (MATCHING, replace(ROW, dimension=8), "dimension is 3 in the spec but 8 in the registry"),
        (
            MATCHING,
            replace(ROW, distance="Euclid"),
            "distance is Cosine in the spec but Euclid in the registry",
        ),
        (
            MATCHING,
            replace(ROW, backend="qdrant"),
            "backend is pgvector in the spec but qdrant in the registry",
        ),
        (None, replace(ROW, dimension=8), "dimension is 3 in the spec but 8 in the registry"),
    ],
)
def test_immutable_divergence_plans_nothing(
    storage: plan.Storage | None, row: plan.Registered, message: str
) -> None:
    result = plan.plan(LAYOUT, storage, row)
    assert result.actions == () and not result.recreated
    assert message in result.divergences


def test_unknown_stored_parameters_are_not_divergences() -> None:
    storage = replace(MATCHING, dimension=None, distance=None)
    assert plan.plan(LAYOUT, storage, ROW).divergences == ()


def test_storage_actions_leave_out_the_registry_write() -> None:
    result = plan.plan(LAYOUT, None, None)
    assert [a.kind for a in result.storage_actions] == ["create_storage"]


@pytest.mark.parametrize(
    ("old", "new", "has_time", "publish"),
    [
        (5, 5, True, False),  # unchanged: nothing written, however old the published count is
        (5, 6, True, True),
        (None, 0, False, True),
        (5, 5, False, True),  # a count without its time is completed
    ],
)
def test_point_count_is_published_only_when_it_changes(
    old: int | None, new: int, has_time: bool, publish: bool
) -> None:
    assert plan.count_changed(old, new, has_time) is publish
