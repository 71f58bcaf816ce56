"""The floor of an authenticated `/engine/predict` on aiohttp: only the work issue 15 requires of every such
request, with the runtime's own pieces, and nothing else. `bench_runtime.py` runs it as a server of its own
(`python predict_floor.py PORT LOOP REDIS_URL`) and measures it beside the bare hello-world, in the same
rounds as the runtime: the runtime cannot be faster than this, so `engine_predict_floor_rps` against
`hello_rps` is the most any design on this stack could reach, and `engine_predict_rps_vs_floor` what the
runtime's own design costs on top of it.

What each request does here, as the runtime does it:
- the bearer token looked up in a verified-token cache by its SHA-256 (the runtime's cache hit, the case of
  every request but a token's first: the signature is never verified here);
- one Redis round trip for the rate limits and the revocation check: the runtime's `RateLimiter.check`
  (its Lua script) over its pipelining client (`respclient`), bounded as the runtime bounds it;
- the body read, parsed by orjson and validated as the runtime's `EngineRequest`, the features validated
  as the predictive engine's `Inputs`;
- the predictive engine's `predict` on a config parsed once, and the response written by
  `bodies.json_document`.

What it leaves out, all of which the runtime does: request ids, metrics, the access log, the request
timeout, problem+json errors for anything that fails, the route's role check, the tenant and engine
registries (and their tenant transaction on a cold cache), tenant suspension, token expiry and key
rotation, the isolation of one tenant's engines from another's.
"""

from __future__ import annotations

import asyncio
import hashlib
import sys
import uuid

import orjson
import uvloop
from aiohttp import web

from neuroedge_runtime import bodies, ratelimit, respclient
from neuroedge_runtime.engines import base, predictive
from neuroedge_runtime.tenancy.registry import TenantInfo
from neuroedge_runtime.views.data import EngineRequest

RATE = 1e7
BURST = 10_000_000
WEIGHTS = {f"f{i}": 0.1 * i for i in range(8)}
CONFIG = base.EngineConfig({"model": "logistic", "weights": WEIGHTS, "bias": 0.1})
"""The shape of the bench's own engine (eight weights, logistic), whose features the requests carry."""
TENANT = TenantInfo(f"floor-{uuid.uuid4().hex[:8]}", False, 900, 86400, RATE, BURST, RATE, BURST)
USER = uuid.uuid4()
ISSUED_AT = 0


def app(redis_url: str) -> web.Application:
    verified: dict[bytes, tuple[TenantInfo, uuid.UUID, int]] = {}
    limiter = ratelimit.RateLimiter(respclient.Client(redis_url), 1.0)
    config = base.parse_config(predictive.Config, CONFIG)

    async def predict(request: web.Request) -> web.Response:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            raise web.HTTPUnauthorized
        key = hashlib.sha256(token.encode()).digest()
        principal = verified.get(key)
        if principal is None:  # the first request of a token: taken as verified
            principal = verified[key] = (TENANT, USER, ISSUED_AT)
        try:
            decision = await limiter.check(*principal)
        except ratelimit.RevokedError:
            raise web.HTTPUnauthorized from None
        if not decision.allowed:
            raise web.HTTPTooManyRequests
        body = EngineRequest.model_validate(orjson.loads(await request.read()))
        inputs = base.parse(predictive.Inputs, body.input, "input")
        response = bodies.json_document({"engine": body.engine, "result": predictive.predict(config, inputs)})
        response.headers.update(decision.headers())
        return response

    async def health(request: web.Request) -> web.Response:
        return web.Response(text="ok")  # for the bench to wait on

    application = web.Application()
    application.router.add_post("/engine/predict", predict)
    application.router.add_get("/health", health)
    return application


def main() -> None:
    port, loop, redis_url = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    if loop == "uvloop":
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    web.run_app(app(redis_url), host="127.0.0.1", port=port, access_log=None, print=None)


if __name__ == "__main__":
    main()
