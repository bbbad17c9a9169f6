"""Eager PyTorch: the FP32 baseline, and FP16/BF16 casts of it. TorchRunner serves every torch family."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..hardware import cpu_has_native_bf16
from . import register
from .base import BuildContext, Runner, Variant


def tensor_bytes(tensor) -> int:
    """Bytes a tensor holds; quantized tensor subclasses (torchao) are counted by their inner tensors."""
    if hasattr(tensor, "__tensor_flatten__"):
        names, _ = tensor.__tensor_flatten__()
        return sum(tensor_bytes(getattr(tensor, name)) for name in names)
    return tensor.numel() * tensor.element_size()


def parameter_bytes(model) -> int:
    """Bytes of the weights the model holds (what a saved state dict would need)."""
    return sum(tensor_bytes(t) for t in list(model.parameters()) + list(model.buffers()))


@dataclass
class TorchRunner(Runner):
    """Runs a torch callable that takes token tensors as keywords and returns logits (or a tuple starting with them)."""

    forward: Callable[..., Any] = None
    input_names: tuple[str, ...] = ("input_ids", "attention_mask", "token_type_ids")
    positional: bool = False  # TorchScript graphs take positional inputs
    compile_seconds: dict = field(default_factory=dict)

    def prepare(self, batch):
        import torch

        return {name: torch.from_numpy(batch[name]).to(self.device) for name in self.input_names}

    def run(self, prepared):
        import torch

        with torch.inference_mode():
            out = self.forward(*prepared.values()) if self.positional else self.forward(**prepared)
            logits = out[0] if isinstance(out, tuple) else out.logits
            if self.device == "cuda":
                torch.cuda.synchronize()
        return logits

    def to_numpy(self, logits) -> np.ndarray:
        return logits.detach().float().cpu().numpy()


def torch_runner(name: str, context: BuildContext, model, started: float, **info) -> TorchRunner:
    return TorchRunner(
        variant=name, device=context.device, size_bytes=parameter_bytes(model),
        build_seconds=round(time.perf_counter() - started, 3), info={"threads": context.threads, **info},
        forward=model, input_names=context.source.input_names,
    )


@dataclass(frozen=True)
class EagerTorch(Variant):
    """A transformers model in eager mode (SDPA attention), cast to `dtype`."""

    dtype: str = "float32"

    def backend_reason(self, device):
        if self.dtype == "bfloat16" and device == "cpu" and not cpu_has_native_bf16():
            return "this CPU has no native bf16 (no avx512_bf16 or amx_bf16); bf16 would be emulated and slow"
        if self.dtype == "bfloat16" and device == "cuda":
            import torch

            if not torch.cuda.is_bf16_supported():
                return "this GPU has no bf16 support"
        return None

    def build(self, context):
        import torch

        started = time.perf_counter()
        model = context.source.load_model(dtype=getattr(torch, self.dtype)).to(context.device)
        return torch_runner(self.name, context, model, started, dtype=self.dtype, attention="sdpa")


register(EagerTorch("torch-fp32", ("cpu", "cuda"), "torch", "eager PyTorch FP32, the baseline", ("torch",)))
register(EagerTorch("torch-fp16", ("cuda",), "torch", "eager PyTorch in FP16", ("torch",), dtype="float16"))
register(EagerTorch("torch-bf16", ("cpu", "cuda"), "torch", "eager PyTorch in BF16", ("torch",), dtype="bfloat16"))
