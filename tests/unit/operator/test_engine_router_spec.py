"""`spec.routes` and `spec.fallback` of a router Engine: validated like the CRD does, and written into the
registry row's config as the runtime's router reads it."""

from __future__ import annotations

import json

import pytest
import workload_samples as samples

from neuroedge_operator.builders import engine as engine_builder
from neuroedge_operator.resources import workload

ROUTES = [
    {"name": "billing", "engine": "billing-bot", "utterances": ["invoice", "refund"], "threshold": 0.3},
    {"name": "shipping", "engine": "shipping-bot", "utterances": ["parcel"]},
]


def test_routes_and_fallback_go_into_the_registry_config() -> None:
    engine = samples.engine(type="router", routes=ROUTES, fallback="helpdesk", config={"k": "v"})
    config = engine_builder.registry_config(engine, {}, {})
    assert config["k"] == "v" and config["fallback"] == "helpdesk"
    assert json.loads(config["routes"]) == [ROUTES[0], {**ROUTES[1], "threshold": 0.5}]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"type": "router"}, "a router Engine needs spec.routes"),
        ({"type": "conversation", "routes": ROUTES}, "only for router Engines"),
        ({"type": "agent", "fallback": "helpdesk"}, "only for router Engines"),
        ({"type": "router", "routes": [ROUTES[0], ROUTES[0]]}, "route names must be unique"),
    ],
)
def test_invalid_router_specs_are_refused(spec: dict[str, object], message: str) -> None:
    with pytest.raises(workload.InvalidResourceError, match=message):
        samples.engine(**spec)
