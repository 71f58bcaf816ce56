"""Pure parts of the API surface: the OpenAPI document, rate-limit keys and headers, filter translation."""

from __future__ import annotations

import json
import uuid

from qdrant_client import models as qm

from neuroedge_runtime import openapi, ratelimit, respclient, routes, routing
from neuroedge_runtime.tenancy.registry import TenantInfo
from neuroedge_runtime.vectors import models, pgvector, qdrant, scoring


def test_openapi_lists_every_route_with_its_access() -> None:
    specs = [spec for spec in routes.table() if spec.documented]
    doc = openapi.document(routes.table(), "1")
    assert sum(len(ops) for ops in doc["paths"].values()) == len(specs)
    for spec in specs:
        op = doc["paths"][spec.path][spec.method.lower()]
        assert ("security" in op) == (spec.access != routing.PUBLIC)
        if spec.body:
            assert op["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
                spec.body.__name__
            )
    json.dumps(doc)  # serialisable


def test_open_inference_protocol_routes_stay_out_of_the_openapi_document() -> None:
    oip = [spec for spec in routes.table() if not spec.documented]
    assert {spec.path for spec in oip} >= {"/v2", "/v2/models/{name}/infer"}
    assert all(spec.path.startswith("/v2") for spec in oip)
    assert not any(path.startswith("/v2") for path in openapi.document(routes.table(), "1")["paths"])


def test_openapi_job_routes_bound_the_job_id_and_document_the_location() -> None:
    doc = openapi.document(routes.table(), "1")
    get_job = doc["paths"]["/jobs/{job_id}"]["get"]
    (param,) = get_job["parameters"]
    assert param["in"] == "path" and param["schema"]["pattern"] == "^[0-9A-HJKMNP-TV-Z]{26}$"
    assert get_job["x-required-role"] == "viewer"
    run = doc["paths"]["/engine/run"]["post"]
    assert run["x-required-role"] == "member" and "Location" in run["responses"]["202"]["headers"]
    disable = doc["paths"]["/admin/users/{user_id}/disable"]["post"]["parameters"][0]
    assert disable["schema"] == {"type": "string", "format": "uuid"}


def test_rate_limit_and_revocation_keys_share_one_hash_tag_per_tenant() -> None:
    user = uuid.uuid4()
    tenant_key, user_key, revoked_key = ratelimit.keys("acme", user)
    assert tenant_key == "ne:acme:{acme.rl}:tenant" and user_key == f"ne:acme:{{acme.rl}}:user:{user}"
    assert revoked_key == ratelimit.revocation_key("acme", user) == f"ne:acme:{{acme.rl}}:revoked:{user}"
    info = TenantInfo("acme", False, 900, 3600, 50.0, 100, 5.0, 10)
    assert ratelimit.arguments(info, 1_700_000_000) == (20_000, 100, 200_000, 10, 1_700_000_000)


def test_a_repeated_check_sends_the_bytes_of_its_first_encoding() -> None:
    user = uuid.uuid4()
    info = TenantInfo("acme", False, 900, 3600, 50.0, 100, 5.0, 10)
    keys, args = ratelimit.keys("acme", user), ratelimit.arguments(info, 1_700_000_000)
    first = respclient._evalsha("f" * 40, keys, args)
    assert first == respclient.encode(("EVALSHA", "f" * 40, 3, *keys, *args))
    again = respclient._evalsha(
        "f" * 40, ratelimit.keys("acme", user), ratelimit.arguments(info, 1_700_000_000)
    )
    assert again is first  # remembered, not encoded again
    other = respclient._evalsha("f" * 40, ratelimit.keys("acme", uuid.uuid4()), args)
    assert other != first and str(user).encode() not in other


def test_rate_limit_headers() -> None:
    rejected = ratelimit.Decision(False, 10, 0, 3, 3, "user")
    assert rejected.headers()["Retry-After"] == "3" and rejected.headers()["RateLimit-Remaining"] == "0"
    assert "Retry-After" not in ratelimit.Decision(True, 10, 9, 1, 0, "tenant").headers()


def test_pgvector_filters_are_parameters_only() -> None:
    request = models.SearchRequest.model_validate(
        {
            "index": "i",
            "vector": [1.0],
            "filter": {"color": "red", "price": {"gte": 1, "lt": 5}, "tag": {"in": ["a", 2]}},
        }
    )
    clauses, params = pgvector.filter_sql(request.filter, 4)
    text = " ".join(clauses)
    assert "red" not in text and "color" not in text and "price" not in text
    assert params[0] == json.dumps({"color": "red"})
    assert "$4" in clauses[0] and f"${4 + len(params) - 1}" in text
    assert ['"a"', "2"] in params


