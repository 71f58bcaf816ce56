"""Missing references are named, and the Engine recovers once they appear."""

from __future__ import annotations

import workload_samples as samples

from neuroedge_operator.plan import references
from neuroedge_operator.plan import workload_status as ws
from neuroedge_operator.resources import engine as engine_model

ALL_THERE = references.ObservedNames(
    worker_pools={"general"},
    config_maps={"shared"},
    secrets={"support-model", "neuroedge-tenant-credentials"},
)


def test_nothing_missing() -> None:
    engine = samples.engine(configRef={"name": "shared"})
    assert references.engine_missing(engine, ALL_THERE) == []
    assert references.engine_blockers(engine, ALL_THERE) == []


def test_every_missing_reference_is_named_with_its_field() -> None:
    engine = samples.engine(configRef={"name": "shared"})
    missing = references.engine_missing(engine, references.ObservedNames())
    assert [m.message for m in missing] == [
        "WorkerPool 'general' (spec.workerPoolRef) does not exist",
        "ConfigMap 'shared' (spec.configRef) does not exist",
        "Secret 'support-model' (spec.modelRef) does not exist",
        "Secret 'neuroedge-tenant-credentials' (tenant credentials) does not exist",
    ]


def test_unset_references_are_not_checked() -> None:
    engine = samples.engine(workerPoolRef=None, schedules=[], modelRef=None)
    names = references.ObservedNames(secrets={"neuroedge-tenant-credentials"})
    assert references.engine_missing(engine, names) == []


def test_engine_recovers_once_the_pool_appears() -> None:
    engine = samples.engine()
    before = references.ObservedNames(secrets=ALL_THERE.secrets)
    blockers = references.engine_blockers(engine, before)
    ready = ws.evaluate(ws.Observed(_available()), 2, False, blockers).ready
    assert (ready.status, ready.reason) == ("False", "MissingReference")
    assert "WorkerPool 'general'" in ready.message
    after = references.engine_blockers(engine, ALL_THERE)
    assert ws.evaluate(ws.Observed(_available()), 2, False, after).ready.status == "True"


def test_pool_that_does_not_list_the_engine_blocks_it() -> None:
    engine = samples.engine()
    names = references.ObservedNames(
        worker_pools={"general"}, secrets=ALL_THERE.secrets, pool_engines={"general": ["other-engine"]}
    )
    (blocker,) = references.engine_blockers(engine, names)
    assert blocker.reason == "NotServedByPool"
    assert "does not list engine 'support-assistant'" in blocker.message
    listed = references.ObservedNames(
        worker_pools={"general"}, secrets=ALL_THERE.secrets, pool_engines={"general": ["support-assistant"]}
    )
    assert references.engine_blockers(engine, listed) == []


def test_a_pool_without_an_engines_list_serves_every_engine_that_names_it() -> None:
    assert references.serves((), "support-assistant")
    assert references.serves([], "anything")
    assert references.serves(["support-assistant"], "support-assistant")
    assert not references.serves(["other-engine"], "support-assistant")


def test_engine_naming_a_pool_with_no_engines_list_is_served() -> None:
    engine = samples.engine()
    names = references.ObservedNames(
        worker_pools={"general"}, secrets=ALL_THERE.secrets, pool_engines={"general": ()}
    )
    assert references.engine_blockers(engine, names) == []


def test_a_non_empty_engines_list_stays_an_allowlist_for_engines_naming_the_pool() -> None:
    names = references.ObservedNames(
        worker_pools={"general"}, secrets=ALL_THERE.secrets, pool_engines={"general": ["support-assistant"]}
    )
    assert references.engine_blockers(samples.engine(), names) == []
    body = samples.engine_body()
    body["metadata"]["name"] = "intruder"
    (blocker,) = references.engine_blockers(engine_model.parse(body), names)
    assert blocker.reason == "NotServedByPool"
    assert "'intruder'" in blocker.message and "allowlist" in blocker.message


def test_pool_needs_only_the_credentials_secret() -> None:
    assert references.pool_missing(references.ObservedNames(secrets={"neuroedge-tenant-credentials"})) == []
    (missing,) = references.pool_missing(references.ObservedNames())
    assert missing.name == "neuroedge-tenant-credentials"
    assert references.as_blockers([missing])[0].reason == "MissingReference"


def _available() -> dict[str, object]:
    status = {
        "observedGeneration": 1,
        "replicas": 2,
        "updatedReplicas": 2,
        "readyReplicas": 2,
        "availableReplicas": 2,
    }
    return {"metadata": {"generation": 1}, "status": status}
