"""`neuroedge-runtime api|worker`: the runtime part's one entry point, the same image in both modes.

Each mode imports its own modules only when chosen, so `neuroedge-runtime --help` stays fast.
"""

from __future__ import annotations

import argparse
import os
import sys


def _api() -> int:
    from neuroedge_queue import telemetry  # noqa: PLC0415
    from neuroedge_runtime import server, tracing  # noqa: PLC0415
    from neuroedge_runtime.settings import RuntimeSettings  # noqa: PLC0415

    try:
        settings = RuntimeSettings.from_env()
        traces = telemetry.Settings.from_env(os.environ, "neuroedge-runtime-api")
    except KeyError as exc:
        print(f"neuroedge-runtime api: missing environment variable {exc}", file=sys.stderr)
        return 2
    except telemetry.TracingConfigError as exc:
        print(f"neuroedge-runtime api: {exc}", file=sys.stderr)
        return 2
    provider = tracing.install(traces)
    try:
        server.run(settings)
    finally:
        if provider is not None:
            provider.shutdown()  # flushes the spans still batched
    return 0


def _worker() -> int:
    from neuroedge_runtime.queue import service  # noqa: PLC0415

    return service.main()


MODES = {"api": _api, "worker": _worker}


def parser() -> argparse.ArgumentParser:
    """The argument parser (separate so tests can check the command surface)."""
    root = argparse.ArgumentParser(prog="neuroedge-runtime", description=__doc__)
    modes = root.add_subparsers(dest="mode", required=True)
    modes.add_parser("api", help="serve the HTTP API (settings from the environment)")
    modes.add_parser("worker", help="execute a WorkerPool's jobs (settings from the environment)")
    return root


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `neuroedge-runtime` console script."""
    args = parser().parse_args(argv)
    return MODES[args.mode]()


if __name__ == "__main__":
    sys.exit(main())
