"""A test-only variant family: a gated variant that burns a set fraction of its own call time.

`slowed-ort-int8-dynamic` is ort-int8-dynamic (the same cache entry, the same recipe, so the same accuracy gate)
whose every call then spins on the CPU for $FASTBERT_SLOWED_FRACTION of that call's time (default 0: unchanged).
It is a real slowdown of known size, for showing what the regression gate catches (docs/measurements/).
Installed by putting this folder on PYTHONPATH: the dist-info beside it holds the entry point.
"""

import os
import time
from dataclasses import dataclass

from fastbert_variants.recipes import Recipe
from fastbert_variants.variants import Variant, register

INNER = "ort-int8-dynamic"
FRACTION_ENV = "FASTBERT_SLOWED_FRACTION"


def _fraction() -> float:
    value = float(os.environ.get(FRACTION_ENV, "0"))
    if not 0 <= value < 10:
        raise ValueError(f"${FRACTION_ENV} must be from 0 to 10, got {value}")
    return value


@dataclass(frozen=True)
class Slowed(Variant):
    def _inner(self) -> Variant:
        from fastbert_variants.variants import REGISTRY

        return REGISTRY[INNER]

    def unavailable_reason(self, device):
        return self._inner().unavailable_reason(device)

    def artifact(self, context):
        return self._inner().artifact(context)

    def build(self, context):
        runner, fraction = self._inner().build(context), _fraction()
        inner_run = runner.run

        def run(prepared):
            started = time.perf_counter()
            logits = inner_run(prepared)
            until = time.perf_counter() + fraction * (time.perf_counter() - started)
            while time.perf_counter() < until:  # a busy CPU, as slower code would keep it
                pass
            return logits

        runner.run, runner.variant = run, self.name
        runner.info = {**runner.info, "slowed_fraction": fraction}
        return runner


register(Slowed("slowed-ort-int8-dynamic", ("cpu",), "onnxruntime",
                f"{INNER}, then a spin of ${FRACTION_ENV} of each call's time", ("onnxruntime", "optimum", "onnx"),
                recipe=Recipe("int8", keep_float=("ffn-down",))))  # ort-int8-dynamic's recipe: its accuracy gate
