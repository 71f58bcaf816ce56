"""The API with no model loaded stays small (issue 15: idle resident memory under 100 MB, measured by
`bench/bench_runtime.py` as runtime_rss_idle): the heavy libraries are imported on first use, never by
building the app. Checked in a fresh interpreter, since this test session has imported them all."""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import json, sys
from neuroedge_runtime import app, server, settings
app.init_app(settings.RuntimeSettings.from_env({"DATABASE_URL": "postgresql://x/y", "REDIS_URL": "redis://x"}))
print(json.dumps(sorted(m for m in ("numpy", "onnxruntime", "wordllama", "qdrant_client", "tokenizers")
                        if m in sys.modules)))
"""


def test_building_the_api_imports_no_heavy_library() -> None:
    probe = [sys.executable, "-c", PROBE]
    out = subprocess.run(probe, capture_output=True, text=True, check=True, timeout=60)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
