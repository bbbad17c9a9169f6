"""torch.compile (inductor): compile time is paid on the first call of each new shape and recorded apart."""

from __future__ import annotations

import time
from dataclasses import dataclass

from ..recipes import Recipe
from . import register
from .base import Variant
from .torch_common import compile_module, compiled_runner, torch_dtype


@dataclass(frozen=True)
class CompiledTorch(Variant):
    """torch.compile of the eager model in the recipe's precision; `mode` as torch names it."""

    mode: str = "default"

    def build(self, context):

        started = time.perf_counter()
        dtype = torch_dtype(self.recipe.precision)
        model = context.source.load_model(dtype=dtype).to(context.device)
        runner = compiled_runner(self.name, context, model, compile_module(model, context, self.mode), started,
                                 mode=self.mode, dtype=str(dtype).removeprefix("torch."),
                                 freezing=context.device == "cpu" and self.mode == "default")
        runner.cudagraphs = self.mode == "reduce-overhead"
        return runner


register(CompiledTorch("torch-compile", ("cpu", "cuda"), "torch.compile", "torch.compile (inductor, freezing on CPU), FP32",
                       ("torch",), compiles=True))
register(CompiledTorch("torch-compile-cudagraphs", ("cuda",), "torch.compile",
                       'torch.compile(mode="reduce-overhead") with CUDA graphs, FP16', ("torch",),
                       recipe=Recipe("fp16"), compiles=True, mode="reduce-overhead"))
