"""`neuroedge-operator`: the operator part's one entry point (settings from `NEUROEDGE_*` variables).

It is a console script of its own so that the operator image needs only the operator part: the runtime's
engines and the dev stack are other installable parts.
"""

from __future__ import annotations

import argparse
import os
import sys

from neuroedge_operator import run, settings, tracing
from neuroedge_queue import telemetry


def parser() -> argparse.ArgumentParser:
    """The argument parser (separate so tests can check the command surface)."""
    return argparse.ArgumentParser(
        prog="neuroedge-operator",
        description="Run the NeuroEdge operator; settings come from NEUROEDGE_* environment variables.",
    )


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `neuroedge-operator` console script."""
    parser().parse_args(argv)
    try:
        loaded = settings.from_env(os.environ)
        traces = telemetry.Settings.from_env(os.environ, tracing.SERVICE_NAME)
    except (settings.SettingsError, telemetry.TracingConfigError) as exc:
        print(f"neuroedge-operator: {exc}", file=sys.stderr)
        return 2
    provider = tracing.install(traces)
    try:
        return run.run(loaded)
    finally:
        if provider is not None:
            provider.shutdown()  # flushes the spans still batched


if __name__ == "__main__":
    sys.exit(main())
