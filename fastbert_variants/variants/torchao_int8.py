"""torchao int8: `quantize_(model, Config())`, weight-only or with dynamic activations.

Layers whose output size torchao's int8 kernels cannot take (not a multiple of 8, such as a
2-label classifier) stay in floating point; which ones is recorded in the runner's info.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from ..hardware import cpu_isa
from . import register
from .base import Variant
from .torch_eager import torch_runner


def quantizable(module, fqn: str) -> bool:
    import torch

    return isinstance(module, torch.nn.Linear) and module.out_features % 8 == 0 and module.in_features % 8 == 0


@dataclass(frozen=True)
class TorchaoInt8(Variant):
    config_name: str = "Int8WeightOnlyConfig"

    def slow_reason(self, device):
        if self.config_name.startswith("Int8Dynamic") and device == "cpu" and cpu_isa() not in ("avx512_vnni", "arm64"):
            return (f"torchao int8 dynamic has no fast kernel for this CPU ({cpu_isa()}, no VNNI): "
                    "9-16x slower than FP32, minutes to score the dataset")
        return None

    def runs_slowly(self, device):
        return self.slow_reason(device) is not None

    def build(self, context):
        import torch
        import torchao.quantization as tq

        started = time.perf_counter()
        dtype = torch.float32 if context.device == "cpu" else torch.bfloat16  # torchao's GPU int8 kernels want bf16
        model = context.source.load_model(dtype=dtype).to(context.device)
        left_out = [n for n, m in model.named_modules() if isinstance(m, torch.nn.Linear) and not quantizable(m, n)]
        tq.quantize_(model, getattr(tq, self.config_name)(), filter_fn=quantizable)
        return torch_runner(self.name, context, model, started, torchao_config=self.config_name,
                            dtype=str(dtype).removeprefix("torch."), left_in_float=left_out)


register(TorchaoInt8("torchao-int8-weight-only", ("cpu", "cuda"), "torchao", "quantize_ Int8WeightOnlyConfig",
                     ("torch", "torchao")))
register(TorchaoInt8("torchao-int8-dynamic", ("cpu", "cuda"), "torchao",
                     "quantize_ Int8DynamicActivationInt8WeightConfig", ("torch", "torchao"),
                     config_name="Int8DynamicActivationInt8WeightConfig"))
