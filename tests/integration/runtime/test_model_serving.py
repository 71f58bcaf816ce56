"""Trained models served end to end: scikit-learn models converted to ONNX, fetched by URI and digest from a
loopback HTTP server (or a mounted volume), served over the Open Inference Protocol v2 (plain HTTP and
tritonclient, JSON and binary tensors) and `/engine/predict`, against the real PostgreSQL and Redis."""

from __future__ import annotations

import asyncio
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import numpy as np
import pytest
import tritonclient.http as triton_http
import tritonclient.http.aio as triton_aio
from aiohttp.test_utils import TestClient
from onnx_models import ModelServer, Trained, diabetes_regressor, iris_classifier, model_server
from runtime_helpers import Tenant, add_model_engine, bearer, create_user, login

Client = TestClient[Any, Any]


@pytest.fixture(scope="module")
def iris() -> Trained:
    return iris_classifier()


@pytest.fixture(scope="module")
def forest() -> Trained:
    return iris_classifier("forest")


@pytest.fixture(scope="module")
def diabetes() -> Trained:
    return diabetes_regressor()


@pytest.fixture
async def models() -> Any:
    async with model_server() as server:
        yield server


async def set_model(pool: asyncpg.Pool, tenant: str, name: str, model: dict[str, Any]) -> None:
    await pool.execute(
        "UPDATE neuroedge.engines SET model = $3::jsonb WHERE tenant_id = $1 AND name = $2",
        tenant,
        name,
        json.dumps(model),
    )


async def report(pool: asyncpg.Pool, tenant: str, name: str) -> asyncpg.Record:
    row = await pool.fetchrow(
        "SELECT * FROM neuroedge.engine_model_reports WHERE tenant_id = $1 AND name = $2", tenant, name
    )
    assert row is not None
    return row


@dataclass
class Env:
    client: Client
    tenant: Tenant
    tokens: dict[str, Any]
    server: ModelServer
    pool: asyncpg.Pool
    mounts: Path
    cache: Path

    @property
    def auth(self) -> dict[str, str]:
        return bearer(self.tokens)

    async def infer(self, name: str, body: dict[str, Any], **kwargs: Any) -> Any:
        return await self.client.post(f"/v2/models/{name}/infer", json=body, headers=self.auth, **kwargs)


@pytest.fixture
async def env(
    make_client: Any,
    make_tenant: Any,
    admin_pool: asyncpg.Pool,
    models: ModelServer,
    iris: Trained,
    diabetes: Trained,
    tmp_path: Path,
) -> Env:
    client = await make_client(
        model_cache_dir=tmp_path / "cache", model_mount_dir=tmp_path / "mounts", model_retry_seconds=0
    )
    tenant: Tenant = await make_tenant("onnx")
    models.files |= {"iris.onnx": iris.onnx, "diabetes.onnx": diabetes.onnx}
    await add_model_engine(
        admin_pool, tenant.name, "iris", {"uri": models.url("iris.onnx"), "sha256": iris.sha256}
    )
    await add_model_engine(
        admin_pool, tenant.name, "diabetes", {"uri": models.url("diabetes.onnx"), "sha256": diabetes.sha256}
    )
    tokens = await login(client, tenant)
    return Env(client, tenant, tokens, models, admin_pool, tmp_path / "mounts", tmp_path / "cache")


def iris_body(x: np.ndarray, **extra: Any) -> dict[str, Any]:
    return {
        "inputs": [{"name": "X", "shape": list(x.shape), "datatype": "FP32", "data": x.tolist()}],
        **extra,
    }


def outputs_of(document: dict[str, Any]) -> dict[str, np.ndarray]:
    return {o["name"]: np.array(o["data"]).reshape(o["shape"]) for o in document["outputs"]}


async def test_classifier_predictions_equal_scikit_learn_s(env: Env, iris: Trained) -> None:
    resp = await env.infer("iris", iris_body(iris.x, id="all-of-iris"))
    assert resp.status == 200, await resp.text()
    document = await resp.json()
    assert document["id"] == "all-of-iris" and document["model_name"] == "iris"
    assert document["model_version"] == iris.sha256
    out = outputs_of(document)
    assert out["label"].tolist() == iris.estimator.predict(iris.x).tolist()
    np.testing.assert_allclose(out["probabilities"], iris.estimator.predict_proba(iris.x), atol=1e-5)


