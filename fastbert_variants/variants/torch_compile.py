"""torch.compile (inductor): compile time is paid on the first call of each new shape and recorded apart."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from . import register
from .base import Variant
from .torch_eager import TorchRunner, parameter_bytes


@dataclass
class CompiledTorchRunner(TorchRunner):
    """Records how long the first call of each input shape took (the compile), apart from run time."""

    cudagraphs: bool = False

    def run(self, prepared):
        import torch

        shape = tuple(next(iter(prepared.values())).shape)
        if self.cudagraphs:
            torch.compiler.cudagraph_mark_step_begin()
        if shape in self.compile_seconds:
            return super().run(prepared)
        started = time.perf_counter()
        logits = super().run(prepared)
        self.compile_seconds[shape] = round(time.perf_counter() - started, 3)
        self.info["compile_seconds"] = {f"b{b}-s{s}": t for (b, s), t in self.compile_seconds.items()}
        return logits


@dataclass(frozen=True)
class CompiledTorch(Variant):
    """torch.compile of the eager model; `mode` and `dtype` as torch names them."""

    mode: str = "default"
    dtype: str = "float32"

    def slow_reason(self, device):
        return "compile-heavy: inductor takes 20-60 s for each new input shape"

    def build(self, context):
        import torch

        started = time.perf_counter()
        # Inductor's own on-disk cache goes beside ours, so a second run recompiles faster.
        os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(context.cache.root / "inductor"))
        model = context.source.load_model(dtype=getattr(torch, self.dtype)).to(context.device)
        # dynamic=None (torch's default): the second shape seen compiles a shape-generic graph, not one per shape.
        compiled = torch.compile(model, mode=self.mode)
        return CompiledTorchRunner(
            variant=self.name, device=context.device, size_bytes=parameter_bytes(model),
            build_seconds=round(time.perf_counter() - started, 3),
            info={"threads": context.threads, "mode": self.mode, "dtype": self.dtype,
                  "note": "compiles on the first call of each shape; see compile_seconds"},
            forward=compiled, input_names=context.source.input_names, cudagraphs=self.mode == "reduce-overhead",
        )


register(CompiledTorch("torch-compile", ("cpu", "cuda"), "torch.compile", "torch.compile (inductor), FP32", ("torch",)))
register(CompiledTorch("torch-compile-cudagraphs", ("cuda",), "torch.compile",
                       'torch.compile(mode="reduce-overhead") with CUDA graphs, FP16', ("torch",),
                       mode="reduce-overhead", dtype="float16"))
