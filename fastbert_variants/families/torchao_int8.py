"""torchao int8 and float8: `quantize_(model, Config())`, then torch.compile, as torchao documents it for inference.

torchao's quantized tensors are meant to be compiled. On CPU, with inductor's freezing on, the
quantized linears become oneDNN int8 kernels (VNNI or AMX where the CPU has them); eager torchao
int8 dispatches to a generic path, many times slower than FP32 without VNNI (docs/measurements/recipe-choices.md),
and stays as its own variant, named so. On CUDA the model is bf16 (torchao's GPU kernels want it) and compiled with
`mode="max-autotune"`, torchao's recipe for H100: int8 through `torch._int_mm` fused with its
scales, float8 (e4m3, per-row scales) through `torch._scaled_mm`, which needs compute capability 8.9
(Ada, Hopper) or newer. Only the encoder is quantized: the recipe's float layers (the 2-label
classifier; torchao's kernels want sizes in multiples of 8) stay in floating point, recorded in the
runner's info. torchao's own `set_inductor_config` is off: the same inductor settings reach every
compiled variant of a run (torch_common.INDUCTOR_SETTINGS), not only the ones compiled after torchao.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from ..recipes import Recipe
from ..variants import register
from ..variants.base import Variant
from ..variants.torch_common import compile_module, compiled_runner, float_linears, torch_runner
from ..variants.torch_shipping import kept_float_lines, weights_shipment

FLOAT8_CAPABILITY = (8, 9)


@dataclass(frozen=True)
class TorchaoQuantized(Variant):
    config_name: str = "Int8WeightOnlyConfig"
    compiled: bool = True
    per_row: bool = False  # granularity=PerRow() (float8: per-token activation and per-channel weight scales)

    def backend_reason(self, device):
        if self.recipe.precision == "fp8" and device == "cuda":
            import torch

            capability = torch.cuda.get_device_capability()
            if capability < FLOAT8_CAPABILITY:
                return (f"float8 matrix multiplies need compute capability {'.'.join(map(str, FLOAT8_CAPABILITY))} "
                        f"or newer; this GPU is {'.'.join(map(str, capability))}")
        return None

    def config(self):
        import torchao.quantization as tq

        options = {"set_inductor_config": False}
        if self.per_row:
            options["granularity"] = tq.PerRow()
        return getattr(tq, self.config_name)(**options)

    def shipment(self, context):
        """The FP32 model folder, torchao's quantize_ with the recipe's filter, and torch.compile where it compiles."""
        options = "granularity=tq.PerRow()" if self.per_row else ""
        make = f"""{kept_float_lines(float_linears(context.source.load_model(), self.recipe))}
import torchao.quantization as tq
tq.quantize_(model, tq.{self.config_name}({options}), filter_fn=lambda module, name: isinstance(module, torch.nn.Linear)
             and name not in kept_in_float and module.in_features % 8 == 0 and module.out_features % 8 == 0)"""
        return weights_shipment(context, make, compiled=self.compiled, packages=("torchao",))

    def build(self, context):
        import torch
        import torchao.quantization as tq

        started = time.perf_counter()
        dtype = torch.float32 if context.device == "cpu" else torch.bfloat16  # torchao's GPU kernels want bf16
        model = context.source.load_model(dtype=dtype).to(context.device)
        kept = set(float_linears(model, self.recipe))

        def quantizable(module, fqn: str) -> bool:
            return (isinstance(module, torch.nn.Linear) and fqn not in kept
                    and module.out_features % 8 == 0 and module.in_features % 8 == 0)

        left_out = sorted(n for n, m in model.named_modules() if isinstance(m, torch.nn.Linear) and not quantizable(m, n))
        tq.quantize_(model, self.config(), filter_fn=quantizable)
        info = {"torchao_config": self.config_name, "granularity": "per-row" if self.per_row else "torchao's default",
                "dtype": str(dtype).removeprefix("torch."), "left_in_float": left_out}
        if not self.compiled:
            return torch_runner(self.name, context, model, started, compiled=False, **info)
        mode = "default" if context.device == "cpu" else "max-autotune"
        return compiled_runner(self.name, context, model, compile_module(model, context, mode), started, mode=mode,
                               compiled=True, freezing=context.device == "cpu", **info)


TORCHAO = ("torch", "torchao")
DYNAMIC = "Int8DynamicActivationInt8WeightConfig"
COMPILED = "+ torch.compile (freezing on CPU, max-autotune on CUDA)"
register(TorchaoQuantized("torchao-int8-weight-only", ("cpu", "cuda"), "torchao", f"quantize_ Int8WeightOnlyConfig {COMPILED}",
                          TORCHAO, recipe=Recipe("fp32", weights="int8", keep_float=("classifier",)), compiles=True))
register(TorchaoQuantized("torchao-int8-dynamic", ("cpu", "cuda"), "torchao",
                          f"quantize_ Int8DynamicActivationInt8WeightConfig {COMPILED}", TORCHAO,
                          recipe=Recipe("int8", keep_float=("classifier",)), compiles=True, config_name=DYNAMIC))
register(TorchaoQuantized("torchao-int8-dynamic-eager", ("cpu", "cuda"), "torchao",
                          "quantize_ Int8DynamicActivationInt8WeightConfig, eager (no compile)", TORCHAO,
                          recipe=Recipe("int8", keep_float=("classifier",)), slow_without=("int8_dot_product",),
                          config_name=DYNAMIC, compiled=False))
register(TorchaoQuantized("torchao-float8-dynamic", ("cuda",), "torchao",
                          "quantize_ Float8DynamicActivationFloat8WeightConfig(PerRow) + torch.compile(max-autotune)",
                          TORCHAO, recipe=Recipe("fp8", keep_float=("classifier",)), compiles=True,
                          config_name="Float8DynamicActivationFloat8WeightConfig", per_row=True))
