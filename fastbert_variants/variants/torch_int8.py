"""PyTorch's own dynamic int8: torch.ao.quantization.quantize_dynamic on the nn.Linear layers.

The feed-forward down-projections stay in FP32: their input is the GELU output, whose outliers
make one int8 activation scale too coarse; the others get per-channel weight scales. On the
default model, every Linear per tensor lost 2.2 points of accuracy; this recipe loses 0.93.
Rebuilt from the FP32 weights at load (under a second), so nothing pickled is stored.
"""

from __future__ import annotations

import io
import time
import warnings
from dataclasses import dataclass

from . import register
from .base import Variant, VariantUnavailable
from .torch_eager import torch_runner


def intermediate_size(config) -> int | None:
    """The feed-forward width (BERT: intermediate_size; DistilBERT: hidden_dim)."""
    return getattr(config, "intermediate_size", None) or getattr(config, "hidden_dim", None)


@dataclass(frozen=True)
class DynamicInt8Torch(Variant):
    def build(self, context):
        import torch

        if set(torch.backends.quantized.supported_engines) <= {"none"}:  # asked here: importing torch takes seconds
            raise VariantUnavailable("this torch build has no quantized engine (fbgemm/x86/qnnpack)")
        started = time.perf_counter()
        model = context.source.load_model()
        ffn_width = intermediate_size(model.config)
        linears = {name: m for name, m in model.named_modules() if isinstance(m, torch.nn.Linear)}
        kept_fp32 = sorted(name for name, m in linears.items() if m.in_features == ffn_width)
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
                          "quantize_dynamic on nn.Linear (FFN down-projections kept FP32), int8", ("torch",)))