async def test_regressor_predictions_equal_scikit_learn_s(env: Env, diabetes: Trained) -> None:
    body = {
        "inputs": [
            {
                "name": "X",
                "shape": list(diabetes.x.shape),
                "datatype": "FP64",
                "data": diabetes.x.ravel().tolist(),
            }
        ]
    }
    resp = await env.infer("diabetes", body)
    assert resp.status == 200, await resp.text()
    out = outputs_of(await resp.json())
    np.testing.assert_allclose(out["variable"].ravel(), diabetes.estimator.predict(diabetes.x), rtol=1e-9)


async def test_model_metadata_ready_and_the_load_report(env: Env, iris: Trained) -> None:
    resp = await env.client.get("/v2/models/iris", headers=env.auth)
    assert resp.status == 200
    meta = await resp.json()
    assert meta["name"] == "iris" and meta["versions"] == [iris.sha256]
    assert meta["inputs"] == [{"name": "X", "datatype": "FP32", "shape": [-1, 4]}]
    assert {o["name"]: o["datatype"] for o in meta["outputs"]} == {"label": "INT64", "probabilities": "FP32"}
    assert (await env.client.get("/v2/models/iris/ready", headers=env.auth)).status == 200
    row = await report(env.pool, env.tenant.name, "iris")
    assert row["loaded"] and row["reason"] == "Loaded" and row["sha256"] == iris.sha256
    assert json.loads(row["inputs"]) == meta["inputs"]
    assert (env.cache / f"{iris.sha256}.onnx").read_bytes() == iris.onnx
    # Loaded once: later requests do not fetch again.
    for _ in range(3):
        assert (await env.infer("iris", iris_body(iris.x[:2]))).status == 200
    assert env.server.hits["iris.onnx"] == 1


async def test_server_endpoints_are_public_and_model_endpoints_need_a_token(env: Env) -> None:
    server = await (await env.client.get("/v2")).json()
    assert server["name"] == "neuroedge" and "binary_tensor_data" in server["extensions"]
    assert (await env.client.get("/v2/health/live")).status == 200
    assert (await env.client.get("/v2/health/ready")).status == 200
    resp = await env.client.post("/v2/models/iris/infer", json={})
    assert resp.status == 401 and "error" in await resp.json()


async def test_tritonclient_with_binary_tensors_and_with_json(env: Env, iris: Trained) -> None:
    url = f"127.0.0.1:{env.client.server.port}"
    expected = iris.estimator.predict_proba(iris.x)
    client = triton_aio.InferenceServerClient(url)
    try:
        assert await client.is_server_live() and await client.is_model_ready("iris", headers=env.auth)
        meta = await client.get_model_metadata("iris", headers=env.auth)
        assert meta["inputs"][0]["shape"] == [-1, 4]
        for binary in (True, False):
            tensor = triton_http.InferInput("X", list(iris.x.shape), "FP32")
            tensor.set_data_from_numpy(iris.x, binary_data=binary)
            wanted = [
                triton_http.InferRequestedOutput("label", binary_data=binary),
                triton_http.InferRequestedOutput("probabilities", binary_data=binary),
            ]
            result = await client.infer("iris", [tensor], outputs=wanted, headers=env.auth, request_id="r1")
            assert result.as_numpy("label").tolist() == iris.estimator.predict(iris.x).tolist()
            np.testing.assert_allclose(result.as_numpy("probabilities"), expected, atol=1e-5)
            assert result.get_response()["id"] == "r1"
        # Its defaults: binary input, no outputs named (all of them, binary).
        tensor = triton_http.InferInput("X", list(iris.x.shape), "FP32")
        tensor.set_data_from_numpy(iris.x)
        result = await client.infer("iris", [tensor], headers=env.auth)
        assert result.as_numpy("label").tolist() == iris.estimator.predict(iris.x).tolist()
    finally:
        await client.close()


async def test_synchronous_tritonclient_works_unchanged(env: Env, iris: Trained) -> None:
    url = f"127.0.0.1:{env.client.server.port}"

    def call() -> np.ndarray:
        client = triton_http.InferenceServerClient(url)
        try:
            tensor = triton_http.InferInput("X", list(iris.x.shape), "FP32")
            tensor.set_data_from_numpy(iris.x)
            return client.infer("iris", [tensor], headers=env.auth).as_numpy("probabilities")  # type: ignore[no-any-return]
        finally:
            client.close()

    np.testing.assert_allclose(await asyncio.to_thread(call), iris.estimator.predict_proba(iris.x), atol=1e-5)


