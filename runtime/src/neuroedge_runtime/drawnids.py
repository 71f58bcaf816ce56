"""The runtime API's id generator: the SDK's random ids, except a root span's trace id that the request path
drew ahead to decide the request's sampling (`sampling`). Imports the SDK: loaded only when tracing is on."""

from __future__ import annotations

from opentelemetry.sdk.trace import id_generator

from neuroedge_runtime import sampling


class DrawnAheadIds(id_generator.RandomIdGenerator):
    """Random ids; inside `sampling.draw(trace_id)`, the next trace id is that one (the sampled request's
    span must carry the id its sampling was decided on, so that the SDK's sampler agrees)."""

    def generate_trace_id(self) -> int:
        drawn = sampling.drawn()
        return drawn if drawn else super().generate_trace_id()
