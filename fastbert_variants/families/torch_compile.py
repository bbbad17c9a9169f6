"""torch.compile (inductor): compile time is paid on the first call of each new shape and recorded apart."""

from __future__ import annotations

import time
from dataclasses import dataclass

from ..recipes import Recipe, torch_dtype
from ..variants import register
from ..variants.base import Variant
from ..variants.torch_common import compile_module, compiled_runner
from ..variants.torch_shipping import weights_shipment


@dataclass(frozen=True)
class CompiledTorch(Variant):
    """torch.compile of the eager model in the recipe's precision; `mode` as torch names it."""

    mode: str = "default"

    def shipment(self, context):
        """The model folder and torch.compile as the run compiled it on CPU."""
        return weights_shipment(context, dtype=str(torch_dtype(self.recipe.precision)).removeprefix("torch."),
                                compiled=True)

    def build(self, context):

        started = time.perf_counter()
        dtype = torch_dtype(self.recipe.precision)
        model = context.source.load_model(dtype=dtype).to(context.device)
        return compiled_runner(self.name, context, model, compile_module(model, context, self.mode), started,
                               mode=self.mode, dtype=str(dtype).removeprefix("torch."),
                               freezing=context.device == "cpu" and self.mode == "default")


register(CompiledTorch("torch-compile", ("cpu", "cuda"), "torch.compile", "torch.compile (inductor, freezing on CPU), FP32",
                       ("torch",), compiles=True))
# max-autotune: Triton GEMM templates autotuned per shape against cuBLAS, plus CUDA graphs (one per cell shape, captured
# in warm-up): what torch documents as its fastest inference mode. At batch 1 a BERT call is a hundred kernel launches,
# so the graphs matter most there; the autotuning at batch 32, 512 tokens.
register(CompiledTorch("torch-compile-cudagraphs", ("cuda",), "torch.compile",
                       'torch.compile(mode="max-autotune"): autotuned GEMMs and CUDA graphs, FP16', ("torch",),
                       recipe=Recipe("fp16", version=2), compiles=True, mode="max-autotune"))