MALFORMED = [
    (
        {"inputs": [{"name": "nope", "shape": [1, 4], "datatype": "FP32", "data": [1, 2, 3, 4]}]},
        "unknown input 'nope'",
    ),
    (
        {"inputs": [{"name": "X", "shape": [1, 4], "datatype": "FP64", "data": [1, 2, 3, 4]}]},
        "datatype FP64 given, the model expects FP32",
    ),
    (
        {"inputs": [{"name": "X", "shape": [2, 4], "datatype": "FP32", "data": [1, 2, 3, 4]}]},
        "holds 8 elements but data has 4",
    ),
    (
        {"inputs": [{"name": "X", "shape": [1, 3], "datatype": "FP32", "data": [1, 2, 3]}]},
        "does not fit the model's",
    ),
    (
        {"inputs": [{"name": "X", "shape": [1, 4], "datatype": "FP32", "data": ["a", 2, 3, 4]}]},
        "needs numbers",
    ),
    ({"inputs": []}, "inputs"),
    (
        {
            "inputs": [{"name": "X", "shape": [1, 4], "datatype": "FP32", "data": [1, 2, 3, 4]}],
            "outputs": [{"name": "zz"}],
        },
        "unknown output 'zz'",
    ),
    ({"inputs": [{"name": "X", "shape": [1, 4], "datatype": "FP32"}]}, "neither data nor binary_data_size"),
]


@pytest.mark.parametrize(("body", "message"), MALFORMED)
async def test_every_malformed_tensor_is_a_400_with_the_protocol_s_error_body(
    env: Env, body: dict[str, Any], message: str
) -> None:
    resp = await env.infer("iris", body)
    assert resp.status == 400
    document = await resp.json()
    assert set(document) == {"error"} and message in document["error"]


async def test_malformed_binary_and_bodies(env: Env) -> None:
    header = json.dumps(
        {
            "inputs": [
                {"name": "X", "shape": [1, 4], "datatype": "FP32", "parameters": {"binary_data_size": 16}}
            ]
        }
    ).encode()
    resp = await env.client.post(
        "/v2/models/iris/infer",
        data=header + b"\x00" * 8,
        headers={**env.auth, "Inference-Header-Content-Length": str(len(header))},
    )
    assert resp.status == 400 and "runs past the end" in (await resp.json())["error"]
    resp = await env.client.post("/v2/models/iris/infer", data=b"{not json", headers=env.auth)
    assert resp.status == 400 and "not valid JSON" in (await resp.json())["error"]
    missing = await env.infer("nothing-here", iris_body(np.zeros((1, 4), np.float32)))
    assert missing.status == 404 and await missing.json() == {"error": "no model named 'nothing-here'"}


async def test_request_over_the_body_limit_is_413(make_client: Any, env: Env) -> None:
    small = await make_client(max_body_bytes=1024, model_mount_dir=env.mounts, model_cache_dir=env.cache)
    resp = await small.post(
        "/v2/models/iris/infer", json=iris_body(np.zeros((100, 4), np.float32)), headers=env.auth
    )
    assert resp.status == 413 and "error" in await resp.json()


async def test_another_tenant_s_engine_is_the_same_404_as_a_missing_one(
    env: Env, make_tenant: Any, iris: Trained
) -> None:
    other: Tenant = await make_tenant("other")
    tokens = await login(env.client, other)
    for path in ("/v2/models/iris", "/v2/models/iris/ready"):
        resp = await env.client.get(path, headers=bearer(tokens))
        assert resp.status == 404 and await resp.json() == {"error": "no model named 'iris'"}
    resp = await env.client.post("/v2/models/iris/infer", json=iris_body(iris.x[:1]), headers=bearer(tokens))
    assert resp.status == 404 and await resp.json() == {"error": "no model named 'iris'"}
    resp = await env.client.post(
        "/engine/predict",
        json={"engine": "iris", "input": {"instances": [[1, 2, 3, 4]]}},
        headers=bearer(tokens),
    )
    assert resp.status == 404


async def test_digest_mismatch_is_never_loaded_and_is_reported(
    env: Env, iris: Trained, diabetes: Trained
) -> None:
    await add_model_engine(
        env.pool, env.tenant.name, "liar", {"uri": env.server.url("iris.onnx"), "sha256": diabetes.sha256}
    )
    resp = await env.infer("liar", iris_body(iris.x[:1]))
    assert resp.status == 503
    assert "DigestMismatch" in (await resp.json())["error"]
    assert (await env.client.get("/v2/models/liar/ready", headers=env.auth)).status == 503
    row = await report(env.pool, env.tenant.name, "liar")
    assert not row["loaded"] and row["reason"] == "DigestMismatch" and iris.sha256 in row["message"]
    assert not (env.cache / f"{diabetes.sha256}.onnx").exists()


