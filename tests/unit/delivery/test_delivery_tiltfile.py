"""The Tiltfile cannot run here (Tilt needs Docker and a cluster with a container runtime). Starlark is a
Python subset, so it is parsed as Python: a syntax error, or a path it names that does not exist, fails here.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def calls(tree: ast.AST, name: str) -> list[ast.Call]:
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == name
    ]


TREE = ast.parse((REPO / "Tiltfile").read_text(), filename="Tiltfile")
CONSTANTS = {
    target.id: ast.literal_eval(node.value)
    for node in TREE.body
    if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant | ast.List)
    for target in node.targets
    if isinstance(target, ast.Name)
}


def value(node: ast.expr) -> object:
    """A literal, or a module-level constant named by it."""
    return CONSTANTS[node.id] if isinstance(node, ast.Name) else ast.literal_eval(node)


def keyword(call: ast.Call, name: str) -> object:
    return next(value(k.value) for k in call.keywords if k.arg == name)


def test_images_are_built_from_the_repository_dockerfiles() -> None:
    builds = {value(c.args[0]): keyword(c, "dockerfile") for c in calls(TREE, "docker_build")}
    assert builds == {"neuroedge/operator": "operator/Dockerfile", "neuroedge/runtime": "runtime/Dockerfile"}
    for dockerfile in builds.values():
        assert (REPO / str(dockerfile)).is_file()


def test_runtime_image_is_substituted_in_the_operator_env() -> None:
    runtime = next(c for c in calls(TREE, "docker_build") if value(c.args[0]) == "neuroedge/runtime")
    assert keyword(runtime, "match_in_env_vars") is True


def test_applies_the_samples_overlay() -> None:
    (overlay,) = [value(c.args[0]) for c in calls(TREE, "kustomize")]
    assert (REPO / overlay / "kustomization.yaml").is_file()


def test_forwards_operator_metrics() -> None:
    forwards = [(value(c.args[0]), value(c.args[1])) for c in calls(TREE, "port_forward")]
    assert (8080, 8080) in forwards
    serve = [
        keyword(c, "serve_cmd")
        for c in calls(TREE, "local_resource")
        if "serve_cmd" in {k.arg for k in c.keywords}
    ]
    assert any("port-forward" in str(cmd) for cmd in serve)


def test_says_it_needs_a_container_runtime() -> None:
    assert "CONTAINER RUNTIME" in (REPO / "Tiltfile").read_text()
