"""Real trained models for the serving tests and the benchmark: scikit-learn estimators fitted on datasets
that ship with scikit-learn, converted to ONNX with skl2onnx, and a loopback HTTP server of their bytes."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from aiohttp import web
from skl2onnx import to_onnx
from sklearn.datasets import load_diabetes, load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression, Ridge


@dataclass(frozen=True)
class Trained:
    """A fitted estimator, its ONNX bytes and digest, and the rows it was fitted on."""

    estimator: Any
    onnx: bytes
    x: np.ndarray

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.onnx).hexdigest()


def iris_classifier(kind: str = "logistic") -> Trained:
    """A 3-class iris classifier; ONNX outputs `label` (INT64 [N]) and `probabilities` (FP32 [N, 3])."""
    x, y = load_iris(return_X_y=True)
    x = x.astype(np.float32)
    estimator: Any = (
        LogisticRegression(max_iter=1000)
        if kind == "logistic"
        else RandomForestClassifier(n_estimators=10, max_depth=4, random_state=0)
    )
    estimator.fit(x, y)
    model = to_onnx(estimator, x[:1], options={id(estimator): {"zipmap": False}}, target_opset=17)
    return Trained(estimator, model.SerializeToString(), x)


def diabetes_regressor() -> Trained:
    """A ridge regression of disease progression, in double precision (FP64 input `X`, output `variable`)."""
    x, y = load_diabetes(return_X_y=True)
    estimator = Ridge(alpha=0.1).fit(x, y)
    model = to_onnx(estimator, x[:1].astype(np.float64), target_opset=17)
    return Trained(estimator, model.SerializeToString(), x)


@dataclass
class ModelServer:
    """Files served over HTTP on 127.0.0.1; `hits` counts GETs per path."""

    files: dict[str, bytes] = field(default_factory=dict)
    hits: dict[str, int] = field(default_factory=dict)
    base: str = ""

    def url(self, path: str) -> str:
        return f"{self.base}/{path}"


@asynccontextmanager
async def model_server() -> AsyncIterator[ModelServer]:
    """A loopback HTTP server of `ModelServer.files`."""
    server = ModelServer()

    async def get(request: web.Request) -> web.Response:
        path = request.match_info["path"]
        server.hits[path] = server.hits.get(path, 0) + 1
        if path not in server.files:
            raise web.HTTPNotFound()
        return web.Response(body=server.files[path], content_type="application/octet-stream")

    app = web.Application()
    app.router.add_get("/{path:.+}", get)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    server.base = f"http://127.0.0.1:{port}"
    try:
        yield server
    finally:
        await runner.cleanup()
