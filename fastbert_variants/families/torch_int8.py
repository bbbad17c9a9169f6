"""PyTorch's own dynamic int8: torch.ao.quantization.quantize_dynamic on the nn.Linear layers.

Per-channel weight scales, and the recipe's float layers left alone (see recipes.py): on the
default model every Linear per tensor lost 2.2 points of accuracy; this recipe loses 0.93.
Rebuilt from the FP32 weights at load (under a second), so nothing pickled is stored.
"""

from __future__ import annotations

import io
import time
import warnings
from dataclasses import dataclass

from ..recipes import Recipe
from ..variants import register
from ..variants.base import Variant, VariantUnavailable
from ..variants.torch_common import float_linears, torch_runner
from ..variants.torch_shipping import kept_float_lines, weights_shipment


@dataclass(frozen=True)
class DynamicInt8Torch(Variant):
    def shipment(self, context):
        """The FP32 model folder and the quantize_dynamic lines (made at load in under a second, as here)."""
        make = f"""{kept_float_lines(float_linears(context.source.load_model(), self.recipe))}
from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic
spec = {{name: per_channel_dynamic_qconfig for name, module in model.named_modules()
        if isinstance(module, torch.nn.Linear) and name not in kept_in_float}}
model = quantize_dynamic(model, spec, dtype=torch.qint8)"""
        return weights_shipment(context, make)

    def build(self, context):
        import torch

        if set(torch.backends.quantized.supported_engines) <= {"none"}:  # asked here: importing torch takes seconds
            raise VariantUnavailable("this torch build has no quantized engine (fbgemm/x86/qnnpack)")
        started = time.perf_counter()
        model = context.source.load_model()
        kept_fp32 = float_linears(model, self.recipe)
        linears = [name for name, m in model.named_modules() if isinstance(m, torch.nn.Linear)]
        with warnings.catch_warnings():  # torch.ao.quantization is deprecated in favour of torchao; still the reference
            warnings.simplefilter("ignore")
            from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

            spec = {name: per_channel_dynamic_qconfig for name in linears if name not in kept_fp32}
            model = quantize_dynamic(model, spec, dtype=torch.qint8)
        runner = torch_runner(self.name, context, model, started, engine=torch.backends.quantized.engine,
                              quantized=f"{len(spec)} nn.Linear: int8 weights per channel, int8 activations per batch",
                              kept_fp32=kept_fp32)
        buffer = io.BytesIO()  # packed int8 weights are not parameters: measure what a save would need
        torch.save(model.state_dict(), buffer)
        runner.size_bytes = buffer.tell()
        return runner


register(DynamicInt8Torch("torch-dynamic-int8", ("cpu",), "torch.ao.quantization",
                          "quantize_dynamic on nn.Linear (FFN down-projections kept FP32), int8", ("torch",),
                          recipe=Recipe("int8", keep_float=("ffn-down",))))
