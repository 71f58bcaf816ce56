"""spec.embedding: parsed with clear messages, the built-in model's dimension checked against spec.dimension,
and the registry row carrying the model (and a changed model re-registering the index)."""

from __future__ import annotations

from typing import Any

import pytest

from neuroedge_operator.builders import vectorindex as handler
from neuroedge_operator.plan import vectorindex as plan
from neuroedge_operator.resources import conditions
from neuroedge_operator.resources import vectorindex as model


def body(**spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "docs", "namespace": "acme", "uid": "u1", "generation": 1},
        "spec": {"backend": "pgvector", "dimension": 256, **spec},
    }


def test_builtin_is_the_default_provider() -> None:
    spec = model.parse(body(embedding={"model": "wordllama-256"})).spec
    assert spec.embedding is not None and spec.embedding.provider == "builtin"
    assert model.embedding_mismatch(spec) is None


def test_external_provider_with_secret() -> None:
    embedding = {
        "model": "text-embedding-3-small",
        "provider": "openai",
        "baseURL": "https://api.openai.com/v1",
        "apiKeySecretRef": {"name": "openai", "key": "api-key"},
    }
    spec = model.parse(body(dimension=1536, embedding=embedding)).spec
    assert spec.embedding is not None and spec.embedding.api_key_secret_ref is not None
    assert spec.embedding.api_key_secret_ref.key == "api-key"
    assert model.embedding_mismatch(spec) is None  # an external model's dimension is checked by the runtime


@pytest.mark.parametrize(
    ("embedding", "message"),
    [
        ({"model": "m", "provider": "openai"}, "provider openai needs baseURL"),
        ({"model": "m", "provider": "openai", "baseURL": "ftp://x"}, "provider openai needs baseURL"),
        ({"model": "wordllama-256", "baseURL": "http://x/v1"}, "apply to provider openai only"),
        ({"model": "minilm"}, "the built-in embedding models are wordllama-256, not 'minilm'"),
        ({"model": "wordllama-256", "provider": "cohere"}, "spec.embedding.provider"),
    ],
)
def test_bad_embedding_is_refused_by_field(embedding: dict[str, Any], message: str) -> None:
    with pytest.raises(model.InvalidVectorIndexError, match=r"spec\.embedding") as refused:
        model.parse(body(embedding=embedding))
    assert message in str(refused.value)


def test_dimension_mismatch_names_both() -> None:
    spec = model.parse(body(dimension=1536, embedding={"model": "wordllama-256"})).spec
    why = model.embedding_mismatch(spec)
    assert why == "embedding model wordllama-256 makes 256-dimensional vectors but spec.dimension is 1536"
    ready, degraded = conditions.embedding_mismatch(why)
    assert (ready.type, ready.status, ready.reason) == ("Ready", "False", "EmbeddingDimensionMismatch")
    assert (degraded.type, degraded.status, degraded.reason) == (
        "Degraded",
        "True",
        "EmbeddingDimensionMismatch",
    )
    assert "1536" in ready.message and "256" in ready.message


def test_registry_row_carries_the_model_and_a_change_re_registers() -> None:
    index = model.parse(body(embedding={"model": "wordllama-256"}))
    wanted = handler.layout("acme", index)
    row = plan.registered(wanted)
    assert (row.embedding_model, row.embedding_provider, row.embedding_api_key) == (
        "wordllama-256",
        "builtin",
        None,
    )
    without = plan.registered(handler.layout("acme", model.parse(body())))
    assert without.embedding_model is None
    storage = plan.Storage(dimension=256, distance="Cosine", hnsw=(16, 100))
    assert [a.kind for a in plan.plan(wanted, storage, without).actions] == ["register"]
    assert plan.plan(wanted, storage, row).actions == ()
    external = handler.layout(
        "acme",
        model.parse(body(embedding={"model": "m", "provider": "openai", "baseURL": "http://tei:80/v1"})),
        api_key="sk-1",
    )
    assert plan.registered(external).embedding_api_key == "sk-1"