def search(**body: object) -> models.SearchRequest:
    return models.SearchRequest.model_validate({"index": "i", "vector": [1.0], **body})


def test_the_common_pgvector_search_needs_no_settings() -> None:
    assert pgvector.search_settings(search()) == []
    assert pgvector.search_settings(search(top_k=pgvector.DEFAULT_EF_SEARCH)) == []
    assert pgvector.search_settings(search(params={})) == []


def test_pgvector_search_settings_follow_the_request() -> None:
    iterate = ("hnsw.iterative_scan", "relaxed_order")
    # More rows than the candidate list holds, or a filter that may discard candidates: keep scanning.
    assert pgvector.search_settings(search(top_k=pgvector.DEFAULT_EF_SEARCH + 1)) == [iterate]
    assert pgvector.search_settings(search(filter={"color": "red"})) == [iterate]
    assert pgvector.search_settings(search(top_k=100, params={"hnsw_ef": 100})) == [("hnsw.ef_search", "100")]
    assert pgvector.search_settings(search(top_k=20, params={"hnsw_ef": 10})) == [
        ("hnsw.ef_search", "10"),
        iterate,
    ]
    assert pgvector.search_settings(search(params={"exact": True})) == [("enable_indexscan", "off")]


def test_pgvector_settings_are_set_in_one_statement_of_parameters() -> None:
    assert pgvector.set_config_sql(1) == "SELECT set_config($1, $2, true)"
    assert pgvector.set_config_sql(2) == "SELECT set_config($1, $2, true), set_config($3, $4, true)"


def test_search_params_are_qdrants_own() -> None:
    assert qdrant.search_params(None) is None
    built = qdrant.search_params(search(params={"hnsw_ef": 128, "exact": True}).params)
    assert built == qm.SearchParams(hnsw_ef=128, exact=True)


def test_qdrant_filters_always_restrict_to_the_tenant() -> None:
    built = qdrant.build_filter(
        "acme", {"price": models.Range(gt=1), "n": 2.0, "tag": models.AnyOf(values=["x"])}
    )
    assert built.must is not None
    first = built.must[0]
    assert isinstance(first, qm.FieldCondition) and first.key == "tenant_id"
    assert isinstance(first.match, qm.MatchValue) and first.match.value == "acme"
    keys = [c.key for c in built.must if isinstance(c, qm.FieldCondition)]
    assert keys == ["tenant_id", "data.price", "data.n"]


def test_scores_are_higher_for_more_similar_on_every_distance() -> None:
    assert scoring.from_pgvector("Cosine", 0.1) > scoring.from_pgvector("Cosine", 0.5)
    assert scoring.from_pgvector("Dot", -3.0) > scoring.from_pgvector("Dot", -1.0)
    assert scoring.from_pgvector("Euclid", 0.5) > scoring.from_pgvector("Euclid", 2.0)
    assert scoring.from_qdrant("Euclid", 0.5) > scoring.from_qdrant("Euclid", 2.0)
    assert scoring.from_qdrant("Cosine", 0.9) == 0.9
    assert scoring.keep(0.5, None) and scoring.keep(0.5, 0.5) and not scoring.keep(0.4, 0.5)


def test_unmatched_requests_ask_only_the_resources_of_their_first_segment() -> None:
    from aiohttp import web  # noqa: PLC0415

    from neuroedge_runtime import requestpath  # noqa: PLC0415

    async def handler(request: web.Request) -> web.Response:
        return web.Response()

    app = web.Application()
    for path in ("/", "/engine/predict", "/engine/run", "/engines/{name}", "/{kind}/items", "/v{n}/x"):
        app.router.add_get(path, handler)
    app.router.add_route("*", "/{tail:.*}", handler, name=requestpath.UNMATCHED)
    groups = requestpath.by_first_segment(app.router.resources())
    canonical = {head: [r.canonical for r in members] for head, members in groups.items()}
    assert canonical == {
        "": ["/"],
        "engine": ["/engine/predict", "/engine/run"],
        "engines": ["/engines/{name}"],
        requestpath.ANY_SEGMENT: ["/{kind}/items", "/v{n}/x"],
    }
    assert [requestpath.first_segment(p) for p in ("/", "/a", "/a/b", "/engines/{name}")] == [
        "",
        "a",
        "a",
        "engines",
    ]