@pytest.mark.parametrize(
    ("files", "uri_path", "reason"),
    [({}, "gone.onnx", "Unreachable"), ({"junk.onnx": b"not a model at all"}, "junk.onnx", "InvalidModel")],
)
async def test_unreachable_and_invalid_models_fail_with_their_reason(
    env: Env, files: dict[str, bytes], uri_path: str, reason: str
) -> None:
    env.server.files |= files
    digest = hashlib.sha256(files.get(uri_path, b"")).hexdigest()
    await add_model_engine(
        env.pool, env.tenant.name, "bad", {"uri": env.server.url(uri_path), "sha256": digest}
    )
    resp = await env.infer("bad", iris_body(np.zeros((1, 4), np.float32)))
    assert resp.status == 503 and reason in (await resp.json())["error"]
    row = await report(env.pool, env.tenant.name, "bad")
    assert not row["loaded"] and row["reason"] == reason


async def test_too_large_model_is_refused(make_client: Any, env: Env, iris: Trained) -> None:
    small = await make_client(
        model_max_bytes=len(iris.onnx) - 1, model_cache_dir=env.cache / "small", model_mount_dir=env.mounts
    )
    resp = await small.post("/v2/models/iris/infer", json=iris_body(iris.x[:1]), headers=env.auth)
    assert resp.status == 503 and "TooLarge" in (await resp.json())["error"]


async def test_model_swap_serves_the_new_model_and_a_bad_one_keeps_the_old(
    env: Env, iris: Trained, forest: Trained
) -> None:
    assert (await env.infer("iris", iris_body(iris.x[:1]))).status == 200
    env.server.files["forest.onnx"] = forest.onnx
    await set_model(
        env.pool, env.tenant.name, "iris", {"uri": env.server.url("forest.onnx"), "sha256": forest.sha256}
    )
    document = await (await env.infer("iris", iris_body(iris.x))).json()
    assert document["model_version"] == forest.sha256
    np.testing.assert_allclose(
        outputs_of(document)["probabilities"], forest.estimator.predict_proba(iris.x), atol=1e-5
    )
    # A new model that fails to load leaves the last good one serving; the report says why.
    await set_model(
        env.pool, env.tenant.name, "iris", {"uri": env.server.url("missing.onnx"), "sha256": "f" * 64}
    )
    document = await (await env.infer("iris", iris_body(iris.x[:3]))).json()
    assert document["model_version"] == forest.sha256
    assert (await report(env.pool, env.tenant.name, "iris"))["reason"] == "Unreachable"


@pytest.mark.parametrize("scheme", ["pvc", "configmap"])
async def test_models_on_mounted_volumes_load_from_the_mount_path(
    env: Env, iris: Trained, scheme: str
) -> None:
    # The Engine builder mounts pvc://claim/... and configmap://name/... at <mount dir>/<scheme>/<volume>.
    path = env.mounts / scheme / "models" / "iris.onnx"
    path.parent.mkdir(parents=True)
    path.write_bytes(iris.onnx)
    await add_model_engine(env.pool, env.tenant.name, "mounted", {"uri": f"{scheme}://models/iris.onnx"})
    document = await (await env.infer("mounted", iris_body(iris.x))).json()
    assert document["model_version"] == iris.sha256
    assert outputs_of(document)["label"].tolist() == iris.estimator.predict(iris.x).tolist()
    await set_model(
        env.pool, env.tenant.name, "mounted", {"uri": f"{scheme}://models/iris.onnx", "sha256": "0" * 64}
    )
    resp = await env.infer("mounted", iris_body(iris.x[:1]))
    assert (await report(env.pool, env.tenant.name, "mounted"))["reason"] == "DigestMismatch"
    assert resp.status == 200  # the previous good model keeps serving


