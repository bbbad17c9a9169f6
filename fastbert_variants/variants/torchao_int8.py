"""torchao int8: `quantize_(model, Config())`, then torch.compile, as torchao documents it for CPU inference.

torchao's int8 tensors are meant to be compiled: with inductor's freezing on, the quantized linears
become oneDNN int8 kernels (VNNI where the CPU has it). Eager torchao int8 dispatches to a generic
path that ran 9-16x slower than FP32 on an AVX2 CPU; it stays as its own variant, named so.
The recipe's float layers (the 2-label classifier: torchao's int8 kernels want sizes in multiples
of 8) stay in floating point; which ones is recorded in the runner's info.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from ..recipes import Recipe, float_linears
from . import register
from .base import Variant
from .torch_common import compile_module, compiled_runner, torch_runner


@dataclass(frozen=True)
class TorchaoInt8(Variant):
    config_name: str = "Int8WeightOnlyConfig"
    compiled: bool = True

    def build(self, context):
        import torch
        import torchao.quantization as tq

        started = time.perf_counter()
        dtype = torch.float32 if context.device == "cpu" else torch.bfloat16  # torchao's GPU int8 kernels want bf16
        model = context.source.load_model(dtype=dtype).to(context.device)
        kept = set(float_linears(model, self.recipe))

        def quantizable(module, fqn: str) -> bool:
            return (isinstance(module, torch.nn.Linear) and fqn not in kept
                    and module.out_features % 8 == 0 and module.in_features % 8 == 0)

        left_out = sorted(n for n, m in model.named_modules() if isinstance(m, torch.nn.Linear) and not quantizable(m, n))
        tq.quantize_(model, getattr(tq, self.config_name)(), filter_fn=quantizable)
        info = {"torchao_config": self.config_name, "dtype": str(dtype).removeprefix("torch."), "left_in_float": left_out}
        if not self.compiled:
            return torch_runner(self.name, context, model, started, compiled=False, **info)
        return compiled_runner(self.name, context, model, compile_module(model, context), started, compiled=True,
                               freezing=context.device == "cpu", **info)


TORCHAO = ("torch", "torchao")
DYNAMIC = "Int8DynamicActivationInt8WeightConfig"
register(TorchaoInt8("torchao-int8-weight-only", ("cpu", "cuda"), "torchao",
                     "quantize_ Int8WeightOnlyConfig + torch.compile (freezing)", TORCHAO,
                     recipe=Recipe("fp32", weights="int8", keep_float=("classifier",)), compiles=True))
register(TorchaoInt8("torchao-int8-dynamic", ("cpu", "cuda"), "torchao",
                     "quantize_ Int8DynamicActivationInt8WeightConfig + torch.compile (freezing)", TORCHAO,
                     recipe=Recipe("int8", keep_float=("classifier",)), compiles=True, config_name=DYNAMIC))
register(TorchaoInt8("torchao-int8-dynamic-eager", ("cpu", "cuda"), "torchao",
                     "quantize_ Int8DynamicActivationInt8WeightConfig, eager (no compile)", TORCHAO,
                     recipe=Recipe("int8", keep_float=("classifier",)), slow_without=("int8_dot_product",),
                     config_name=DYNAMIC, compiled=False))
