"""`POST /engine/run` and `GET /jobs/{job_id}` on the real queue: a real `neuroedge runtime worker` process
runs the job with the same engine code as the synchronous endpoints; idempotency keys, errors as problem+json,
and isolation (a tenant can neither read another tenant's jobs by id nor enqueue into its queues)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import onnx_models
import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient
from runtime_helpers import Tenant, add_engine, add_model_engine, bearer, create_user, login

from neuroedge_queue import jobs, keys

Client = TestClient[Any, Any]
NEUROEDGE_RUNTIME = Path(sys.executable).parent / "neuroedge-runtime"
MODEL = {"model": "logistic", "weights": {"tenure": -0.5, "tickets": 1.2}, "bias": 0.3}
PROBLEM = "application/problem+json"


@pytest.fixture
def pool() -> str:
    return f"jobs-{uuid.uuid4().hex[:8]}"


@pytest.fixture
async def redis_client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
def spawn_worker(redis_url: str, pool: str, tmp_path: Path) -> Iterator[Callable[..., None]]:
    """`spawn_worker(tenant, **env)`: a worker process of `pool` of `tenant`, with extra environment
    variables (killed at teardown)."""
    started: list[subprocess.Popen[bytes]] = []

    def spawn(tenant: str, **extra: str) -> None:
        env = {
            **os.environ,
            "REDIS_URL": redis_url,
            "NEUROEDGE_TENANT": tenant,
            "NEUROEDGE_POOL": pool,
            "NEUROEDGE_CONSUMER": f"test-{tenant}",
            "NEUROEDGE_MAX_DELIVERIES": "3",
            "NEUROEDGE_RETRY_BASE_SECONDS": "0.05",
            **extra,
        }
        log = (tmp_path / f"worker-{tenant}.log").open("ab")
        argv = [str(NEUROEDGE_RUNTIME), "worker"]
        started.append(subprocess.Popen(argv, env=env, stdout=log, stderr=log))

    yield spawn
    for proc in started:
        proc.kill()
        proc.wait(timeout=10)


@pytest.fixture
async def env(make_client: Any, make_tenant: Any, admin_pool: Any, pool: str) -> dict[str, Any]:
    """A runtime whose jobs go to `pool`, a tenant with engines, and its member and viewer tokens."""
    client = await make_client(pool=pool)
    tenant: Tenant = await make_tenant("jobs")
    await add_engine(admin_pool, tenant.name, "churn", "predictive", MODEL)
    await add_engine(admin_pool, tenant.name, "stats", "analytics", {"percentiles": [50]})
    admin = await login(client, tenant)
    await create_user(client, admin, "m@example.com", "member")
    await create_user(client, admin, "v@example.com", "viewer")
    return {
        "client": client,
        "tenant": tenant,
        "member": await login(client, tenant, "m@example.com", "correct horse battery"),
        "viewer": await login(client, tenant, "v@example.com", "correct horse battery"),
    }


async def run(client: Client, tokens: dict[str, Any], **body: Any) -> Any:
    return await client.post("/engine/run", json=body, headers=bearer(tokens))


async def wait_final(client: Client, tokens: dict[str, Any], job_id: str, timeout: float = 60) -> Any:
    """Poll GET /jobs/{id} until the job is final; its JSON."""
    for _ in range(int(timeout / 0.05)):
        resp = await client.get(f"/jobs/{job_id}", headers=bearer(tokens))
        assert resp.status == 200, await resp.text()
        doc = await resp.json()
        if doc["status"] in {s.value for s in jobs.FINAL}:
            return doc
        await asyncio.sleep(0.05)
    pytest.fail(f"job {job_id} not final after {timeout}s: {doc}")


async def test_run_is_executed_by_a_worker_like_the_synchronous_endpoint(
    env: dict[str, Any], spawn_worker: Callable[[str], None]
) -> None:
    client, member, viewer = env["client"], env["member"], env["viewer"]
    features = {"features": {"tenure": 2, "tickets": 3}}
    resp = await run(client, member, engine="churn", input=features)
    assert resp.status == 202, await resp.text()
    accepted = await resp.json()
    assert keys.JOB_ID.match(accepted["job_id"])
    assert accepted["status"] == "queued" and accepted["created"] is True
    assert resp.headers["Location"] == accepted["location"] == f"/jobs/{accepted['job_id']}"
    queued = await (await client.get(accepted["location"], headers=bearer(viewer))).json()
    assert queued["status"] == "queued" and queued["engine"] == "churn" and queued["result"] is None

    spawn_worker(env["tenant"].name)
    done = await wait_final(client, viewer, accepted["job_id"])
    synchronous = await client.post(
        "/engine/predict", json={"engine": "churn", "input": features}, headers=bearer(member)
    )
    assert done["status"] == "succeeded" and done["attempts"] == 1 and done["error"] is None
    assert done["result"] == (await synchronous.json())["result"]
    assert done["enqueued_at"] <= done["started_at"] <= done["finished_at"]
    assert "worker" not in done

    analytics = await (await run(client, member, engine="stats", input={"series": [1, 2, 3, 10]})).json()
    stats = await wait_final(client, viewer, analytics["job_id"])
    assert stats["status"] == "succeeded" and stats["result"]["percentiles"] == {"p50": 2.5}


async def test_input_the_engine_rejects_fails_the_job_without_retries(
    env: dict[str, Any], spawn_worker: Callable[[str], None]
) -> None:
    client = env["client"]
    spawn_worker(env["tenant"].name)
    resp = await run(client, env["member"], engine="churn", input={"features": {"tenure": 1}})
    assert resp.status == 202
    done = await wait_final(client, env["viewer"], (await resp.json())["job_id"])
    assert done["status"] == "failed" and done["attempts"] == 1
    assert "features do not match the model" in done["error"] and "tickets" in done["error"]


async def test_idempotency_key_returns_the_first_job_per_tenant(
    env: dict[str, Any], make_tenant: Any, admin_pool: Any
) -> None:
    client, member = env["client"], env["member"]
    features = {"features": {"tenure": 1, "tickets": 0}}
    body = {"engine": "churn", "input": features, "idempotency_key": "order-42"}
    first = await (await run(client, member, **body)).json()
    again = await run(client, member, **{**body, "input": {"features": {"tenure": 9, "tickets": 9}}})
    assert again.status == 202
    second = await again.json()
    assert second["job_id"] == first["job_id"] and second["created"] is False
    assert second["status"] == "queued" and again.headers["Location"] == first["location"]
    other = await (await run(client, member, **{**body, "idempotency_key": "order-43"})).json()
    assert other["job_id"] != first["job_id"] and other["created"] is True

    # The same key in another tenant is another tenant's key: a job of its own.
    tenant_b: Tenant = await make_tenant("jobs-b")
    await add_engine(admin_pool, tenant_b.name, "churn", "predictive", MODEL)
    theirs = await (await run(client, await login(client, tenant_b), **body)).json()
    assert theirs["created"] is True and theirs["job_id"] != first["job_id"]


async def test_errors_are_problems(env: dict[str, Any], make_client: Any) -> None:
    client, member, viewer = env["client"], env["member"], env["viewer"]
    cases = [
        (await run(client, member, engine="nope", input={}), 404, "not-found"),
        (await run(client, viewer, engine="churn", input={}), 403, "forbidden"),
        (await client.post("/engine/run", json={"engine": "churn"}), 401, "unauthorized"),
        (await run(client, member, engine="churn", input=[1]), 422, "invalid-request"),
        (await run(client, member, engine="churn", idempotency_key="has space"), 422, "invalid-request"),
        (await run(client, member, engine="churn", tenant=env["tenant"].name), 422, "invalid-request"),
        (await client.get("/jobs/" + "0" * 26), 401, "unauthorized"),
    ]
    for resp, status, slug in cases:
        assert resp.status == status, (status, await resp.text())
        assert resp.content_type == PROBLEM
        assert (await resp.json())["type"] == f"https://neuroedge.io/problems/{slug}"

    without_pool = await make_client(pool=None)
    resp = await without_pool.post(
        "/engine/run", json={"engine": "churn", "input": {}}, headers=bearer(member)
    )
    assert resp.status == 503 and resp.content_type == PROBLEM
    resp = await without_pool.get("/jobs/" + jobs.new_job_id(), headers=bearer(viewer))
    assert resp.status == 404


async def test_a_tenant_cannot_read_or_enqueue_into_another_tenants_queue(
    env: dict[str, Any], make_tenant: Any, admin_pool: Any, redis_client: aioredis.Redis, pool: str
) -> None:
    client, member_a = env["client"], env["member"]
    tenant_a: Tenant = env["tenant"]
    tenant_b: Tenant = await make_tenant("jobs-b")
    await add_engine(admin_pool, tenant_b.name, "churn", "predictive", MODEL)
    admin_b = await login(client, tenant_b)
    job_a = (await (await run(client, member_a, engine="churn", input={})).json())["job_id"]

    # B asks for A's job by its real id, for a guessed id of A's format, and for garbage: one answer.
    answers = []
    for job_id in (job_a, jobs.new_job_id(), job_a.lower(), "x" * 300, "..%2F..%2Fstream", job_a + "0"):
        resp = await client.get(f"/jobs/{job_id}", headers=bearer(admin_b))
        assert resp.status == 404 and resp.content_type == PROBLEM
        body = await resp.json()
        answers.append((body["type"], body["title"], body["detail"]))
    assert len(set(answers)) == 1
    assert (await client.get(f"/jobs/{job_a}", headers=bearer(member_a))).status == 200

    # A's token enqueues into A's queue only, whatever the body says; B's queue keys never appear.
    resp = await run(client, member_a, engine="churn", input={"tenant": tenant_b.name, "pool": pool})
    assert resp.status == 202
    assert await redis_client.xlen(keys.QueueKeys(tenant_a.name, pool).stream) == 2
    pool_keys = {k.decode() async for k in redis_client.scan_iter(match=f"*.{pool}}}*")}
    prefix = keys.QueueKeys(tenant_a.name, pool).prefix
    assert pool_keys and all(k.startswith(prefix) for k in pool_keys), pool_keys
    # B's engine "churn" is not reachable through A's token either: A's run used A's registry row.
    state = await (await client.get(f"/jobs/{job_a}", headers=bearer(member_a))).json()
    assert state["engine"] == "churn" and state["status"] == "queued"


async def test_a_model_serving_engine_scores_a_large_batch_on_the_worker_pool(
    env: dict[str, Any], admin_pool: Any, spawn_worker: Callable[[str], None]
) -> None:
    client, member, tenant = env["client"], env["member"], env["tenant"]
    iris = onnx_models.iris_classifier()
    async with onnx_models.model_server() as server:
        server.files["iris.onnx"] = iris.onnx
        for name, model in (
            ("iris", {"uri": server.url("iris.onnx"), "sha256": iris.sha256}),
            ("liar", {"uri": server.url("iris.onnx"), "sha256": "0" * 64}),
        ):
            await add_model_engine(admin_pool, tenant.name, name, model)
        spawn_worker(tenant.name)
        rows = np.tile(iris.x, (20, 1))  # 3000 rows in one job
        accepted = await (await run(client, member, engine="iris", input={"instances": rows.tolist()})).json()
        done = await wait_final(client, member, accepted["job_id"])
        assert done["status"] == "succeeded", done
        assert done["result"]["model"] == {"sha256": iris.sha256}
        assert done["result"]["outputs"]["label"] == iris.estimator.predict(rows).tolist()
        np.testing.assert_allclose(
            done["result"]["outputs"]["probabilities"], iris.estimator.predict_proba(rows), atol=1e-5
        )
        # A model whose digest does not match fails the job at once, without retries.
        liar = await (await run(client, member, engine="liar", input={"instances": [[1, 2, 3, 4]]})).json()
        failed = await wait_final(client, member, liar["job_id"])
        assert failed["status"] == "failed" and failed["attempts"] == 1
        assert "DigestMismatch" in failed["error"]


def lay_out_mounts(root: Path, files: dict[str, bytes]) -> Path:
    """A directory laid out as a WorkerPool's pod mounts its Engines' model volumes (the operator's
    NEUROEDGE_MODEL_MOUNT_DIR): a claim's files under `pvc/<claim>/`, a ConfigMap's binaryData keys under
    `configmap/<name>/`. `files` maps `<scheme>/<volume>/<path>` to bytes."""
    for relative, data in files.items():
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return root


async def test_volume_models_are_scored_by_a_worker_from_its_mounted_volumes(
    env: dict[str, Any], admin_pool: Any, spawn_worker: Callable[..., None], tmp_path: Path
) -> None:
    client, member, tenant = env["client"], env["member"], env["tenant"]
    iris, diabetes = onnx_models.iris_classifier(), onnx_models.diabetes_regressor()
    mounts = lay_out_mounts(
        tmp_path / "models",
        {"pvc/models/iris/v1.onnx": iris.onnx, "configmap/diabetes-small/model.onnx": diabetes.onnx},
    )
    await add_model_engine(admin_pool, tenant.name, "iris", {"uri": "pvc://models/iris/v1.onnx"})
    await add_model_engine(
        admin_pool,
        tenant.name,
        "diabetes",
        {"uri": "configmap://diabetes-small/model.onnx", "sha256": diabetes.sha256},
    )
    await add_model_engine(
        admin_pool, tenant.name, "tampered", {"uri": "pvc://models/iris/v1.onnx", "sha256": "0" * 64}
    )
    await add_model_engine(admin_pool, tenant.name, "unmounted", {"uri": "pvc://other-claim/iris.onnx"})
    spawn_worker(tenant.name, NEUROEDGE_MODEL_MOUNT_DIR=str(mounts))

    rows = np.tile(iris.x, (20, 1))  # 3000 rows in one job, read from the claim's mount
    resp = await run(client, member, engine="iris", input={"instances": rows.tolist()})
    assert resp.status == 202, await resp.text()
    done = await wait_final(client, member, (await resp.json())["job_id"])
    assert done["status"] == "succeeded", done
    assert done["result"]["model"] == {"sha256": iris.sha256}
    assert done["result"]["outputs"]["label"] == iris.estimator.predict(rows).tolist()
    np.testing.assert_allclose(
        done["result"]["outputs"]["probabilities"], iris.estimator.predict_proba(rows), atol=1e-5
    )

    resp = await run(client, member, engine="diabetes", input={"instances": diabetes.x.tolist()})
    assert resp.status == 202, await resp.text()
    done = await wait_final(client, member, (await resp.json())["job_id"])
    assert done["status"] == "succeeded", done
    predicted = np.ravel(done["result"]["outputs"]["variable"])
    np.testing.assert_allclose(predicted, diabetes.estimator.predict(diabetes.x), rtol=1e-9)

    # Mounted bytes are checked against the declared digest like downloaded ones: never loaded, not retried.
    resp = await run(client, member, engine="tampered", input={"instances": [[1, 2, 3, 4]]})
    failed = await wait_final(client, member, (await resp.json())["job_id"])
    assert failed["status"] == "failed" and failed["attempts"] == 1 and "DigestMismatch" in failed["error"]
    # A volume this worker does not mount (a pool not serving that Engine, or a pod not rolled yet) is
    # retried as unreachable, then dead-lettered naming the missing mount.
    resp = await run(client, member, engine="unmounted", input={"instances": [[1, 2, 3, 4]]})
    failed = await wait_final(client, member, (await resp.json())["job_id"])
    assert failed["status"] == "dead" and failed["attempts"] == 3, failed  # dead-lettered
    assert "is the volume mounted?" in failed["error"]