async def test_engine_predict_serves_onnx_engines(env: Env, iris: Trained) -> None:
    member = await create_user(env.client, env.tokens, "m@example.com", "member")
    assert member["role"] == "member"
    tokens = await login(env.client, env.tenant, "m@example.com", "correct horse battery")
    rows = iris.x[:5].tolist()
    for payload in ({"instances": rows}, {"inputs": {"X": rows}}):
        resp = await env.client.post(
            "/engine/predict", json={"engine": "iris", "input": payload}, headers=bearer(tokens)
        )
        assert resp.status == 200, await resp.text()
        result = (await resp.json())["result"]
        assert result["model"] == {"sha256": iris.sha256}
        assert result["outputs"]["label"] == iris.estimator.predict(iris.x[:5]).tolist()
    resp = await env.client.post(
        "/engine/predict",
        json={"engine": "iris", "input": {"instances": [[1, 2], [3]]}},
        headers=bearer(tokens),
    )
    assert resp.status == 422 and "not rectangular" in (await resp.json())["detail"]


async def test_batching_returns_each_caller_its_own_rows_under_concurrency(env: Env, iris: Trained) -> None:
    await add_model_engine(
        env.pool,
        env.tenant.name,
        "batched",
        {
            "uri": env.server.url("iris.onnx"),
            "sha256": iris.sha256,
            "batching": {"maxBatchSize": 16, "maxDelayMilliseconds": 20},
        },
    )
    # One row per request, plus requests of 3 rows and one of 40 (larger than maxBatchSize: runs alone).
    slices = [iris.x[i : i + 1] for i in range(0, 150, 3)] + [iris.x[i : i + 3] for i in range(0, 60, 7)]
    slices.append(iris.x[50:90])
    responses = await asyncio.gather(
        *(env.infer("batched", iris_body(s, id=str(i))) for i, s in enumerate(slices))
    )
    for i, (rows, resp) in enumerate(zip(slices, responses, strict=True)):
        document = await resp.json()
        assert document["id"] == str(i)
        out = outputs_of(document)
        assert out["label"].tolist() == iris.estimator.predict(rows).tolist()
        np.testing.assert_allclose(out["probabilities"], iris.estimator.predict_proba(rows), atol=1e-5)
    # Every row of a request that fits a batch went through the batcher (the 40-row one ran alone).
    metrics = await (await env.client.get("/metrics")).text()
    assert "neuroedge_inference_batch_rows_sum 77.0" in metrics
    assert 'neuroedge_model_loads_total{reason="Loaded"}' in metrics


async def test_an_engine_s_own_pod_loads_and_reports_its_model_without_a_request(
    env: Env, make_client: Any, iris: Trained
) -> None:
    await make_client(
        engine="iris",
        tenant=env.tenant.name,
        instance="engine-iris-pod-1",
        model_watch_seconds=0.1,
        model_cache_dir=env.cache / "pod",
        model_mount_dir=env.mounts,
    )
    query = (
        "SELECT loaded, sha256 FROM neuroedge.engine_model_reports "
        "WHERE tenant_id = $1 AND name = 'iris' AND instance = 'engine-iris-pod-1'"
    )
    async with asyncio.timeout(30):
        while (row := await env.pool.fetchrow(query, env.tenant.name)) is None:
            await asyncio.sleep(0.1)
    assert row["loaded"] and row["sha256"] == iris.sha256


async def test_the_model_s_only_version_is_its_sha256(env: Env, iris: Trained) -> None:
    versioned = f"/v2/models/iris/versions/{iris.sha256}"
    assert (await env.client.get(f"{versioned}/ready", headers=env.auth)).status == 200
    resp = await env.client.post(f"{versioned}/infer", json=iris_body(iris.x[:2]), headers=env.auth)
    assert resp.status == 200
    resp = await env.client.get("/v2/models/iris/versions/1", headers=env.auth)
    assert resp.status == 404 and await resp.json() == {"error": "model 'iris' has no version '1'"}


async def test_rate_limited_inference_is_429_with_the_protocol_s_error_body(
    env: Env, make_tenant: Any, iris: Trained
) -> None:
    tenant: Tenant = await make_tenant("slow", rate_limit_rps=0.01, rate_limit_burst=2)
    await add_model_engine(
        env.pool, tenant.name, "iris", {"uri": env.server.url("iris.onnx"), "sha256": iris.sha256}
    )
    auth = bearer(await login(env.client, tenant))
    statuses = []
    for _ in range(3):
        resp = await env.client.post("/v2/models/iris/infer", json=iris_body(iris.x[:1]), headers=auth)
        statuses.append(resp.status)
    assert statuses == [200, 200, 429]
    assert "rate limit" in (await resp.json())["error"] and "Retry-After" in resp.headers
