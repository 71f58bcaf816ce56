"""A WorkerPool's pods mount, read-only, the volume models of the Engines it serves (and only those: same
namespace, naming the pool, allowed by its list, not being deleted), where the worker resolves their URIs;
which Engine changes concern which pools."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import workload_samples as samples

from neuroedge_operator.builders import engine as engine_builder
from neuroedge_operator.builders import pods
from neuroedge_operator.builders import workerpool as pool_builder
from neuroedge_operator.handlers import workerpool as pool_handlers
from neuroedge_operator.plan import model_volumes, pool_models
from neuroedge_operator.resources import engine as engine_model
from neuroedge_runtime.queue import settings as worker_settings
from neuroedge_runtime.serving import artifacts

PVC = "pvc://models/iris/v1.onnx"
MODELS_CLAIM = model_volumes.Volume("PersistentVolumeClaim", "models")
SMALL_MAP = model_volumes.Volume("ConfigMap", "iris-small")
CONFIGMAP = "configmap://iris-small/model.onnx"
HTTPS = {"uri": "https://models.example/m.onnx", "sha256": "a" * 64}


def engine_body(name: str, model: dict[str, Any] | None, pool: str | None = "general", **meta: Any) -> Any:
    body = samples.engine_body(type="predictive", schedules=[], modelRef=None, model=model)
    body["spec"] = {k: v for k, v in body["spec"].items() if v is not None and k not in ("modelRef",)}
    body["spec"].pop("workerPoolRef")
    if pool is not None:
        body["spec"]["workerPoolRef"] = {"name": pool}
    body["metadata"] = {**body["metadata"], "name": name, **meta}
    return body


def facts(name: str, model: dict[str, Any] | None, pool: str | None = "general", **meta: Any) -> Any:
    body = engine_body(name, model, pool, **meta)
    deleting = bool(body["metadata"].get("deletionTimestamp"))
    return pool_models.facts(engine_model.parse(body), deleting)


def served(*pairs: tuple[str, str]) -> list[pool_builder.ServedModel]:
    return [pool_builder.ServedModel(e, engine_model.ModelSource(uri=uri)) for e, uri in pairs]


def template(models: list[pool_builder.ServedModel], engines: tuple[str, ...] = ()) -> dict[str, Any]:
    pool = samples.pool(engines=list(engines))
    inputs = pool_builder.PoolInputs("acme", "img:1", 2, models=models)
    return dict(pool_builder.deployment(pool, inputs)["spec"]["template"])


def test_served_volume_models_are_mounted_read_only_where_the_worker_resolves_them() -> None:
    spec = template(served(("iris", PVC), ("small", CONFIGMAP)))["spec"]
    (container,) = spec["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    mount_dir = Path(env["NEUROEDGE_MODEL_MOUNT_DIR"])
    volumes = {v["name"]: v for v in spec["volumes"]}
    for uri, source in (
        (PVC, {"persistentVolumeClaim": {"claimName": "models", "readOnly": True}}),
        (CONFIGMAP, {"configMap": {"name": "iris-small"}}),
    ):
        resolved = str(artifacts.mounted_path(uri, mount_dir))
        (mount,) = [m for m in container["volumeMounts"] if resolved.startswith(m["mountPath"] + "/")]
        assert mount["readOnly"] is True
        assert {k: v for k, v in volumes[mount["name"]].items() if k != "name"} == source
    # Mounted exactly as the Engine's own pods mount the same model (one builder for both).
    engine = engine_model.parse(engine_body("iris", {"uri": PVC}))
    engine_spec = engine_builder.deployment(engine, engine_builder.EngineInputs("acme", "img:1"))
    engine_pod = engine_spec["spec"]["template"]["spec"]
    (engine_mount,) = [m for m in engine_pod["containers"][0]["volumeMounts"] if m["name"] == "model-store"]
    assert engine_mount["mountPath"] in {m["mountPath"] for m in container["volumeMounts"]}


def test_the_worker_s_default_mount_dir_is_the_builder_s() -> None:
    defaults = worker_settings.from_env(
        {"REDIS_URL": "redis://x", "NEUROEDGE_TENANT": "a", "NEUROEDGE_POOL": "p"}
    )
    assert defaults.model_mount_dir == engine_builder.MODEL_MOUNT_DIR
    moved = worker_settings.from_env(
        {"REDIS_URL": "r", "NEUROEDGE_TENANT": "a", "NEUROEDGE_POOL": "p", "NEUROEDGE_MODEL_MOUNT_DIR": "/m"}
    )
    assert moved.model_mount_dir == "/m"


def test_engines_on_one_claim_share_one_mount_and_names_are_dns_labels() -> None:
    long_claim = "c" * 200
    spec = template(
        served(("a", PVC), ("b", "pvc://models/other.onnx"), ("c", f"pvc://{long_claim}/m.onnx"))
    )["spec"]
    mounts = spec["containers"][0]["volumeMounts"]
    paths = [m["mountPath"] for m in mounts]
    assert len(paths) == len(set(paths)) == 3  # scratch, the shared claim, the long one
    names = [v["name"] for v in spec["volumes"]]
    assert len(names) == len(set(names))
    assert all(len(n) <= 63 and n.replace("-", "").isalnum() and n == n.lower() for n in names)


def test_pods_stay_restricted_and_pools_without_volume_models_do_not_change() -> None:
    plain = template([])
    assert "NEUROEDGE_MODEL_MOUNT_DIR" not in {e["name"] for e in plain["spec"]["containers"][0]["env"]}
    assert pool_builder.ENGINE_MODELS_ANNOTATION not in plain["metadata"]["annotations"]
    mounted = template(served(("iris", PVC)))
    (container,) = mounted["spec"]["containers"]
    assert container["securityContext"] == pods.container_security_context()
    assert mounted["spec"]["securityContext"] == pods.pod_security_context()
    allowed = {"configMap", "emptyDir", "persistentVolumeClaim", "secret", "name"}
    assert all(set(v) <= allowed for v in mounted["spec"]["volumes"])


def test_a_served_engine_s_new_model_rolls_the_pool_even_on_the_same_claim() -> None:
    first = template([pool_builder.ServedModel("iris", engine_model.ModelSource(uri=PVC, sha256="1" * 64))])
    same = template([pool_builder.ServedModel("iris", engine_model.ModelSource(uri=PVC, sha256="1" * 64))])
    swapped = template([pool_builder.ServedModel("iris", engine_model.ModelSource(uri=PVC, sha256="2" * 64))])
    moved = template(served(("iris", "pvc://models/iris/v2.onnx")))

    def hash_of(t: dict[str, Any]) -> str:
        return str(t["metadata"]["annotations"][pods.SPEC_HASH_ANNOTATION])

    assert hash_of(first) == hash_of(same)
    assert len({hash_of(first), hash_of(swapped), hash_of(moved), hash_of(template([]))}) == 4
    assert swapped["metadata"]["annotations"][pool_builder.ENGINE_MODELS_ANNOTATION] == (
        '{"iris":{"sha256":"' + "2" * 64 + '","uri":"' + PVC + '"}}'
    )


def test_a_pool_serves_only_its_namespace_s_engines_that_name_it_and_that_it_allows() -> None:
    engines = [
        facts("iris", {"uri": PVC}),
        facts("small", {"uri": CONFIGMAP}),
        facts("web", HTTPS),  # downloaded: nothing to mount
        facts("linear", None),
        facts("elsewhere", {"uri": PVC}, pool="other"),
        facts("unpooled", {"uri": PVC}, pool=None),
        facts("going", {"uri": PVC}, deletionTimestamp="2026-11-30T08:00:00Z"),
        facts("foreign", {"uri": "pvc://theirs/m.onnx"}, namespace="other-tenant"),
    ]
    every_pool = samples.pool(engines=[])
    wanted = pool_models.wanted_volumes(every_pool, engines)
    assert wanted == [SMALL_MAP, MODELS_CLAIM]
    everyone = pool_models.served_models(every_pool, engines, set(wanted))
    assert [(m.engine, m.model.uri) for m in everyone] == [("iris", PVC), ("small", CONFIGMAP)]
    allowlisted = pool_models.served_models(samples.pool(engines=["small", "web"]), engines, set(wanted))
    assert [m.engine for m in allowlisted] == ["small"]


def test_a_volume_that_does_not_exist_is_left_out_and_the_others_stay_mounted() -> None:
    engines = [
        facts("iris", {"uri": PVC}),
        facts("typo", {"uri": "configmap://iris-smal/model.onnx"}),
        facts("small", {"uri": CONFIGMAP}),
    ]
    pool = samples.pool(engines=[])
    existing = {MODELS_CLAIM, SMALL_MAP}
    # A ConfigMap of the same name as a claim is not that claim (and the other way round).
    existing |= {model_volumes.Volume("PersistentVolumeClaim", "iris-smal")}
    found = pool_models.served_models(pool, engines, existing)
    assert [(m.engine, m.model.uri) for m in found] == [("iris", PVC), ("small", CONFIGMAP)]
    spec = template(found)["spec"]
    volumes = spec["volumes"]
    maps = {v["configMap"]["name"] for v in volumes if "configMap" in v}
    claims = {v["persistentVolumeClaim"]["claimName"] for v in volumes if "persistentVolumeClaim" in v}
    assert (maps, claims) == ({"iris-small"}, {"models"})
    annotation = template(found)["metadata"]["annotations"][pool_builder.ENGINE_MODELS_ANNOTATION]
    assert set(json.loads(annotation)) == {"iris", "small"}  # the Engine left out rolls nothing
    assert pool_models.served_models(pool, engines, set()) == []


@pytest.mark.parametrize(
    ("old", "new", "pools"),
    [
        ({"uri": PVC}, {"uri": PVC}, []),  # a status write, a replica count: nothing for the pool
        (None, {"uri": PVC}, [("acme", "general")]),
        ({"uri": PVC}, {"uri": "pvc://models/iris/v2.onnx"}, [("acme", "general")]),
        ({"uri": PVC}, HTTPS, [("acme", "general")]),  # no longer on a volume: unmount it
        (HTTPS, {**HTTPS, "sha256": "b" * 64}, []),  # downloaded models are not the pool's business
    ],
)
def test_which_model_changes_concern_the_pool(
    old: dict[str, Any] | None, new: dict[str, Any] | None, pools: list[tuple[str, str]]
) -> None:
    assert pool_models.affected_pools(facts("iris", old), facts("iris", new)) == pools


def test_moving_deleting_and_creating_an_engine_concern_the_pools_before_and_after() -> None:
    before = facts("iris", {"uri": PVC}, pool="general")
    after = facts("iris", {"uri": PVC}, pool="gpu")
    assert pool_models.affected_pools(before, after) == [("acme", "general"), ("acme", "gpu")]
    deleting = facts("iris", {"uri": PVC}, deletionTimestamp="2026-11-30T08:00:00Z")
    assert pool_models.affected_pools(before, deleting) == [("acme", "general")]
    assert pool_models.affected_pools(deleting, None) == [("acme", "general")]
    assert pool_models.affected_pools(None, before) == [("acme", "general")]
    assert pool_models.affected_pools(None, None) == []


def test_facts_ignore_everything_but_pool_model_and_deletion() -> None:
    body = engine_body("iris", {"uri": PVC})
    scaled = copy.deepcopy(body)
    scaled["spec"]["replicas"] = 5
    scaled["metadata"]["generation"] = 9
    parsed = [engine_model.parse(b) for b in (body, scaled)]
    assert pool_models.facts(parsed[0], False) == pool_models.facts(parsed[1], False)


def test_the_handler_reads_facts_from_raw_bodies_and_skips_what_does_not_parse() -> None:
    body = engine_body("iris", {"uri": PVC})
    assert pool_handlers.engine_facts(body) == facts("iris", {"uri": PVC})
    going = {**body, "metadata": {**body["metadata"], "deletionTimestamp": "2026-11-30T08:00:00Z"}}
    found = pool_handlers.engine_facts(going)
    assert found is not None and found.deleting
    broken = {**body, "spec": {**body["spec"], "model": {"uri": "ftp://x/m.onnx"}}}
    assert pool_handlers.engine_facts(broken) is None
    assert pool_handlers.engine_facts(None) is None


def test_an_engine_whose_new_volume_is_missing_keeps_the_model_the_pool_s_pods_started_with() -> None:
    pool = samples.pool(engines=[])
    live = pool_builder.deployment(
        pool, pool_builder.PoolInputs("acme", "img:1", 2, models=served(("iris", PVC)))
    )
    previous = pool_models.started_models(live)
    assert previous == {"iris": engine_model.ModelSource(uri=PVC)}
    moved = [facts("iris", {"uri": "pvc://fresh/iris/v2.onnx"})]
    fresh = model_volumes.Volume("PersistentVolumeClaim", "fresh")
    assert pool_models.wanted_volumes(pool, moved, previous) == [fresh, MODELS_CLAIM]
    # The new claim is missing: the pods keep the model they were started with (nothing rolls) ...
    kept = pool_models.served_models(pool, moved, {MODELS_CLAIM}, previous)
    assert [(m.engine, m.model.uri) for m in kept] == [("iris", PVC)]
    assert template(kept) == template(served(("iris", PVC)))
    # ... the new one once it exists; neither when both are gone; never for an Engine no longer served.
    now = pool_models.served_models(pool, moved, {MODELS_CLAIM, fresh}, previous)
    assert [m.model.uri for m in now] == ["pvc://fresh/iris/v2.onnx"]
    assert pool_models.served_models(pool, moved, set(), previous) == []
    elsewhere = [facts("iris", {"uri": "pvc://fresh/iris/v2.onnx"}, pool="other")]
    assert pool_models.served_models(pool, elsewhere, {MODELS_CLAIM}, previous) == []
    downloaded = [facts("iris", HTTPS)]
    assert pool_models.served_models(pool, downloaded, {MODELS_CLAIM}, previous) == []


@pytest.mark.parametrize(
    "annotations",
    [{}, {pool_builder.ENGINE_MODELS_ANNOTATION: "not json"}, {pool_builder.ENGINE_MODELS_ANNOTATION: "[1]"}],
)
def test_started_models_of_a_template_without_a_readable_annotation_are_none(
    annotations: dict[str, str],
) -> None:
    assert (
        pool_models.started_models({"spec": {"template": {"metadata": {"annotations": annotations}}}}) == {}
    )
    assert pool_models.started_models(None) == {}


def test_a_started_model_that_no_longer_parses_is_left_out() -> None:
    served_json = json.dumps({"iris": {"uri": PVC}, "bad": {"uri": "ftp://x/m.onnx"}, "odd": "x"})
    annotations = {pool_builder.ENGINE_MODELS_ANNOTATION: served_json}
    found = pool_models.started_models({"spec": {"template": {"metadata": {"annotations": annotations}}}})
    assert found == {"iris": engine_model.ModelSource(uri=PVC)}
