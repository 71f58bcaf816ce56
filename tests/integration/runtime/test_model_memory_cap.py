"""The model memory cap charges what a model really costs: real ONNX Runtime sessions of random forests,
whose resident memory is several times their file, loaded from a mounted volume through the serving code."""

from __future__ import annotations

from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import aiohttp
import numpy as np
import pytest
from skl2onnx import to_onnx
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier

from neuroedge_runtime.serving import artifacts, local, sessions, spec


def forest_onnx(seed: int) -> bytes:
    """A 100-tree forest: a small file (tens of kB) whose session takes several times that in memory."""
    x, y = load_iris(return_X_y=True)
    x = x.astype(np.float32)
    clf = RandomForestClassifier(n_estimators=100, max_depth=8, random_state=seed).fit(x, y)
    return to_onnx(clf, x[:1], options={id(clf): {"zipmap": False}}, target_opset=17).SerializeToString()


@pytest.fixture
def mounted(tmp_path: Path) -> tuple[Path, list[bytes]]:
    store = tmp_path / "pvc" / "models"
    store.mkdir(parents=True)
    files = [forest_onnx(seed) for seed in range(3)]
    for i, data in enumerate(files):
        (store / f"forest-{i}.onnx").write_bytes(data)
    return tmp_path, files


@pytest.fixture
async def fetcher(mounted: tuple[Path, list[bytes]]) -> AsyncIterator[artifacts.Fetcher]:
    root, _ = mounted
    async with aiohttp.ClientSession() as http:
        yield artifacts.Fetcher(http, artifacts.Locations(root / "cache", root, max_bytes=10 << 20))


def test_a_forest_session_is_charged_more_than_its_file(mounted: tuple[Path, list[bytes]]) -> None:
    _, files = mounted
    session = sessions.Session(files[0], "0" * 64, intra_op_threads=1)
    assert session.size > 3 * len(files[0]), (session.size, len(files[0]))


async def test_the_cap_unloads_by_charged_memory_not_file_size(
    mounted: tuple[Path, list[bytes]], fetcher: artifacts.Fetcher
) -> None:
    _, files = mounted
    cap = 3 * sum(len(f) for f in files)  # by file size, all three would fit three times over
    executor = ThreadPoolExecutor(max_workers=2)
    models = local.LocalModels(fetcher, executor, memory_cap_bytes=cap)
    specs = [spec.parse({"uri": f"pvc://models/forest-{i}.onnx"}) for i in range(3)]
    try:
        loaded = [await models.served(s) for s in specs]
        assert all(m.size > len(f) for m, f in zip(loaded, files, strict=True))
        # What least-recently-used eviction under the cap keeps, by the sizes the models were charged.
        kept, total = [], 0
        for i in (2, 1, 0):
            if not kept or total + loaded[i].size <= cap:
                kept.append(i)
                total += loaded[i].size
            else:
                break
        assert kept[0] == 2 and len(kept) < 3, [m.size for m in loaded]
        for i in kept:
            assert await models.served(specs[i]) is loaded[i]
        assert await models.served(specs[0]) is not loaded[0]  # unloaded, so loaded afresh
    finally:
        await models.close()
        executor.shutdown()
