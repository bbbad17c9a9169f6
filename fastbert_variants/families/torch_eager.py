"""Eager PyTorch: the FP32 baseline, and FP16/BF16 casts of it."""

from __future__ import annotations

import time
from dataclasses import dataclass

from ..hardware import NO_NATIVE_BF16, cpu_has_native_bf16
from ..recipes import Recipe, torch_dtype
from ..variants import register
from ..variants.base import Variant
from ..variants.torch_common import torch_runner
from ..variants.torch_shipping import weights_shipment


@dataclass(frozen=True)
class EagerTorch(Variant):
    """A transformers model in eager mode (SDPA attention), in the recipe's precision."""

    def backend_reason(self, device):
        if self.recipe.precision == "bf16" and device == "cpu" and not cpu_has_native_bf16():
            return f"{NO_NATIVE_BF16}; bf16 would be emulated and slow"
        if self.recipe.precision == "bf16" and device == "cuda":
            import torch

            if not torch.cuda.is_bf16_supported():
                return "this GPU has no bf16 support"
        return None

    def shipment(self, context):
        """The model folder, loaded in the recipe's precision."""
        return weights_shipment(context, dtype=str(torch_dtype(self.recipe.precision)).removeprefix("torch."))

    def build(self, context):

        started = time.perf_counter()
        dtype = torch_dtype(self.recipe.precision)
        model = context.source.load_model(dtype=dtype).to(context.device)
        return torch_runner(self.name, context, model, started, dtype=str(dtype).removeprefix("torch."), attention="sdpa")


register(EagerTorch("torch-fp32", ("cpu", "cuda"), "torch", "eager PyTorch FP32, the baseline", ("torch",)))
register(EagerTorch("torch-fp16", ("cuda",), "torch", "eager PyTorch in FP16", ("torch",), recipe=Recipe("fp16")))
register(EagerTorch("torch-bf16", ("cpu", "cuda"), "torch", "eager PyTorch in BF16", ("torch",), recipe=Recipe("bf16")))
