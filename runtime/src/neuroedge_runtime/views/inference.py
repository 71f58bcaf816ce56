"""Open Inference Protocol v2 endpoints (KServe/Triton compatible): server and model metadata, health, and
inference in JSON or with Triton's binary tensor data extension. The model name is the Engine's name; the
tenant is the caller's. Errors are `{"error": "..."}` (rendered by the error middleware for /v2 paths)."""

from __future__ import annotations

from aiohttp import web

import neuroedge_runtime
from neuroedge_runtime import keys, problems
from neuroedge_runtime.serving import oip, service
from neuroedge_runtime.serving.tensors import TensorError
from neuroedge_runtime.views import ops

EXTENSIONS = ["binary_tensor_data"]


async def server_metadata(request: web.Request) -> web.Response:
    """Name, version and protocol extensions of this server."""
    return web.json_response(
        {"name": "neuroedge", "version": neuroedge_runtime.__version__, "extensions": EXTENSIONS}
    )


async def live(request: web.Request) -> web.Response:
    """Liveness: the event loop answers."""
    return web.json_response({"live": True})


async def ready(request: web.Request) -> web.Response:
    """Readiness: the database and Redis answer (models load on first use, per Engine)."""
    await ops.ready(request)
    return web.json_response({"ready": True})


def _name(request: web.Request) -> str:
    return request.match_info["name"]


async def _served(request: web.Request) -> service.Served:
    """The Engine's loaded model; a version in the path must be the model's sha256 (its only version)."""
    served = await request.app[keys.MODELS].served(request[keys.PRINCIPAL].tenant, _name(request))
    version = request.match_info.get("version")
    if version is not None and version != served.session.digest:
        raise problems.not_found(f"model {_name(request)!r} has no version {version!r}")
    return served


async def model_metadata(request: web.Request) -> web.Response:
    """Inputs and outputs of the Engine's model (loading it if it is not loaded yet)."""
    session = (await _served(request)).session
    return web.json_response(oip.metadata(_name(request), session.digest, session.signature))


async def model_ready(request: web.Request) -> web.Response:
    """200 when the Engine's model is loaded (loading it now if needed), 503 with the reason otherwise."""
    await _served(request)
    return web.json_response({"name": _name(request), "ready": True})


async def infer(request: web.Request) -> web.Response:
    """Run the Engine's model on the request's tensors."""
    name = _name(request)
    served = await _served(request)
    body = await request.read()
    try:
        parsed, tail = oip.parse(body, request.headers.get(oip.HEADER_LENGTH))
        decoded = oip.decode(parsed, tail, served.session.signature)
    except TensorError as exc:
        raise problems.bad_request(str(exc)) from None
    results = await served.infer(decoded.inputs, decoded.outputs)
    encoded = oip.encode(name, served.session.digest, decoded, results)
    if encoded.header_length is None:
        return web.Response(body=encoded.body, content_type="application/json")
    return web.Response(
        body=encoded.body,
        content_type="application/octet-stream",
        headers={oip.HEADER_LENGTH: str(encoded.header_length)},
    )
