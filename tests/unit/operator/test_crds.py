"""The CRDs as files: documented at every depth, wired for kubectl (status, scale, short names, columns), and
the regular expressions they embed agree with the libraries the operator uses (croniter for cron strings).

What the API server makes of them is tested in tests/integration/operator/test_crds_api.py.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from croniter import croniter

REPO = Path(__file__).resolve().parents[3]
CRDS = REPO / "crds"
EXAMPLES = CRDS / "examples"

GROUP = "neuroedge.io"
VERSION = "v1alpha1"
KINDS = {
    # kind: (file stem, scope, short name)
    "Tenant": ("tenant", "Cluster", "tnt"),
    "Engine": ("engine", "Namespaced", "eng"),
    "WorkerPool": ("workerpool", "Namespaced", "wp"),
    "VectorIndex": ("vectorindex", "Namespaced", "vidx"),
}

Schema = dict[str, Any]


def load(path: Path) -> dict[str, Any]:
    document = yaml.safe_load(path.read_text())
    assert isinstance(document, dict), path
    return document


def crd(kind: str) -> dict[str, Any]:
    return load(CRDS / f"{KINDS[kind][0]}.yaml")


def version(kind: str) -> dict[str, Any]:
    versions = crd(kind)["spec"]["versions"]
    assert len(versions) == 1
    served: dict[str, Any] = versions[0]
    return served


def schema(kind: str) -> Schema:
    root: Schema = version(kind)["schema"]["openAPIV3Schema"]
    return root


def walk(node: Schema, path: str) -> Iterator[tuple[str, Schema]]:
    """Every schema node under `node` with its dotted path (`[]` for list items, `{}` for map values)."""
    yield path, node
    for name, child in node.get("properties", {}).items():
        yield from walk(child, f"{path}.{name}")
    if isinstance(node.get("items"), dict):
        yield from walk(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        yield from walk(node["additionalProperties"], f"{path}{{}}")


def nodes(kind: str) -> list[tuple[str, Schema]]:
    return list(walk(schema(kind), kind))


def rules(kind: str) -> list[tuple[str, dict[str, str]]]:
    return [(path, rule) for path, node in nodes(kind) for rule in node.get("x-kubernetes-validations", [])]


def cel_regex(kind: str, field_path: str) -> re.Pattern[str]:
    """The regular expression inside the one `matches` rule of a field, compiled by Python (RE2 and Python
    agree on the constructs we use: classes, groups, alternation, `(?i:...)`)."""
    (rule,) = (r["rule"] for p, r in rules(kind) if p == field_path)
    match = re.search(r"matches\(r?'(.*)'\)", rule)
    assert match, rule
    return re.compile(match.group(1))


kinds = pytest.mark.parametrize("kind", sorted(KINDS))


@kinds
def test_crd_is_named_and_versioned_as_the_contract_says(kind: str) -> None:
    document = crd(kind)
    stem, scope, short = KINDS[kind]
    names = document["spec"]["names"]
    assert document["apiVersion"] == "apiextensions.k8s.io/v1"
    assert document["kind"] == "CustomResourceDefinition"
    assert document["metadata"]["name"] == f"{names['plural']}.{GROUP}"
    assert document["spec"]["group"] == GROUP
    assert document["spec"]["scope"] == scope
    assert names["kind"] == kind
    assert names["singular"] == stem
    assert names["shortNames"] == [short]
    expected_categories = ["neuroedge"] if scope == "Cluster" else ["neuroedge", "all"]
    assert names["categories"] == expected_categories
    served = version(kind)
    assert (served["name"], served["served"], served["storage"]) == (VERSION, True, True)


@kinds
def test_every_property_at_every_depth_has_a_description(kind: str) -> None:
    """List items and map values included. `metadata` is the exception: the API server forbids anything
    but name/generateName restrictions there, and documents it itself."""
    undocumented = [
        path
        for path, node in nodes(kind)
        if not str(node.get("description", "")).strip() and path not in (kind, f"{kind}.metadata")
    ]
    assert undocumented == []
    assert schema(kind)["description"].strip()


@kinds
def test_every_object_and_list_node_is_structural(kind: str) -> None:
    for path, node in nodes(kind):
        if node.get("x-kubernetes-int-or-string"):
            assert node["anyOf"] == [{"type": "integer"}, {"type": "string"}], path
            continue
        assert node.get("type") in {"object", "array", "string", "integer", "number", "boolean"}, path
        if node["type"] == "array":
            items = node["items"]
            if items.get("type") == "object":
                assert node.get("x-kubernetes-list-type") == "map", path
                assert node.get("x-kubernetes-list-map-keys"), path
                for key in node["x-kubernetes-list-map-keys"]:
                    assert key in items.get("required", []), f"{path}: map key {key} must be required"
            else:
                # A tensor shape is ordered and may repeat a dimension: a list, not a set.
                ordered = path.endswith(".shape")
                assert node.get("x-kubernetes-list-type") == ("atomic" if ordered else "set"), path


@kinds
def test_status_subresource_and_standard_status(kind: str) -> None:
    assert version(kind)["subresources"]["status"] == {}
    status = schema(kind)["properties"]["status"]["properties"]
    assert status["observedGeneration"]["type"] == "integer"
    conditions = status["conditions"]
    assert conditions["x-kubernetes-list-type"] == "map"
    assert conditions["x-kubernetes-list-map-keys"] == ["type"]
    item = conditions["items"]
    assert set(item["properties"]) == {
        "type",
        "status",
        "reason",
        "message",
        "lastTransitionTime",
        "observedGeneration",
    }
    assert item["properties"]["status"]["enum"] == ["True", "False", "Unknown"]
    assert item["properties"]["lastTransitionTime"]["format"] == "date-time"


@kinds
def test_printer_columns_show_ready_and_age(kind: str) -> None:
    columns = {c["name"]: c for c in version(kind)["additionalPrinterColumns"]}
    assert columns["Ready"]["jsonPath"] == '.status.conditions[?(@.type=="Ready")].status'
    assert columns["Age"] == {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}
    assert len(columns) >= 4, "key figures beyond Ready and Age"
    spec_paths = {p for p, _ in nodes(kind)}
    for column in columns.values():
        # A column pointing at a field that does not exist would print <none> forever.
        path = column["jsonPath"]
        if path.startswith((".spec.", ".status.")) and "[" not in path:
            assert f"{kind}{path}" in spec_paths, path


@kinds
def test_every_cel_rule_has_a_message(kind: str) -> None:
    found = rules(kind)
    assert found, "every kind has at least one CEL rule"
    for path, rule in found:
        assert rule.get("message", "").strip(), f"{path}: {rule['rule']}"


@kinds
def test_cel_rules_only_see_bounded_strings_and_lists(kind: str) -> None:
    """The API server estimates CEL cost from maxLength/maxItems: unbounded inputs make rules too costly."""
    for path, node in nodes(kind):
        if "x-kubernetes-validations" in node and node.get("type") == "string":
            assert "maxLength" in node or "enum" in node, path
        if node.get("type") == "array" and path.startswith(f"{kind}.spec"):
            assert "maxItems" in node, path


def test_workerpool_scale_subresource() -> None:
    assert version("WorkerPool")["subresources"]["scale"] == {
        "specReplicasPath": ".spec.replicas",
        "statusReplicasPath": ".status.replicas",
        "labelSelectorPath": ".status.selector",
    }
    status = schema("WorkerPool")["properties"]["status"]["properties"]
    assert status["selector"]["type"] == "string"
    assert set(status["queue"]["properties"]) == {"length", "lag", "pending", "deadLettered"}


def test_vectorindex_layout_fields_are_immutable() -> None:
    spec = schema("VectorIndex")["properties"]["spec"]["properties"]
    for field in ("backend", "dimension", "distance"):
        assert [r["rule"] for r in spec[field]["x-kubernetes-validations"]] == ["self == oldSelf"], field


@pytest.mark.parametrize(
    ("kind", "longest"), [("Tenant", 40), ("VectorIndex", 40), ("Engine", 63), ("WorkerPool", 63)]
)
def test_names_that_become_identifiers_are_restricted_at_the_root(kind: str, longest: int) -> None:
    """Tenant and VectorIndex names go into database and Redis identifiers; Engine and WorkerPool names into
    Service names and label values (DNS-1035 labels)."""
    (rule,) = schema(kind)["x-kubernetes-validations"]
    assert f"self.metadata.name.size() <= {longest}" in rule["rule"]
    assert "self.metadata.name.matches('^[a-z]([a-z0-9-]*[a-z0-9])?$')" in rule["rule"]


VALID_CRONS = [
    "* * * * *",
    "*/15 * * * *",
    "0 3 * * MON-FRI",
    "0 2 * * *",
    "*/30 8-18 * * mon-fri",
    "15,45 0-23/2 1,15 jan,jul 0",
    "59 23 31 12 7",
    "0 0 1 */3 *",
    "5-10/2 * * * sun",
    "@hourly",
    "@daily",
    "@weekly",
    "@monthly",
    "@yearly",
]
INVALID_CRONS = [
    "",
    "* * * *",
    "* * * * * *",
    "60 * * * *",
    "0 24 * * *",
    "0 0 0 * *",
    "0 0 32 * *",
    "0 0 * 13 *",
    "0 0 * * 8",
    "*/0 * * * *",
    "0 0 * * FUNDAY",
    "every day",
    "@every 5m",
    "@reboot",
    "0,, * * * *",
    "* * * * * ",
]


@pytest.mark.parametrize("cron", VALID_CRONS)
def test_cron_rule_accepts_what_croniter_runs(cron: str) -> None:
    assert cel_regex("Engine", "Engine.spec.schedules[].cron").match(cron)
    assert croniter.is_valid(cron)


@pytest.mark.parametrize("cron", INVALID_CRONS)
def test_cron_rule_rejects_malformed_strings(cron: str) -> None:
    assert not cel_regex("Engine", "Engine.spec.schedules[].cron").match(cron)


def field_pattern(kind: str, path: str) -> re.Pattern[str]:
    (node,) = (n for p, n in nodes(kind) if p == path)
    return re.compile(node["pattern"])


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        *[("15m", True), ("336h", True), ("1h30m", True), ("90s", True)],
        *[
            ("15", False),
            ("15 minutes", False),
            ("-5m", False),
            ("1.5h", False),
            ("", False),
            ("15min", False),
        ],
    ],
)
def test_duration_pattern(value: str, valid: bool) -> None:
    pattern = field_pattern("Tenant", "Tenant.spec.auth.accessTokenTTL")
    assert bool(pattern.match(value)) is valid


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        *[("8", True), ("7500m", True), ("16Gi", True), ("0.5", True), ("1e3", True), ("128M", True)],
        *[("-1", False), ("16GB", False), ("lots", False), ("", False), ("+4", False)],
    ],
)
def test_quantity_pattern_accepts_only_non_negative_quantities(value: str, valid: bool) -> None:
    pattern = field_pattern("Tenant", "Tenant.spec.quota.cpu")
    assert bool(pattern.match(value)) is valid


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        *[("lang", True), ("product.sku", True), ("_id", True), ("a" * 63, True)],
        *[("1st", False), ("with space", False), ("a-b", False), ("a" * 64, False), ("", False)],
    ],
)
def test_payload_field_rule(value: str, valid: bool) -> None:
    pattern = cel_regex("VectorIndex", "VectorIndex.spec.payloadIndexes[].field")
    assert bool(pattern.match(value)) is valid


def examples() -> dict[str, dict[str, Any]]:
    return {path.stem: load(path) for path in sorted(EXAMPLES.glob("*.yaml"))}


def test_one_example_per_kind_naming_the_right_kind() -> None:
    found = examples()
    assert set(found) == {stem for stem, _, _ in KINDS.values()}
    for kind, (stem, scope, _) in KINDS.items():
        document = found[stem]
        assert document["apiVersion"] == f"{GROUP}/{VERSION}"
        assert document["kind"] == kind
        assert ("namespace" in document["metadata"]) == (scope == "Namespaced")


def test_examples_fit_together() -> None:
    found = examples()
    tenant, engine, pool, index = (found[s] for s in ("tenant", "engine", "workerpool", "vectorindex"))
    assert tenant["metadata"]["name"] == "acme"
    assert tenant["spec"]["namespaces"] == ["acme"]
    for document in (engine, pool, index):
        assert document["metadata"]["namespace"] == "acme"
    assert engine["spec"]["workerPoolRef"]["name"] == pool["metadata"]["name"]
    assert engine["metadata"]["name"] in pool["spec"]["engines"]
    for schedule in engine["spec"]["schedules"]:
        assert croniter.is_valid(schedule["cron"])
