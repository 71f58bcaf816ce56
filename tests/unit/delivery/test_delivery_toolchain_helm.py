"""helm in the dev toolchain: built from the Go module proxy on demand, stamped like helm's own release."""

from __future__ import annotations

from neuroedge_dev import toolchain


def test_helm_reports_its_full_version() -> None:
    assert toolchain.HELM.version == "v3.22.0"
    assert toolchain.HELM.packages == {"helm": "helm.sh/helm/v3/cmd/helm"}
    assert "-X helm.sh/helm/v3/internal/version.version=v3.22.0" in toolchain.HELM.ldflags


def test_helm_assumes_the_kubernetes_of_its_client_go() -> None:
    flags = toolchain._helm_ldflags("v3.22.0", "37")
    for where in ("lint/rules", "chartutil"):
        assert f"-X helm.sh/helm/v3/pkg/{where}.k8sVersionMajor=1" in flags
        assert f"-X helm.sh/helm/v3/pkg/{where}.k8sVersionMinor=37" in flags


def test_helm_is_not_part_of_the_control_plane_build() -> None:
    assert toolchain.HELM not in toolchain.TOOLS  # `neuroedge dev install` stays as cheap as before
