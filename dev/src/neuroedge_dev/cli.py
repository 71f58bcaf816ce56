"""`neuroedge dev ...`: the dev part's entry point (the local stack, `make up`, `make env`).

The product's own entry points are `neuroedge-operator` and `neuroedge-runtime`, in their parts; this command
exists only where the dev part is installed. Subcommands import their modules lazily so `--help` stays fast.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from neuroedge_dev import paths


def _dev(args: argparse.Namespace) -> int:
    from neuroedge_dev import procs, stack, toolchain  # noqa: PLC0415

    state_dir = Path(args.state_dir) if args.state_dir else paths.default_state_dir()
    try:
        if args.action == "install":
            _install(llm=args.llm, tests=args.tests)
            return 0
        if args.action == "up":
            toolchain.install_system_packages()
            _up(state_dir, Path(args.crds) if args.crds else None, Path(args.sample) if args.sample else None)
            if args.llm:
                from neuroedge_dev import llm_stack  # noqa: PLC0415

                print(f"llama-server (Gemma 3 270M) serves the sample Engine at {llm_stack.up(state_dir)}")
            print(f'use it from another shell:  eval "$(neuroedge dev env --state-dir {state_dir})"')
            return 0
        if args.action == "down":
            stopped = stack.down(state_dir, purge=args.purge)
            print("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))
            return 0
        if args.action == "status":
            rows = stack.status(state_dir)
            if not rows:
                print("not running")
                return 1
            width = max(len(name) for name, _, _, _ in rows) + 2  # worker names are long
            for name, alive, port, log in rows:
                print(f"{name:<{width}}{'up' if alive else 'DOWN':<6}port {port:<7}{log}")
            return 0 if all(alive for _, alive, _, _ in rows) else 1
        if args.action == "operator":
            from neuroedge_dev import local  # noqa: PLC0415

            record = local.start_operator(state_dir)
            print(f"operator running (pid {record.pid}, metrics on port {record.port}, log {record.log})")
            if args.sample:
                for manifest, took in local.apply_samples(state_dir, Path(args.sample)):
                    print(f"sample {manifest} is Ready ({took:.1f}s)")
            return 0
        current = stack.load(state_dir.resolve())
        if current is None:
            print("neuroedge dev stack is not running: run `make up`", file=sys.stderr)
            return 1
        print(stack.shell_exports(current))
        return 0
    except procs.StackError as exc:
        print(f"neuroedge dev {args.action}: {exc}", file=sys.stderr)
        return 2


def _install(*, llm: bool, tests: bool) -> None:
    """The stack's tools; with `llm` llama-server too; with `tests` everything else the test suite runs
    (helm, promtool, Jaeger and llama-server), so that `make test` builds it before pytest starts: pytest
    bounds each test, its fixtures' first builds included, by 300 s, and a cold llama.cpp build alone takes
    about 11 minutes (a fresh machine's suite failed every LLM test that way)."""
    from neuroedge_dev import llama, toolchain  # noqa: PLC0415

    toolchain.install_system_packages()
    toolchain.build_all()
    if tests:
        for tool in toolchain.TEST_TOOLS:
            toolchain.build(tool)
    if llm or tests:  # only on request: a cold llama.cpp build takes minutes, plain `make up` stays as fast
        print(f"llama-server: {llama.build()}")


def _up(state_dir: Path, crds: Path | None, sample: Path | None) -> None:
    """The stack (and CRDs); with a sample Tenant what `make up` does: also the operator, the samples, the
    runtime API and the sample workers (dev/apps.py)."""
    from neuroedge_dev import apps, stack  # noqa: PLC0415

    if sample is None:
        running = stack.up(state_dir, crds_dir=crds)
        print(f"neuroedge dev stack is up (Kubernetes {running.server_version}); state in {state_dir}")
        return
    report = apps.up(state_dir, crds, sample, os.environ)
    for manifest, took in report.samples:
        print(f"sample {manifest} is Ready ({took:.1f}s)")
    for index, chunks in report.ingested:
        print(f"sample VectorIndex {index}: {chunks} chunks ingested")
    for name in report.stopped:
        print(f"stopped {name} (its pool is no longer a sample)")
    print("started: " + (", ".join(report.started) if report.started else "nothing, all was running"))
    print(f"neuroedge dev stack is up; state in {state_dir}; RUNTIME_URL={report.runtime_url}")


def parser() -> argparse.ArgumentParser:
    """The argument parser (separate so tests can check the command surface)."""
    root = argparse.ArgumentParser(prog="neuroedge", description=__doc__)
    commands = root.add_subparsers(dest="command", required=True)
    dev = commands.add_parser("dev", help="local control plane, PostgreSQL and Redis on loopback")
    dev.add_argument("action", choices=["install", "up", "down", "status", "env", "operator"])
    dev.add_argument("--state-dir", help="where the stack keeps its state (default: ./.neuroedge)")
    dev.add_argument("--crds", help="directory of CRD manifests to install on `up`")
    dev.add_argument("--purge", action="store_true", help="with `down`: delete the stack's data as well")
    dev.add_argument(
        "--sample",
        help="with `up`: a Tenant manifest; the operator, the samples beside it, the runtime API and a "
        "worker per sample WorkerPool are started too (what `make up` does). With `operator`: only the "
        "operator and the samples",
    )
    dev.add_argument(
        "--llm",
        action="store_true",
        help="with `install`: also build llama-server (once, cached); with `up`: also start it with Gemma 3 "
        "270M and give the sample conversation Engine its spec.llm (what `make up LLM=1` does)",
    )
    dev.add_argument(
        "--tests",
        action="store_true",
        help="with `install`: also build what only the test suite runs (helm, promtool, Jaeger and "
        "llama-server; what `make test` does before starting pytest)",
    )
    dev.set_defaults(func=_dev)
    return root


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `neuroedge` console script."""
    args = parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
