"""`make up` fills the sample knowledge base: which VectorIndexes get documents, and that the shipped sample
documents match the sample index and Engine."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from neuroedge_dev import sample_ingest, workers

EXAMPLES = Path(__file__).resolve().parents[3] / "crds" / "examples"


def test_the_sample_index_with_documents_is_ingested_for_its_tenant() -> None:
    manifests = workers.load_manifests(EXAMPLES)
    planned = sample_ingest.plan(EXAMPLES, manifests, {"acme": "acme"})
    assert [(p.tenant, p.index, p.documents.name) for p in planned] == [
        ("acme", "support-kb", "support-kb.documents.json")
    ]
    assert sample_ingest.plan(EXAMPLES, manifests, {"other": "elsewhere"}) == []


def test_the_sample_index_embeds_with_the_builtin_model_and_the_engine_answers_from_it() -> None:
    index = yaml.safe_load((EXAMPLES / "vectorindex.yaml").read_text())
    engine = yaml.safe_load((EXAMPLES / "engine.yaml").read_text())
    assert index["spec"]["dimension"] == 256 and index["spec"]["embedding"] == {"model": "wordllama-256"}
    assert engine["spec"]["config"]["vectorIndex"] == index["metadata"]["name"]
    body = json.loads((EXAMPLES / "support-kb.documents.json").read_text())
    assert {d["id"] for d in body["documents"]} >= {"reset-password", "billing", "shipping"}


def test_sample_workers_get_the_database_for_ingestion_and_agents(tmp_path: Path) -> None:
    (tmp_path / "t.yaml").write_text(
        "kind: Tenant\nmetadata: {name: acme}\nspec: {namespaces: [acme]}\n---\n"
        "kind: WorkerPool\nmetadata: {name: general, namespace: acme}\nspec: {}\n"
    )
    manifests = workers.load_manifests(tmp_path)
    (worker,) = workers.plan(manifests, {"acme": "redis://x"}, "postgresql://db/x")
    assert worker.env["DATABASE_URL"] == "postgresql://db/x" and worker.env["NEUROEDGE_WORKER_VECTORS"] == "1"
    (light,) = workers.plan(manifests, {"acme": "redis://x"})
    assert "DATABASE_URL" not in light.env
