"""Every pod the operator generates meets Pod Security Standards "restricted", checked field by field, and
the spec hash rolls pods for what reaches a container and for nothing else."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import workload_samples as samples

from neuroedge_operator.builders import engine as engine_builder
from neuroedge_operator.builders import pods
from neuroedge_operator.builders import workerpool as pool_builder
from neuroedge_operator.resources import workload

# Pod Security Standards, baseline and restricted profiles:
# https://kubernetes.io/docs/concepts/security/pod-security-standards/
RESTRICTED_VOLUME_TYPES = {
    "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected",
    "secret",
}  # fmt: skip
BASELINE_CAPABILITIES = {
    "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE",
    "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
}  # fmt: skip
SAFE_SYSCTLS = {
    "kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
}  # fmt: skip
INPUTS = engine_builder.EngineInputs(tenant="acme", default_image="registry.local/neuroedge/runtime:1.0")


def restricted_violations(pod: dict[str, Any]) -> list[str]:
    """Every rule of the baseline and restricted profiles that `pod` (a pod spec) breaks."""
    out: list[str] = []
    sc = pod.get("securityContext") or {}
    containers = [
        *pod.get("initContainers", []),
        *pod.get("containers", []),
        *pod.get("ephemeralContainers", []),
    ]
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if pod.get(field):
            out.append(f"{field} is set")
    if (sc.get("windowsOptions") or {}).get("hostProcess"):
        out.append("pod hostProcess")
    for volume in pod.get("volumes", []):
        kinds = set(volume) - {"name"}
        if not kinds <= RESTRICTED_VOLUME_TYPES:
            out.append(f"volume {volume['name']} of type {kinds - RESTRICTED_VOLUME_TYPES}")
    for sysctl in sc.get("sysctls", []):
        if sysctl["name"] not in SAFE_SYSCTLS:
            out.append(f"unsafe sysctl {sysctl['name']}")
    pod_seccomp = (sc.get("seccompProfile") or {}).get("type")
    for c in containers:
        out += [f"{c['name']}: {v}" for v in _container_violations(c, sc, pod_seccomp)]
    return out


def _container_violations(
    c: dict[str, Any], pod_sc: dict[str, Any], pod_seccomp: str | None
) -> Iterator[str]:
    csc = c.get("securityContext") or {}
    if csc.get("privileged"):
        yield "privileged"
    if (csc.get("windowsOptions") or {}).get("hostProcess"):
        yield "hostProcess"
    if any(p.get("hostPort") for p in c.get("ports", [])):
        yield "hostPort"
    if csc.get("procMount", "Default") != "Default":
        yield "procMount"
    if csc.get("allowPrivilegeEscalation") is not False:
        yield "allowPrivilegeEscalation is not false"
    if not csc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")):
        yield "runAsNonRoot is not true"
    if csc.get("runAsUser", pod_sc.get("runAsUser")) == 0:
        yield "runAsUser is 0"
    if csc.get("seccompProfile", {}).get("type", pod_seccomp) not in {"RuntimeDefault", "Localhost"}:
        yield "seccompProfile is not RuntimeDefault or Localhost"
    caps = csc.get("capabilities") or {}
    if "ALL" not in caps.get("drop", []):
        yield "capabilities do not drop ALL"
    if set(caps.get("add", [])) - {"NET_BIND_SERVICE"}:
        yield "capabilities add more than NET_BIND_SERVICE"
    if set(caps.get("add", [])) - BASELINE_CAPABILITIES:
        yield "capabilities beyond baseline"
    selinux = csc.get("seLinuxOptions") or {}
    if selinux.get("type") not in (None, "", "container_t", "container_init_t", "container_kvm_t"):
        yield "seLinuxOptions.type"
    if (csc.get("appArmorProfile") or {}).get("type") == "Unconfined":
        yield "appArmorProfile Unconfined"


def generated_pods() -> Iterator[tuple[str, dict[str, Any]]]:
    """Pod specs of every kind of workload the builders make, in their variations."""
    for label, make in ENGINE_VARIANTS.items():
        yield f"engine/{label}", engine_builder.deployment(make(), INPUTS)["spec"]["template"]["spec"]
    for label, make_pool in POOL_VARIANTS.items():
        pool = make_pool()
        inputs = pool_builder.PoolInputs("acme", "img:1", pool_builder.deployment_replicas(pool))
        yield f"pool/{label}", pool_builder.deployment(pool, inputs)["spec"]["template"]["spec"]


ENGINE_VARIANTS: dict[str, Callable[[], Any]] = {
    "example": samples.engine,
    "minimal": lambda: samples.engine(
        resources={}, modelRef=None, workerPoolRef=None, schedules=[], config={}
    ),
    "suspended": lambda: samples.engine(suspend=True),
    "own-image": lambda: samples.engine(image="registry.local/custom:2"),
    "model-pvc": lambda: samples.engine(
        type="predictive", modelRef=None, model={"uri": "pvc://models/m.onnx"}
    ),
    "model-configmap": lambda: samples.engine(
        type="predictive", modelRef=None, model={"uri": "configmap://iris/model.onnx"}
    ),
    "model-https": lambda: samples.engine(
        type="predictive", model={"uri": "https://models.example/m.onnx", "sha256": "a" * 64}
    ),
}
POOL_VARIANTS: dict[str, Callable[[], Any]] = {
    "example": samples.pool,
    "minimal": lambda: samples.pool(resources={}, autoscaling={}, queue={}),
    "keda": lambda: samples.pool(autoscaling={"enabled": True, "keda": True}),
    "suspended": lambda: samples.pool(suspend=True),
}


@pytest.mark.parametrize(("label", "pod"), list(generated_pods()))
def test_generated_pod_meets_the_restricted_profile(label: str, pod: dict[str, Any]) -> None:
    assert restricted_violations(pod) == [], label


@pytest.mark.parametrize(("label", "pod"), list(generated_pods()))
def test_generated_pod_is_hardened_beyond_the_profile(label: str, pod: dict[str, Any]) -> None:
    (container,) = pod["containers"]
    csc = container["securityContext"]
    assert csc["readOnlyRootFilesystem"] is True
    assert (csc["runAsUser"], csc["runAsGroup"], pod["securityContext"]["fsGroup"]) == (10001, 10001, 10001)
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]
    assert {"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}} in pod["volumes"]
    assert pod["automountServiceAccountToken"] is False
    assert pod["serviceAccountName"] == "neuroedge-runtime"
    # the API serves /health and /ready; a worker serves only Prometheus metrics on its port
    paths = ("/metrics", "/metrics") if label.startswith("pool/") else ("/health", "/ready")
    assert (
        container["livenessProbe"]["httpGet"]["path"],
        container["readinessProbe"]["httpGet"]["path"],
    ) == paths
    port_names = {p["name"] for p in container["ports"]}
    assert container["livenessProbe"]["httpGet"]["port"] in port_names
    mounted = {m["name"] for m in container["volumeMounts"]}
    assert mounted == {v["name"] for v in pod["volumes"]}, "every volume is mounted, every mount has a volume"
    # Only scratch space is writable: /tmp, and the model download cache of an Engine with spec.model.
    writable = {m["name"] for m in container["volumeMounts"] if not m.get("readOnly")}
    assert writable <= {"tmp", "model-cache"}
    assert all("emptyDir" in v for v in pod["volumes"] if v["name"] in writable)


def test_the_checker_catches_each_violation() -> None:
    """The restricted checker is itself tested: each broken field is reported."""
    _, good = next(generated_pods())
    breakages: list[Callable[[dict[str, Any]], None]] = [
        lambda p: p.update(hostNetwork=True),
        lambda p: p["volumes"].append({"name": "h", "hostPath": {"path": "/"}}),
        lambda p: p["containers"][0]["securityContext"].update(allowPrivilegeEscalation=True),
        lambda p: p["containers"][0]["securityContext"].update(runAsNonRoot=False),
        lambda p: p["containers"][0]["securityContext"].update(runAsUser=0),
        lambda p: p["containers"][0]["securityContext"].update(seccompProfile={"type": "Unconfined"}),
        lambda p: p["containers"][0]["securityContext"].update(capabilities={"drop": ["NET_RAW"]}),
        lambda p: p["containers"][0]["securityContext"].update(
            capabilities={"drop": ["ALL"], "add": ["SYS_ADMIN"]}
        ),
        lambda p: p["containers"][0]["securityContext"].update(privileged=True),
        lambda p: p["containers"][0]["ports"].append({"containerPort": 80, "hostPort": 80}),
    ]
    for breakage in breakages:
        pod = _deepcopy(good)
        breakage(pod)
        assert restricted_violations(pod), breakage


def _deepcopy(pod: dict[str, Any]) -> dict[str, Any]:
    import copy  # noqa: PLC0415

    return copy.deepcopy(pod)


def _engine_hash(**spec: Any) -> str:
    return _hash(engine_builder.deployment(samples.engine(**spec), INPUTS))


def _hash(deployment: dict[str, Any]) -> str:
    return str(deployment["spec"]["template"]["metadata"]["annotations"][pods.SPEC_HASH_ANNOTATION])


@pytest.mark.parametrize(
    "change",
    [
        {"image": "registry.local/neuroedge/runtime:1.1"},
        {"config": {"SYSTEM_PROMPT": "You are terse."}},
        {"resources": {"limits": {"cpu": "2"}}},
        {"type": "agent"},
        {"workerPoolRef": {"name": "other"}, "schedules": []},
        {"modelRef": {"name": "other-model"}},
    ],
)
def test_engine_spec_hash_changes_with_what_reaches_the_container(change: dict[str, Any]) -> None:
    assert _engine_hash(**change) != _engine_hash()


@pytest.mark.parametrize(
    "change",
    [
        {"replicas": 5},
        {"replicas": 0},
        {"suspend": True},
        {"schedules": [{"name": "other", "cron": "@hourly"}]},
    ],
)
def test_engine_spec_hash_ignores_what_does_not_reach_the_container(change: dict[str, Any]) -> None:
    assert _engine_hash(**change) == _engine_hash()


def test_referenced_config_and_tenant_defaults_roll_the_pods() -> None:
    engine = samples.engine(resources={})
    base = _hash(engine_builder.deployment(engine, INPUTS))
    other_ref = engine_builder.EngineInputs("acme", INPUTS.default_image, referenced_config={"X": "1"})
    defaults = workload.Resources.model_validate({"limits": {"memory": "1Gi"}})
    other_defaults = engine_builder.EngineInputs("acme", INPUTS.default_image, resource_defaults=defaults)
    assert _hash(engine_builder.deployment(engine, other_ref)) != base
    assert _hash(engine_builder.deployment(engine, other_defaults)) != base


def test_spec_hash_is_stable_and_independent_of_key_order() -> None:
    assert _engine_hash() == _engine_hash()
    reordered = {"MAX_HISTORY_TURNS": "20", "SYSTEM_PROMPT": "You are helpful."}
    assert _engine_hash(config=reordered) == _engine_hash()


def _pool_hash(deployment_replicas: int | None = None, **spec: Any) -> str:
    pool = samples.pool(**spec)
    count = pool_builder.deployment_replicas(pool) if deployment_replicas is None else deployment_replicas
    return _hash(pool_builder.deployment(pool, pool_builder.PoolInputs("acme", "img:1", count)))


@pytest.mark.parametrize(
    "change",
    [
        {"image": "img:2"},
        {"concurrency": 16},
        {"queue": {"maxDeliveries": 3}},
        {"queue": {"claimIdleSeconds": 90}},
        {"queue": {"retryBackoff": {"initialSeconds": 5, "maxSeconds": 300}}},
        {"resources": {"requests": {"cpu": "1"}}},
    ],
)
def test_pool_spec_hash_changes_with_what_reaches_the_container(change: dict[str, Any]) -> None:
    assert _pool_hash(**change) != _pool_hash()


def test_pool_spec_hash_ignores_replicas_and_scaling() -> None:
    base = _pool_hash()
    assert _pool_hash(deployment_replicas=7) == base
    assert _pool_hash(replicas=4) == base
    assert _pool_hash(suspend=True) == base
    assert _pool_hash(autoscaling={"enabled": True, "targetLagPerReplica": 5, "cooldownSeconds": 1}) == base
    assert _pool_hash(engines=["a", "b"]) == base


@pytest.mark.parametrize(
    ("spec", "defaults", "expected"),
    [
        ({"limits": {"cpu": "1"}}, {"requests": {"cpu": "2"}}, {"limits": {"cpu": "1"}}),
        ({}, {"requests": {"cpu": "100m"}}, {"requests": {"cpu": "100m"}}),
        ({}, None, {}),
    ],
)
def test_resources_come_whole_from_the_spec_else_the_tenant_defaults(
    spec: dict[str, Any], defaults: dict[str, Any] | None, expected: dict[str, Any]
) -> None:
    tenant = workload.Resources.model_validate(defaults) if defaults is not None else None
    assert pods.resources(workload.Resources.model_validate(spec), tenant) == expected
