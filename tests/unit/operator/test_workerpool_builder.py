"""The WorkerPool's Deployment, PodDisruptionBudget and KEDA objects, and the replicas rule."""

from __future__ import annotations

import base64
from typing import Any

import pytest
import workload_samples as samples

from neuroedge_operator.builders import workerpool as pool_builder
from neuroedge_runtime.queue import settings as worker_settings


def _inputs(replicas: int = 2) -> pool_builder.PoolInputs:
    return pool_builder.PoolInputs(tenant="acme", default_image="img:1", replicas=replicas)


def _container(deployment: dict[str, Any]) -> dict[str, Any]:
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return dict(container)


def _env(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


def _secret(key: str) -> dict[str, Any]:
    return {"secretKeyRef": {"name": "neuroedge-tenant-credentials", "key": key}}


def test_deployment_runs_workers_configured_from_the_spec() -> None:
    deployment = pool_builder.deployment(samples.pool(), _inputs(3))
    container = _container(deployment)
    assert deployment["metadata"]["name"] == "workerpool-general"
    assert deployment["spec"]["replicas"] == 3
    assert [*container["command"], *container["args"]] == ["neuroedge-runtime", "worker"]
    env = _env(container)
    assert env["NEUROEDGE_TENANT"] == _secret("TENANT")
    assert env["REDIS_URL"] == _secret("REDIS_URL")
    assert env["NEUROEDGE_POOL"] == "general"
    assert env["NEUROEDGE_CONCURRENCY"] == "8"
    assert env["NEUROEDGE_MAX_DELIVERIES"] == "5"
    assert env["NEUROEDGE_CLAIM_IDLE_SECONDS"] == "30"
    assert env["NEUROEDGE_RETRY_BASE_SECONDS"] == "2"  # the worker's names (runtime queue settings)
    assert env["NEUROEDGE_RETRY_CAP_SECONDS"] == "300"
    assert "NEUROEDGE_RETRY_INITIAL_SECONDS" not in env and "NEUROEDGE_RETRY_MAX_SECONDS" not in env
    assert "envFrom" not in container  # only the keys a worker needs, not the admin password
    assert deployment["spec"]["selector"] == {
        "matchLabels": {"app.kubernetes.io/component": "worker", "neuroedge.io/workerpool": "general"}
    }


@pytest.mark.parametrize(("claim_idle", "timeout"), [(30, "25"), (6, "3"), (1, "0.5"), (600, "595")])
def test_job_timeout_stays_below_the_claim_idle_time(claim_idle: int, timeout: str) -> None:
    """A job still running when its entry has been idle claimIdleSeconds would be claimed and run twice."""
    pool = samples.pool(queue={"claimIdleSeconds": claim_idle})
    env = _env(_container(pool_builder.deployment(pool, _inputs())))
    assert env["NEUROEDGE_JOB_TIMEOUT_SECONDS"] == timeout
    assert float(env["NEUROEDGE_JOB_TIMEOUT_SECONDS"]) < float(env["NEUROEDGE_CLAIM_IDLE_SECONDS"])


def test_worker_settings_accept_the_environment_we_build() -> None:
    """The runtime's own settings loader reads every value the builder sets, with the values we mean."""
    pool = samples.pool(
        queue={"claimIdleSeconds": 12, "retryBackoff": {"initialSeconds": 3, "maxSeconds": 9}}
    )
    env = {
        k: v
        for k, v in _env(_container(pool_builder.deployment(pool, _inputs()))).items()
        if isinstance(v, str)
    }
    secrets = {"REDIS_URL": "redis://x", "NEUROEDGE_TENANT": "acme", "DATABASE_URL": "postgresql://db/x"}
    settings = worker_settings.from_env({**env, **secrets})
    assert (settings.claim_idle, settings.job_timeout) == (12.0, 7.0)
    assert (settings.retry_base, settings.retry_cap, settings.grace) == (3.0, 9.0, 7.0)
    assert (settings.concurrency, settings.metrics_port) == (8, 9090)
    # The worker gets its database from the credentials Secret and uses it: ingestion jobs and LLM agents.
    assert _env(_container(pool_builder.deployment(pool, _inputs())))["DATABASE_URL"] == _secret(
        "DATABASE_URL"
    )
    assert settings.database_url == "postgresql://db/x"


def test_worker_probes_use_the_metrics_path_it_serves() -> None:
    container = _container(pool_builder.deployment(samples.pool(), _inputs()))
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        assert container[probe]["httpGet"] == {"path": "/metrics", "port": "metrics"}


def test_termination_grace_covers_the_job_drain() -> None:
    deployment = pool_builder.deployment(samples.pool(), _inputs())
    drain = int(_env(_container(deployment))["NEUROEDGE_GRACE_SECONDS"])
    assert deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] > drain


def test_status_selector_selects_the_deployment_pods() -> None:
    pool = samples.pool()
    labels = pool_builder.deployment(pool, _inputs())["spec"]["template"]["metadata"]["labels"]
    selector = pool_builder.status_selector(pool)
    assert selector == "app.kubernetes.io/component=worker,neuroedge.io/workerpool=general"
    assert all(labels[k] == v for k, v in (pair.split("=") for pair in selector.split(",")))


