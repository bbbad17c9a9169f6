"""zentorch: AMD's ZenDNN plugin for PyTorch, a torch.compile backend for EPYC CPUs, run as AMD's ZenDNN guide does.

`torch.compile(model, backend="zentorch")` with inference mode and inductor's freezing on (the guide's
TORCHINDUCTOR_FREEZING=1, set here as for every CPU compile of the run: zentorch then fuses the Q/K/V
projections and prepacks the weights for ZenDNN's matmuls); ZenDNN's own settings (ZENDNNL_MATMUL_ALGO)
keep their defaults, the latency setting the guide gives for NLP models. BF16 is the model cast to bf16,
as torch-bf16 is: faster here than the guide's autocast ("BF16 (AMP)"), and within bf16's tolerance.
No int8 variant: zentorch's int8 path, given the PT2E static int8 graph, gave wrong logits and was slower
than zentorch FP32. docs/measurements/2026-12-03-amd-epyc-zen5-zentorch.md has the figures.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from ..hardware import NO_NATIVE_BF16, cpu_has_native_bf16, cpu_vendor
from ..recipes import Recipe, torch_dtype
from ..variants import register
from ..variants.base import Variant, VariantUnavailable
from ..variants.torch_common import compile_module, compiled_runner
from ..variants.torch_shipping import weights_shipment


@dataclass(frozen=True)
class Zentorch(Variant):
    """The model in the recipe's precision, compiled by zentorch."""

    extra: str = "zentorch"

    def unavailable_reason(self, device):
        """Off AMD CPUs the CPU is the reason, before a missing package: installing zentorch would not help there."""
        if device == "cpu" and cpu_vendor() != "AuthenticAMD":
            return self.backend_reason(device)
        return super().unavailable_reason(device)

    def backend_reason(self, device):
        if cpu_vendor() != "AuthenticAMD":
            return f"zentorch is AMD's ZenDNN plugin for EPYC CPUs; this CPU is {cpu_vendor()}"
        if self.recipe.precision == "bf16" and not cpu_has_native_bf16():
            return f"{NO_NATIVE_BF16}; bf16 would be emulated and slow"
        return None

    def shipment(self, context):
        """The model folder, compiled by zentorch's backend as the run compiled it."""
        return weights_shipment(context, "import zentorch  # registers the zentorch backend with torch.compile",
                                dtype=str(torch_dtype(self.recipe.precision)).removeprefix("torch."), compiled=True,
                                backend="zentorch", packages=("zentorch",))

    def build(self, context):
        started = time.perf_counter()
        try:
            import zentorch  # noqa: F401  (registers the "zentorch" backend with torch.compile)
        except (ImportError, OSError) as exc:  # a wheel built for another torch: its library does not load
            raise VariantUnavailable(f"zentorch does not import here: {exc}") from None
        dtype = torch_dtype(self.recipe.precision)
        model = context.source.load_model(dtype=dtype).to(context.device)
        return compiled_runner(self.name, context, model, compile_module(model, context, backend="zentorch"), started,
                               backend="zentorch", freezing=True, dtype=str(dtype).removeprefix("torch."),
                               zentorch=zentorch.__version__)


register(Zentorch("zentorch-fp32", ("cpu",), "zentorch", 'torch.compile(backend="zentorch"), freezing, FP32',
                  ("torch", "zentorch"), compiles=True))
register(Zentorch("zentorch-bf16", ("cpu",), "zentorch", 'torch.compile(backend="zentorch"), freezing, BF16',
                  ("torch", "zentorch"),
                  recipe=Recipe("bf16"), slow_without=("native_bf16",), compiles=True))
