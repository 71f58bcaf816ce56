"""promtool and Jaeger in the dev toolchain: built from the Go module proxy on demand, cached by version,
never part of the control-plane build that `neuroedge dev install` runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from neuroedge_dev import toolchain


def test_promtool_and_jaeger_come_from_their_upstream_modules() -> None:
    assert toolchain.PROMTOOL.packages == {"promtool": "github.com/prometheus/prometheus/cmd/promtool"}
    assert toolchain.PROMTOOL.version == "v0.316.0"
    assert toolchain.JAEGER.packages == {"jaeger": "github.com/jaegertracing/jaeger/cmd/jaeger"}
    assert toolchain.JAEGER.version == "v1.76.0"
    assert toolchain.PROMTOOL not in toolchain.TOOLS and toolchain.JAEGER not in toolchain.TOOLS


def test_each_version_has_its_own_cache_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEUROEDGE_CACHE_DIR", str(tmp_path))
    assert toolchain.tool_dir(toolchain.PROMTOOL) == tmp_path / "bin" / "promtool-v0.316.0"
    assert toolchain.tool_dir(toolchain.JAEGER) == tmp_path / "bin" / "jaeger-v1.76.0"
    assert not toolchain.is_built(toolchain.JAEGER)
