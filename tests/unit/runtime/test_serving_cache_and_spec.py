"""The model cache (least recently used out first, under a size cap), the model spec an Engine's registry row
carries, and where mounted model URIs point."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pydantic
import pytest

from neuroedge_runtime.serving import artifacts, cache, sessions, spec

DIGEST = "a" * 64


@dataclass
class Entry:
    name: str
    size: int


def test_least_recently_used_models_are_unloaded_first() -> None:
    models: cache.ModelCache[Entry] = cache.ModelCache(capacity=100)
    a, b, c = Entry("a", 40), Entry("b", 40), Entry("c", 40)
    assert models.put("a", a) == [] and models.put("b", b) == []
    assert models.get("a") is a  # a is now the most recently used
    assert models.put("c", c) == [b]
    assert models.get("b") is None and models.total() == 80


def test_a_model_larger_than_the_cap_still_loads_alone() -> None:
    models: cache.ModelCache[Entry] = cache.ModelCache(capacity=10)
    small, big = Entry("s", 5), Entry("b", 50)
    models.put("s", small)
    assert models.put("b", big) == [small]
    assert models.get("b") is big and len(models) == 1


def test_model_spec_parses_registry_json() -> None:
    model = spec.parse(
        {"uri": "https://models.example/iris.onnx", "sha256": DIGEST, "batching": {"maxBatchSize": 32}}
    )
    assert model.format == "onnx" and model.batching is not None
    assert model.batching.settings().max_batch_size == 32
    assert model.batching.settings().max_delay_seconds == pytest.approx(0.005)
    assert spec.parse({"uri": "pvc://models/iris.onnx"}).sha256 is None


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"uri": "s3://bucket/model.onnx"}, "scheme of the model URI"),
        ({"uri": "https://models.example/m.onnx"}, "needs its sha256"),
        ({"uri": "pvc://c/m.onnx", "sha256": "ABC"}, "64 lowercase hexadecimal"),
        ({"uri": "pvc://c/m.onnx", "format": "pickle"}, "onnx"),
        ({"uri": "pvc://c/m.onnx", "batching": {"maxBatchSize": 0}}, "greater than or equal to 1"),
    ],
)
def test_bad_model_specs_are_refused(document: dict[str, object], message: str) -> None:
    with pytest.raises(pydantic.ValidationError, match=message):
        spec.parse(document)


def test_mounted_uris_resolve_under_their_volume() -> None:
    root = Path("/mnt/models")
    assert artifacts.mounted_path("pvc://claim/dir/m.onnx", root) == root / "pvc/claim/dir/m.onnx"
    assert artifacts.mounted_path("configmap://cm/model.onnx", root) == root / "configmap/cm/model.onnx"


@pytest.mark.parametrize(
    "uri", ["pvc://claim/../other/m.onnx", "pvc://claim/", "pvc:///m.onnx", "configmap://cm/a/b"]
)
def test_mounted_uris_cannot_leave_their_volume(uri: str) -> None:
    with pytest.raises(artifacts.ArtifactError) as caught:
        artifacts.mounted_path(uri, Path("/mnt/models"))
    assert caught.value.reason == "InvalidURI"


def test_a_model_is_charged_its_resident_growth_never_less_than_its_file() -> None:
    assert sessions.charged_size(1_000, 50_000, 750_000) == 700_000
    assert sessions.charged_size(1_000, 50_000, 50_500) == 1_000  # memory freed meanwhile: the file at least
    assert sessions.charged_size(1_000, None, 750_000) == 1_000  # unreadable: the file
