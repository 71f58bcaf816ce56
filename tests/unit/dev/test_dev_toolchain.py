"""The pure parts of the control-plane build: staging replacements and the wrapper module."""

from __future__ import annotations

from neuroedge_dev import controlplane, toolchain

KUBERNETES_GOMOD = """module k8s.io/kubernetes

require (
\tk8s.io/api v0.0.0
)

replace (
\tk8s.io/api => ./staging/src/k8s.io/api
\tk8s.io/client-go => ./staging/src/k8s.io/client-go
\tgithub.com/other/mod => github.com/fork/mod v1.0.0
)
"""


def test_staging_modules_are_replaced_by_their_published_release() -> None:
    lines = toolchain.staging_replacements(KUBERNETES_GOMOD, "v0.36.3")
    assert lines == ["\tk8s.io/api => k8s.io/api v0.36.3", "\tk8s.io/client-go => k8s.io/client-go v0.36.3"]


def test_wrapper_gomod_carries_the_replacements() -> None:
    tool = next(t for t in toolchain.TOOLS if t.name == "kubernetes")
    text = toolchain.wrapper_gomod(tool, ["\tk8s.io/api => k8s.io/api v0.36.3"])
    assert text.startswith("module neuroedge.dev/build/kubernetes\n")
    assert "replace (\n\tk8s.io/api => k8s.io/api v0.36.3\n)" in text


def test_kubernetes_is_stamped_with_its_real_version() -> None:
    tool = next(t for t in toolchain.TOOLS if t.name == "kubernetes")
    assert f"-X k8s.io/component-base/version.gitVersion={tool.version}" in tool.ldflags
    assert "-X k8s.io/component-base/version.gitMinor=36" in tool.ldflags


def test_fake_node_is_managed_by_kwok_and_schedulable() -> None:
    node = controlplane.fake_node("n1")
    metadata = node["metadata"]
    assert isinstance(metadata, dict)
    assert metadata["annotations"][controlplane.FAKE_NODE_ANNOTATION] == "fake"
    assert node["spec"] == {}  # no taint: pods schedule without tolerations


def test_bench_load_generators_come_from_debian_and_the_go_module_proxy() -> None:
    """`make bench` installs wrk from Debian (as redis-server) and builds vegeta, cached by version."""
    assert toolchain.DEBIAN_PACKAGES["wrk"] == "wrk"
    assert toolchain.DEBIAN_PACKAGES["redis-server"] == "redis-server"
    # callgrind (instructions per request) and the command that switches its counting: one package
    packages = toolchain.DEBIAN_PACKAGES
    assert packages["valgrind"] == packages["callgrind_control"] == "valgrind"
    vegeta = toolchain.VEGETA
    assert vegeta.module == "github.com/tsenart/vegeta/v12" and vegeta.version.startswith("v12.")
    assert vegeta.packages == {"vegeta": "github.com/tsenart/vegeta/v12"}
    assert f"-X main.Version={vegeta.version}" in vegeta.ldflags
    assert toolchain.tool_dir(vegeta).name == f"vegeta-{vegeta.version}"
    assert vegeta not in toolchain.TOOLS  # the stack itself never needs it
