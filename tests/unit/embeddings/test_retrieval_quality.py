"""Retrieval quality of the built-in model on a labelled set (tests/data/retrieval_labelled.json): each query
names the one document that answers it; top-1 accuracy is the share of queries whose nearest document (by
cosine similarity, what a VectorIndex search returns) is that one. The figure is printed (-s) and must stay
above a floor: a regression in the model wrapper (pooling, normalisation, tokenization) shows up here."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from neuroedge_runtime.embeddings import model

DATA = Path(__file__).resolve().parents[2] / "data" / "retrieval_labelled.json"
FLOOR = 0.85


def top1_accuracy(builtin: model.BuiltinModel) -> tuple[float, list[tuple[str, str, str]]]:
    labelled = json.loads(DATA.read_text())
    ids = list(labelled["documents"])
    docs = builtin.encode([labelled["documents"][i] for i in ids]).vectors
    queries = builtin.encode([q for q, _ in labelled["queries"]]).vectors
    best = np.argmax(queries @ docs.T, axis=1)
    misses = [
        (q, want, ids[b]) for (q, want), b in zip(labelled["queries"], best, strict=True) if ids[b] != want
    ]
    return 1 - len(misses) / len(labelled["queries"]), misses


def test_top1_accuracy_on_the_labelled_set() -> None:
    accuracy, misses = top1_accuracy(model.BuiltinModel())
    print(f"\nwordllama-256 top-1 accuracy: {accuracy:.3f} ({len(misses)} misses: {misses})")
    assert accuracy >= FLOOR, misses
