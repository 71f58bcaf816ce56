"""The CRDs as the real API server sees them: samples accepted, mistakes rejected with specific messages,
defaults applied, `kubectl explain`/`get`/`scale`/`wait` working, and the kwok harness running Deployments.

The table of invalid objects is also the source of docs/crd-validation.md: every case checks that the doc
quotes the server's message verbatim. After a deliberate change, regenerate the doc with
`NEUROEDGE_WRITE_CRD_DOC=1 .venv/bin/pytest tests/integration/operator/test_crds_api.py`.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from neuroedge_dev import toolchain

pytestmark = pytest.mark.cluster

REPO = Path(__file__).resolve().parents[3]
EXAMPLES = REPO / "crds" / "examples"
DOC = REPO / "docs" / "crd-validation.md"
WRITE_DOC = bool(os.environ.get("NEUROEDGE_WRITE_CRD_DOC"))
API_VERSION = "neuroedge.io/v1alpha1"
RESOURCE = {
    "Tenant": "tenants.neuroedge.io",
    "Engine": "engines.neuroedge.io",
    "WorkerPool": "workerpools.neuroedge.io",
    "VectorIndex": "vectorindexes.neuroedge.io",
}

Manifest = dict[str, Any]


@dataclass(frozen=True)
class Result:
    """A kubectl run: exit code and both streams."""

    code: int
    out: str
    err: str


class Kubectl:
    """kubectl against the test control plane, keeping stderr (where the API server's message lands)."""

    def __init__(self, kubeconfig: Path) -> None:
        self.kubeconfig = kubeconfig

    def __call__(self, *args: str, manifest: object | None = None) -> Result:
        proc = subprocess.run(
            [str(toolchain.kubectl()), f"--kubeconfig={self.kubeconfig}", *args],
            input=None if manifest is None else json.dumps(manifest),
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        return Result(proc.returncode, proc.stdout, proc.stderr.strip())

    def ok(self, *args: str, manifest: object | None = None) -> str:
        result = self(*args, manifest=manifest)
        assert result.code == 0, f"kubectl {' '.join(args)}: {result.err}"
        return result.out

    def get(self, kind: str, name: str, namespace: str | None) -> Manifest:
        scope = ["-n", namespace] if namespace else []
        found: Manifest = json.loads(self.ok("get", RESOURCE[kind], name, *scope, "-o", "json"))
        return found


@pytest.fixture(scope="module")
def kubectl(kubeconfig: Path) -> Kubectl:
    return Kubectl(kubeconfig)


@pytest.fixture(scope="module")
def namespace(kubectl: Kubectl) -> Iterator[str]:
    """A namespace private to this module; deleting it removes every namespaced object the tests left."""
    name = f"crd-test-{uuid.uuid4().hex[:8]}"
    kubectl.ok("create", "namespace", name)
    yield name
    kubectl.ok("delete", "namespace", name, "--wait=false")


def manifest(kind: str, name: str, namespace: str, spec: Manifest) -> Manifest:
    metadata: Manifest = {"name": name}
    if kind != "Tenant":
        metadata["namespace"] = namespace
    return {"apiVersion": API_VERSION, "kind": kind, "metadata": metadata, "spec": spec}


def delete(kubectl: Kubectl, document: Manifest) -> None:
    kubectl.ok("delete", "--ignore-not-found", "--wait=false", "-f", "-", manifest=document)


# --- samples ---------------------------------------------------------------------------------------------


def load_examples(namespace: str, suffix: str) -> list[Manifest]:
    """The samples, moved into the test namespace, with a tenant name unique to this run."""
    documents = {p.stem: yaml.safe_load(p.read_text()) for p in EXAMPLES.glob("*.yaml")}
    tenant = documents["tenant"]
    tenant["metadata"]["name"] = f"acme-{suffix}"
    tenant["spec"]["namespaces"] = [namespace]
    for stem in ("workerpool", "engine", "vectorindex"):
        documents[stem]["metadata"]["namespace"] = namespace
    return [documents[s] for s in ("tenant", "workerpool", "engine", "vectorindex")]


def contains(stored: object, written: object) -> bool:
    """Whether `stored` holds everything `written` has (the server may only add defaults)."""
    if isinstance(written, dict) and isinstance(stored, dict):
        return all(k in stored and contains(stored[k], v) for k, v in written.items())
    return stored == written


def test_samples_are_created_as_written_and_deleted(kubectl: Kubectl, namespace: str) -> None:
    documents = load_examples(namespace, uuid.uuid4().hex[:6])
    try:
        for document in documents:
            kubectl.ok("create", "-f", "-", manifest=document)
        for document in documents:
            meta = document["metadata"]
            stored = kubectl.get(document["kind"], meta["name"], meta.get("namespace"))
            # Nothing pruned or rewritten: every field of the sample survives the round trip.
            assert contains(stored["spec"], document["spec"]), document["kind"]
    finally:
        for document in reversed(documents):
            delete(kubectl, document)
    for document in documents:
        meta = document["metadata"]
        scope = ["-n", meta["namespace"]] if "namespace" in meta else []
        kubectl.ok("wait", "--for=delete", RESOURCE[document["kind"]] + "/" + meta["name"], *scope)


# --- defaults --------------------------------------------------------------------------------------------


def test_server_applies_defaults_to_minimal_objects(kubectl: Kubectl, namespace: str) -> None:
    suffix = uuid.uuid4().hex[:6]
    documents = [
        manifest("Tenant", f"minimal-{suffix}", namespace, {}),
        manifest("Engine", "minimal", namespace, {"type": "predictive"}),
        manifest("WorkerPool", "minimal", namespace, {}),
        manifest("VectorIndex", "minimal", namespace, {"backend": "pgvector", "dimension": 384}),
    ]
    try:
        stored = [kubectl.ok("create", "-f", "-", "-o", "json", manifest=d) for d in documents]
        tenant, engine, pool, index = (json.loads(s)["spec"] for s in stored)
    finally:
        for document in documents:
            delete(kubectl, document)
    assert tenant == {
        "networkIsolation": True,
        "suspend": False,
        "database": {"reclaimPolicy": "Retain"},
        "auth": {"accessTokenTTL": "15m", "refreshTokenTTL": "336h", "keyRotationPeriod": "720h"},
        "rateLimit": {"requestsPerSecond": 50, "burst": 100},
        "limitRange": {
            "defaultRequest": {"cpu": "100m", "memory": "128Mi"},
            "default": {"cpu": "1", "memory": "512Mi"},
        },
    }
    assert engine == {"type": "predictive", "replicas": 1, "suspend": False}
    assert pool == {
        "replicas": 1,
        "concurrency": 8,
        "suspend": False,
        "queue": {
            "maxDeliveries": 5,
            "claimIdleSeconds": 30,
            "retryBackoff": {"initialSeconds": 1, "maxSeconds": 300},
        },
        "autoscaling": {
            "enabled": False,
            "targetLagPerReplica": 100,
            "cooldownSeconds": 60,
            "scaleDownStep": 1,
            "keda": False,
        },
    }
    assert index == {
        "backend": "pgvector",
        "dimension": 384,
        "distance": "Cosine",
        "hnsw": {"m": 16, "efConstruct": 100},
        "onDisk": False,
        "reclaimPolicy": "Retain",
    }


# --- invalid objects -------------------------------------------------------------------------------------

ENGINE = {"type": "predictive"}
POOL: Manifest = {}
INDEX = {"backend": "qdrant", "dimension": 4}


@dataclass(frozen=True)
class Case:
    """An object the API server must refuse: created with `spec` (and `name`), or, for an update case,
    created valid and then merge-patched with `update`."""

    id: str
    kind: str
    spec: Manifest
    expected: str
    name: str = ""
    update: Manifest | None = None

    @property
    def object_name(self) -> str:
        return self.name or self.id


def with_(base: Manifest, **changes: Any) -> Manifest:
    spec = copy.deepcopy(base)
    spec.update(changes)
    return spec


CASES = [
    Case(
        "vidx-dimension-change",
        "VectorIndex",
        INDEX,
        "spec.dimension: Invalid value: 8: dimension is immutable; create a new VectorIndex and "
        "re-ingest instead",
        update={"spec": {"dimension": 8}},
    ),
    Case(
        "vidx-distance-change",
        "VectorIndex",
        INDEX,
        "distance is immutable; create a new VectorIndex and re-ingest instead",
        update={"spec": {"distance": "Dot"}},
    ),
    Case(
        "vidx-backend-change",
        "VectorIndex",
        INDEX,
        "backend is immutable; create a new VectorIndex and re-ingest instead",
        update={"spec": {"backend": "pgvector"}},
    ),
    Case(
        "vidx-dimension-too-large",
        "VectorIndex",
        with_(INDEX, dimension=16001),
        "spec.dimension: Invalid value: 16001: spec.dimension in body should be less than or equal to 16000",
    ),
    Case(
        "vidx-pgvector-too-many-dimensions",
        "VectorIndex",
        with_(INDEX, backend="pgvector", dimension=3072),
        "backend pgvector supports at most 2000 dimensions",
    ),
    Case(
        "vidx-bad-payload-field",
        "VectorIndex",
        with_(INDEX, payloadIndexes=[{"field": "1st-field", "type": "keyword"}]),
        "payload index field must start with a letter or '_' and contain only letters, digits, '_' and '.'",
    ),
    Case(
        "vidx-unknown-payload-type",
        "VectorIndex",
        with_(INDEX, payloadIndexes=[{"field": "lang", "type": "string"}]),
        'Unsupported value: "string": supported values: "keyword", "integer", "float", "bool", "text", '
        '"datetime"',
    ),
    Case(
        "vidx-name-too-long",
        "VectorIndex",
        INDEX,
        "VectorIndex name must be at most 40 characters",
        name="a" + "b" * 40,
    ),
    Case(
        "vidx-openai-without-base-url",
        "VectorIndex",
        with_(INDEX, embedding={"model": "text-embedding-3-small", "provider": "openai"}),
        "provider openai needs baseURL",
    ),
    Case(
        "vidx-builtin-with-base-url",
        "VectorIndex",
        with_(INDEX, embedding={"model": "wordllama-256", "baseURL": "http://tei:8080/v1"}),
        "baseURL and apiKeySecretRef apply to provider openai only",
    ),
    Case(
        "vidx-unknown-builtin-model",
        "VectorIndex",
        with_(INDEX, embedding={"model": "all-MiniLM-L6-v2"}),
        "the built-in embedding model is wordllama-256",
    ),
    Case(
        "vidx-base-url-not-http",
        "VectorIndex",
        with_(INDEX, embedding={"model": "m", "provider": "openai", "baseURL": "ftp://x/v1"}),
        "baseURL must be an http or https URL",
    ),
    Case(
        "wp-max-below-min",
        "WorkerPool",
        with_(POOL, replicas=2, minReplicas=3, maxReplicas=2),
        "minReplicas must be less than or equal to maxReplicas",
    ),
    Case(
        "wp-replicas-above-max",
        "WorkerPool",
        with_(POOL, replicas=5, maxReplicas=3),
        "replicas must be less than or equal to maxReplicas",
    ),
    Case(
        "wp-default-replicas-below-min",
        "WorkerPool",
        with_(POOL, minReplicas=2),
        "replicas (default 1) must be greater than or equal to minReplicas",
    ),
    Case(
        "wp-concurrency-zero",
        "WorkerPool",
        with_(POOL, concurrency=0),
        "spec.concurrency: Invalid value: 0: spec.concurrency in body should be greater than or equal to 1",
    ),
    Case(
        "wp-duplicate-engines",
        "WorkerPool",
        with_(POOL, engines=["chat", "chat"]),
        'spec.engines[1]: Duplicate value: "chat"',
    ),
    Case(
        "wp-keda-without-autoscaling",
        "WorkerPool",
        with_(POOL, autoscaling={"keda": True}),
        "autoscaling.keda requires autoscaling.enabled",
    ),
    Case(
        "wp-backoff-initial-above-max",
        "WorkerPool",
        with_(POOL, queue={"retryBackoff": {"initialSeconds": 600, "maxSeconds": 60}}),
        "queue.retryBackoff.initialSeconds must be less than or equal to maxSeconds",
    ),
    Case(
        "eng-unknown-type",
        "Engine",
        with_(ENGINE, type="chatbot"),
        'spec.type: Unsupported value: "chatbot": supported values: "predictive", "agent", "conversation", '
        '"analytics", "router"',
    ),
    Case(
        "eng-router-without-routes",
        "Engine",
        with_(ENGINE, type="router"),
        "spec.routes: Invalid value: a router Engine needs spec.routes",
    ),
    Case(
        "eng-routes-on-conversation",
        "Engine",
        with_(ENGINE, type="conversation", routes=[{"name": "a", "engine": "b", "utterances": ["hi"]}]),
        "spec.routes is only for router Engines",
    ),
    Case(
        "eng-fallback-on-agent",
        "Engine",
        with_(ENGINE, type="agent", fallback="helpdesk"),
        "spec.fallback is only for router Engines",
    ),
    Case(
        "eng-router-duplicate-route",
        "Engine",
        with_(
            ENGINE,
            type="router",
            routes=[
                {"name": "billing", "engine": "a", "utterances": ["invoice"]},
                {"name": "billing", "engine": "b", "utterances": ["refund"]},
            ],
        ),
        'spec.routes[1]: Duplicate value: {"name":"billing"}',
    ),
    Case(
        "eng-router-threshold-above-1",
        "Engine",
        with_(
            ENGINE, type="router", routes=[{"name": "a", "engine": "b", "utterances": ["x"], "threshold": 2}]
        ),
        "spec.routes[0].threshold in body should be less than or equal to 1",
    ),
    Case(
        "eng-router-no-utterances",
        "Engine",
        with_(ENGINE, type="router", routes=[{"name": "a", "engine": "b", "utterances": []}]),
        "spec.routes[0].utterances in body should have at least 1 items",
    ),
    Case(
        "eng-cron-minute-61",
        "Engine",
        with_(ENGINE, workerPoolRef={"name": "p"}, schedules=[{"name": "s", "cron": "61 * * * *"}]),
        "cron must be five fields (minute hour day-of-month month day-of-week) of valid values",
    ),
    Case(
        "eng-cron-six-fields",
        "Engine",
        with_(ENGINE, workerPoolRef={"name": "p"}, schedules=[{"name": "s", "cron": "0 0 * * * *"}]),
        "cron must be five fields (minute hour day-of-month month day-of-week) of valid values",
    ),
    Case(
        "eng-duplicate-schedule-names",
        "Engine",
        with_(
            ENGINE,
            workerPoolRef={"name": "p"},
            schedules=[{"name": "s", "cron": "@daily"}, {"name": "s", "cron": "@hourly"}],
        ),
        'spec.schedules[1]: Duplicate value: {"name":"s"}',
    ),
    Case(
        "eng-bad-schedule-name",
        "Engine",
        with_(ENGINE, workerPoolRef={"name": "p"}, schedules=[{"name": "Nightly_Run", "cron": "@daily"}]),
        "schedule name must consist of lowercase letters, digits and '-'",
    ),
    Case(
        "eng-schedules-without-pool",
        "Engine",
        with_(ENGINE, schedules=[{"name": "s", "cron": "@daily"}]),
        "schedules need a workerPoolRef to enqueue their jobs on",
    ),
    Case(
        "eng-model-unsupported-scheme",
        "Engine",
        with_(ENGINE, type="predictive", model={"uri": "s3://bucket/model.onnx"}),
        "model uri must be http://<host>/<path>, https://<host>/<path>, pvc://<claim>/<path> or "
        "configmap://<name>/<key>; no other scheme is supported",
    ),
    Case(
        "eng-model-http-without-sha256",
        "Engine",
        with_(ENGINE, type="predictive", model={"uri": "https://models.example/iris.onnx"}),
        "a model downloaded over http(s) needs spec.model.sha256",
    ),
    Case(
        "eng-model-bad-sha256",
        "Engine",
        with_(ENGINE, type="predictive", model={"uri": "pvc://models/iris.onnx", "sha256": "ABC"}),
        "spec.model.sha256 in body should match '^[0-9a-f]{64}$'",
    ),
    Case(
        "eng-model-parent-segment",
        "Engine",
        with_(ENGINE, type="predictive", model={"uri": "pvc://models/../secrets/key"}),
        "model uri must not contain '..' path segments",
    ),
    Case(
        "eng-model-on-agent",
        "Engine",
        with_(ENGINE, type="agent", model={"uri": "pvc://models/iris.onnx"}),
        "spec.model is served by predictive engines only",
    ),
    Case(
        "eng-batching-without-model",
        "Engine",
        with_(ENGINE, type="predictive", batching={"maxBatchSize": 8}),
        "spec.batching batches a model's requests and needs spec.model",
    ),
    Case(
        "eng-replicas-above-100",
        "Engine",
        with_(ENGINE, replicas=101),
        "spec.replicas in body should be less than or equal to 100",
    ),
    Case(
        "eng-name-with-dot",
        "Engine",
        ENGINE,
        "Engine name must be at most 63 characters of lowercase letters, digits and '-'",
        name="chat.v2",
    ),
    Case(
        "wp-name-starts-with-digit",
        "WorkerPool",
        POOL,
        "WorkerPool name must be at most 63 characters of lowercase letters, digits and '-'",
        name="0pool",
    ),
    Case(
        "tnt-name-too-long",
        "Tenant",
        {},
        "Tenant name must be at most 40 characters",
        name="t" * 41,
    ),
    Case(
        "tnt-name-underscore",
        "Tenant",
        {},
        'metadata.name: Invalid value: "acme_corp": a lowercase RFC 1123 subdomain',
        name="acme_corp",
    ),
    Case(
        "tnt-name-starts-with-digit",
        "Tenant",
        {},
        "Tenant name must be at most 40 characters of lowercase letters, digits and '-', start with a letter",
        name="1acme",
    ),
    Case(
        "tnt-negative-quota-string",
        "Tenant",
        {"quota": {"cpu": "-1"}},
        "spec.quota.cpu in body should match",
    ),
    Case(
        "tnt-negative-quota-integer",
        "Tenant",
        {"quota": {"memory": -1}},
        "spec.quota.memory in body should be greater than or equal to 0",
    ),
    Case(
        "tnt-bad-duration",
        "Tenant",
        {"auth": {"accessTokenTTL": "15 minutes"}},
        "spec.auth.accessTokenTTL in body should match '^([0-9]{1,6}(s|m|h))+$'",
    ),
    Case(
        "tnt-access-ttl-not-below-refresh",
        "Tenant",
        {"auth": {"accessTokenTTL": "2h", "refreshTokenTTL": "1h"}},
        "auth.accessTokenTTL must be shorter than auth.refreshTokenTTL",
    ),
    Case(
        "tnt-access-ttl-too-long",
        "Tenant",
        {"auth": {"accessTokenTTL": "48h"}},
        "auth.accessTokenTTL must be between 1m and 24h",
    ),
    Case(
        "tnt-zero-rate",
        "Tenant",
        {"rateLimit": {"requestsPerSecond": 0}},
        "spec.rateLimit.requestsPerSecond in body should be greater than 0",
    ),
    Case(
        "tnt-bad-namespace",
        "Tenant",
        {"namespaces": ["Acme"]},
        "spec.namespaces[0] in body should match",
    ),
    Case(
        "tnt-too-many-namespaces",
        "Tenant",
        {"namespaces": [f"ns-{i}" for i in range(11)]},
        "spec.namespaces: Too many: 11: must have at most 10 items",
    ),
]

observed: dict[str, str] = {}


def server_message(result: Result) -> str:
    """The API server's answer as kubectl prints it, on one line."""
    return " ".join(line.strip() for line in result.err.splitlines() if line.strip())


def doc_cell(text: str) -> str:
    return text.replace("|", "\\|")


def attempt(kubectl: Kubectl, case: Case, document: Manifest) -> Result:
    """Create (or create and patch) the case's object; the refused request's result."""
    if case.update is None:
        return kubectl("create", "-f", "-", manifest=document)
    kubectl.ok("create", "-f", "-", manifest=document)
    scope = ["-n", document["metadata"]["namespace"]] if "namespace" in document["metadata"] else []
    target = f"{RESOURCE[case.kind]}/{case.object_name}"
    return kubectl("patch", target, *scope, "--type=merge", "-p", json.dumps(case.update))


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_invalid_object_is_refused_with_a_specific_message(
    kubectl: Kubectl, namespace: str, case: Case
) -> None:
    document = manifest(case.kind, case.object_name, namespace, case.spec)
    try:
        result = attempt(kubectl, case, document)
    finally:
        delete(kubectl, document)
    message = server_message(result)
    assert result.code != 0, f"{case.id}: accepted"
    assert case.expected in message
    observed[case.id] = message.replace(namespace, "<namespace>")
    if not WRITE_DOC:
        assert doc_cell(observed[case.id]) in DOC.read_text(), (
            f"docs/crd-validation.md does not quote the server's message for {case.id}; regenerate it "
            "with NEUROEDGE_WRITE_CRD_DOC=1"
        )


@pytest.fixture(scope="module", autouse=True)
def write_validation_doc(kubeconfig: Path) -> Iterator[None]:
    """With NEUROEDGE_WRITE_CRD_DOC set, write docs/crd-validation.md from this run's messages."""
    yield
    if not WRITE_DOC:
        return
    assert set(observed) == {c.id for c in CASES}, "regenerate the doc from a run of the whole table"
    version = json.loads(Kubectl(kubeconfig).ok("version", "-o", "json"))["serverVersion"]["gitVersion"]
    DOC.write_text(render_doc(version))


def render_doc(server_version: str) -> str:
    rows = []
    for case in CASES:
        request = f"create `{doc_cell(json.dumps(case.spec))}`"
        if case.update is not None:
            request += f", then patch `{doc_cell(json.dumps(case.update['spec']))}`"
        name = f" named `{case.object_name}`" if case.name else ""
        cells = [f"`{case.id}`", f"{case.kind}{name}", request, doc_cell(observed[case.id])]
        rows.append(f"| {' | '.join(cells)} |")
    return "\n".join(
        [
            "# CRD validation: what the API server refuses, and what it says",
            "",
            "Generated from a real run of `tests/integration/operator/test_crds_api.py` against "
            f"kube-apiserver {server_version} (regenerate with `NEUROEDGE_WRITE_CRD_DOC=1 .venv/bin/pytest "
            "tests/integration/operator/test_crds_api.py`; each test checks that its row below is still what "
            "the server says). Messages are kubectl's output on one line; `<namespace>` stands for the "
            "test's namespace. Requests show the `spec` sent; patches are JSON merge patches of `spec`.",
            "",
            "| case | object | request (spec) | server message |",
            "| --- | --- | --- | --- |",
            *rows,
            "",
        ]
    )


# --- kubectl features ------------------------------------------------------------------------------------


def wait_for(predicate: Callable[[], bool], timeout: float = 30) -> None:
    """Poll until `predicate` holds (the OpenAPI document is published shortly after a CRD is Established)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.5)


@pytest.mark.parametrize(
    ("field_path", "fragments"),
    [
        ("tenant.spec.rateLimit", ["Token-bucket limit", "requestsPerSecond", "burst", "Default 50."]),
        ("workerpool.spec.queue.retryBackoff", ["Exponential backoff", "initialSeconds", "maxSeconds"]),
        ("vectorindex.spec.dimension", ["must match the embedding model. Immutable."]),
        ("engine.status.lastSchedules", ["lastEnqueuedTime", "avoid repeats"]),
    ],
)
def test_kubectl_explain_shows_field_descriptions(
    kubectl: Kubectl, field_path: str, fragments: list[str]
) -> None:
    def explained() -> bool:
        result = kubectl("explain", field_path)
        text = " ".join(result.out.split())
        return result.code == 0 and all(fragment in text for fragment in fragments)

    wait_for(explained)


def table(output: str) -> list[dict[str, str]]:
    """Rows of `kubectl get` output by column (custom-resource columns print nothing, not <none>, when the
    field is unset, so splitting on whitespace would shift cells)."""
    header, *lines = output.splitlines()
    starts = [i for i, c in enumerate(header) if c != " " and (i == 0 or header[i - 1] == " ")]
    bounds = [*zip(starts, [*starts[1:], None], strict=True)]
    names = [header[a:b].strip() for a, b in bounds]
    return [{n: line[a:b].strip() for n, (a, b) in zip(names, bounds, strict=True)} for line in lines]


def test_category_short_names_and_printer_columns(kubectl: Kubectl, namespace: str) -> None:
    pool = manifest("WorkerPool", "columns", namespace, {"replicas": 2, "engines": ["chat"]})
    index = manifest("VectorIndex", "columns", namespace, INDEX)
    try:
        for document in (pool, index):
            kubectl.ok("create", "-f", "-", manifest=document)
        mine = ["vectorindex.neuroedge.io/columns", "workerpool.neuroedge.io/columns"]
        listed = kubectl.ok("get", "neuroedge", "-n", namespace, "-o", "name").split()
        # The category spans the cluster-scoped Tenants too, which other tests may have created.
        assert sorted(n for n in listed if not n.startswith("tenant.")) == mine
        everything = kubectl.ok("get", "all", "-n", namespace, "-o", "name").split()
        assert set(mine) <= set(everything)
        (row,) = table(kubectl.ok("get", "wp", "columns", "-n", namespace))
        assert list(row) == ["NAME", "DESIRED", "CURRENT", "AVAILABLE", "LAG", "READY", "AGE"]
        assert (row["NAME"], row["DESIRED"], row["READY"]) == ("columns", "2", "")
        (row,) = table(kubectl.ok("get", "vidx", "columns", "-n", namespace, "-o", "wide"))
        assert list(row)[:4] == ["NAME", "BACKEND", "DIMENSION", "DISTANCE"]
        shown = [row[c] for c in ("BACKEND", "DIMENSION", "DISTANCE", "STORAGE")]
        assert shown == ["qdrant", "4", "Cosine", ""]
        assert kubectl("get", "tnt").code == 0
        assert kubectl("get", "eng", "-n", namespace).code == 0
    finally:
        for document in (pool, index):
            delete(kubectl, document)


def test_scale_subresource_drives_replicas_within_bounds(kubectl: Kubectl, namespace: str) -> None:
    pool = manifest("WorkerPool", "scaled", namespace, {"replicas": 1, "minReplicas": 1, "maxReplicas": 4})
    target = "workerpools.neuroedge.io/scaled"
    try:
        kubectl.ok("create", "-f", "-", manifest=pool)
        status = {"replicas": 1, "selector": "app.kubernetes.io/instance=scaled"}
        kubectl.ok(
            "patch", target, "-n", namespace, "--subresource=status", "--type=merge",
            "-p", json.dumps({"status": status}),
        )  # fmt: skip
        kubectl.ok("scale", target, "-n", namespace, "--replicas=3")
        assert kubectl.get("WorkerPool", "scaled", namespace)["spec"]["replicas"] == 3
        path = f"/apis/neuroedge.io/v1alpha1/namespaces/{namespace}/workerpools/scaled/scale"
        scale = json.loads(kubectl.ok("get", "--raw", path))
        assert scale["spec"]["replicas"] == 3
        assert scale["status"] == {"replicas": 1, "selector": "app.kubernetes.io/instance=scaled"}
        refused = kubectl("scale", target, "-n", namespace, "--replicas=5")
        assert refused.code != 0
        assert "replicas must be less than or equal to maxReplicas" in refused.err
        assert kubectl.get("WorkerPool", "scaled", namespace)["spec"]["replicas"] == 3
    finally:
        delete(kubectl, pool)


def test_kubectl_wait_for_ready_condition(kubectl: Kubectl, namespace: str) -> None:
    engine = manifest("Engine", "waited", namespace, ENGINE)
    target = "engines.neuroedge.io/waited"
    try:
        kubectl.ok("create", "-f", "-", manifest=engine)
        generation = kubectl.get("Engine", "waited", namespace)["metadata"]["generation"]
        condition = {
            "type": "Ready",
            "status": "True",
            "reason": "Reconciled",
            "message": "",
            "lastTransitionTime": "2026-01-01T00:00:00Z",
            "observedGeneration": generation,
        }
        status = {"observedGeneration": generation, "conditions": [condition], "readyReplicas": 1}
        kubectl.ok(
            "patch", target, "-n", namespace, "--subresource=status",
            "--type=merge", "-p", json.dumps({"status": status}),
        )  # fmt: skip
        kubectl.ok("wait", "--for=condition=Ready", target, "-n", namespace, "--timeout=20s")
        (row,) = table(kubectl.ok("get", "eng", "waited", "-n", namespace))
        assert (row["TYPE"], row["POOL"]) == ("predictive", "")
        assert (row["REPLICAS"], row["AVAILABLE"], row["READY"]) == ("1", "1", "True")
        bad = dict(condition, status="Maybe")
        refused = kubectl(
            "patch", target, "-n", namespace, "--subresource=status",
            "--type=merge", "-p", json.dumps({"status": {"conditions": [bad]}}),
        )  # fmt: skip
        assert refused.code != 0
        assert 'Unsupported value: "Maybe"' in refused.err
    finally:
        delete(kubectl, engine)


# --- harness ---------------------------------------------------------------------------------------------


def test_plain_deployment_becomes_ready_through_kwok(kubectl: Kubectl, namespace: str) -> None:
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "harness", "namespace": namespace},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "harness"}},
            "template": {
                "metadata": {"labels": {"app": "harness"}},
                "spec": {"containers": [{"name": "app", "image": "registry.invalid/neuroedge/runtime:test"}]},
            },
        },
    }
    try:
        kubectl.ok("create", "-f", "-", manifest=deployment)
        kubectl.ok(
            "wait", "--for=jsonpath={.status.readyReplicas}=2", "deployment/harness", "-n", namespace,
            "--timeout=90s",
        )  # fmt: skip
        pods = json.loads(kubectl.ok("get", "pods", "-n", namespace, "-l", "app=harness", "-o", "json"))
        assert len(pods["items"]) == 2
        assert all(p["spec"]["nodeName"].startswith("kwok-node-") for p in pods["items"])
    finally:
        delete(kubectl, deployment)