@pytest.mark.parametrize(
    ("spec", "decided", "expected"),
    [
        ({}, None, 2),  # spec.replicas as written by the user or /scale
        ({"replicas": 7}, None, 7),
        ({"replicas": None}, None, 1),  # unset: the CRD's default
        ({}, 5, 5),  # the operator's autoscaler decided
        ({}, 50, 10),  # clamped to maxReplicas
        ({}, 0, 1),  # clamped to minReplicas
        ({"minReplicas": 0, "replicas": 0}, None, 0),
        ({"suspend": True}, None, 0),  # suspended beats everything
        ({"suspend": True}, 5, 0),
    ],
)
def test_deployment_replicas_rule(spec: dict[str, Any], decided: int | None, expected: int) -> None:
    assert pool_builder.deployment_replicas(samples.pool(**spec), decided) == expected


def test_pod_disruption_budget_allows_one_eviction_at_a_time() -> None:
    pool = samples.pool()
    pdb = pool_builder.pod_disruption_budget(pool, "acme")
    assert (pdb["apiVersion"], pdb["kind"], pdb["metadata"]["name"]) == (
        "policy/v1",
        "PodDisruptionBudget",
        "workerpool-general",
    )
    assert pdb["spec"]["maxUnavailable"] == 1
    assert pdb["spec"]["selector"] == {"matchLabels": pool_builder.selector(pool)}


KEDA_POOL = {
    "autoscaling": {"enabled": True, "keda": True, "targetLagPerReplica": 50, "cooldownSeconds": 120}
}
REDIS_URL = "redis://ne-tenant-acme:p%40ss@redis.platform.svc:6380/0"


def test_keda_objects_only_when_asked_and_installed() -> None:
    def kinds(pool: Any, installed: bool, url: str | None = REDIS_URL) -> list[str]:
        return [o["kind"] for o in pool_builder.desired(pool, _inputs(), installed, url)]

    keda = samples.pool(**KEDA_POOL)
    assert kinds(keda, True) == [
        "Deployment",
        "PodDisruptionBudget",
        "Secret",
        "TriggerAuthentication",
        "ScaledObject",
    ]
    assert kinds(keda, False) == ["Deployment", "PodDisruptionBudget"]
    assert kinds(keda, True, None) == ["Deployment", "PodDisruptionBudget"]
    assert kinds(samples.pool(), True) == ["Deployment", "PodDisruptionBudget"]


def test_keda_keys_name_exactly_the_keda_objects_desired_builds() -> None:
    """What the apply step may delete once KEDA is no longer wanted is what it created when it was."""
    pool = samples.pool(**KEDA_POOL)
    built = pool_builder.desired(pool, _inputs(), True, REDIS_URL)[2:]
    keys = [(o["apiVersion"], o["kind"], o["metadata"]["namespace"], o["metadata"]["name"]) for o in built]
    assert pool_builder.keda_keys(pool) == keys


def test_scaled_object_scales_the_pool_on_consumer_group_lag() -> None:
    obj = pool_builder.scaled_object(samples.pool(**KEDA_POOL), "acme")
    assert obj["apiVersion"] == "keda.sh/v1alpha1"
    spec = obj["spec"]
    assert spec["scaleTargetRef"] == {
        "apiVersion": "neuroedge.io/v1alpha1",
        "kind": "WorkerPool",
        "name": "general",
    }
    assert (spec["minReplicaCount"], spec["maxReplicaCount"], spec["cooldownPeriod"]) == (1, 10, 120)
    (trigger,) = spec["triggers"]
    assert trigger["type"] == "redis-streams"
    assert trigger["metadata"] == {
        "stream": "ne:acme:{acme.general}:stream",
        "consumerGroup": "pool",
        "lagCount": "50",
        "activationLagCount": "0",
    }
    assert trigger["authenticationRef"] == {"name": "workerpool-general"}


def test_suspended_pool_drops_only_its_scaled_object() -> None:
    objects = pool_builder.desired(samples.pool(suspend=True, **KEDA_POOL), _inputs(0), True, REDIS_URL)
    assert [o["kind"] for o in objects] == [
        "Deployment",
        "PodDisruptionBudget",
        "Secret",
        "TriggerAuthentication",
    ]
    assert objects[0]["spec"]["replicas"] == 0


def test_trigger_authentication_reads_address_and_credentials_from_the_derived_secret() -> None:
    pool = samples.pool(**KEDA_POOL)
    auth = pool_builder.trigger_authentication(pool, "acme")
    assert auth["spec"]["secretTargetRef"] == [
        {"parameter": p, "name": "workerpool-general-keda", "key": p}
        for p in ("address", "username", "password")
    ]
    secret = pool_builder.keda_secret(pool, "acme", REDIS_URL)
    assert secret["metadata"]["name"] == "workerpool-general-keda"
    assert "stringData" not in secret  # write-only: it would never compare equal with the live Secret
    assert {k: base64.b64decode(v).decode() for k, v in secret["data"].items()} == {
        "address": "redis.platform.svc:6380",
        "username": "ne-tenant-acme",
        "password": "p@ss",
    }


def test_tls_redis_enables_tls_on_the_trigger() -> None:
    objects = pool_builder.desired(samples.pool(**KEDA_POOL), _inputs(), True, "rediss://u:p@h:6379/0")
    trigger = objects[-1]["spec"]["triggers"][0]["metadata"]
    assert trigger["enableTLS"] == "true"


@pytest.mark.parametrize("url", ["http://h:1", "redis://", "redis://h:notaport", "nonsense"])
def test_unusable_redis_url_is_a_clear_error(url: str) -> None:
    with pytest.raises(pool_builder.InvalidRedisUrlError):
        pool_builder.keda_secret_data(url)


def test_unusable_redis_url_error_never_shows_the_password() -> None:
    with pytest.raises(pool_builder.InvalidRedisUrlError) as info:
        pool_builder.keda_secret_data("redis://user:s3cret@h:notaport")
    assert "s3cret" not in str(info.value)
