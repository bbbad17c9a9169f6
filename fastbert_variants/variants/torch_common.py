"""What every torch family shares: the runner, weight bytes, and compiling the way inductor is fastest on a device.

Not a family: it registers nothing. Families import from here, never from each other.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .base import BuildContext, Runner


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

    def prepare(self, batch):
        import torch

        return {name: torch.from_numpy(batch[name]).to(self.device) for name in self.input_names}

    def run(self, prepared):
        import torch

        with torch.inference_mode():
            out = self.forward(*prepared.values()) if self.positional else self.forward(**prepared)
            logits = out[0] if isinstance(out, tuple) else getattr(out, "logits", out)
            if self.device == "cuda":
                torch.cuda.synchronize()
        return logits

    def to_numpy(self, logits) -> np.ndarray:
        return logits.detach().float().cpu().numpy()


def torch_dtype(precision: str):
    """The torch dtype a recipe's precision computes in (int8 recipes start from FP32 weights)."""
    import torch

    return {"fp16": torch.float16, "bf16": torch.bfloat16}.get(precision, torch.float32)


def torch_runner(name: str, context: BuildContext, model, started: float, **info) -> TorchRunner:
    return TorchRunner(
        variant=name, device=context.device, size_bytes=parameter_bytes(model),
        build_seconds=round(time.perf_counter() - started, 3), info={"threads": context.threads, **info},
        forward=model, input_names=context.source.input_names,
    )


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


def compile_module(model, context: BuildContext, mode: str = "default"):
    """torch.compile as inductor is fastest for inference on the device, with its caches in our cache.

    CPU: `freezing` on (weights become constants, so inductor folds them and, for int8, swaps in its
    oneDNN quantized-linear kernels: the path torchao and PT2E document for x86). Shapes: dynamic=None,
    torch's default, so the first shape gets a specialized graph and the second a shape-generic one that
    every later shape reuses; one graph per shape would cost 20-60 s for each of the hundred shapes that
    scoring a dataset with dynamic padding brings.

    What a second run reuses (torch 2.13): inductor's compiled C++ kernels, cached by source hash under
    `<cache>/inductor`. Not the whole graph: inductor bypasses its FX-graph cache for frozen CPU graphs
    ("mkldnn tensors unpickleable": frozen weights are packed into oneDNN tensors), and an AOTInductor
    package of the frozen dynamic-shape export, tried instead, compiled (82 s) and loaded (0.2 s) but ran
    b1 s128 at about 1 s a call against 35 ms eager (AMD EPYC Zen 3, 2 threads). So dynamo tracing and
    inductor's lowering are paid again in each run; the C++ compile is not.
    """
    import torch
    import torch._inductor.config as inductor_config

    use_inductor_cache(context.cache.root / "inductor")
    if context.device == "cpu":
        # Set globally, as PyTorch's x86 quantization tutorial does: passed per call through
        # torch.compile(options=...), the int8 weight prepacking was left unfolded and inductor failed
        # on onednn.qlinear_prepack (torch 2.13). Every CPU compile of the run gets it alike.
        inductor_config.freezing = True
    return torch.compile(model, mode=mode)


def use_inductor_cache(folder) -> None:
    """Point inductor's on-disk caches at `folder`, unless the user chose a folder of their own.

    Inductor writes its default (/tmp/torchinductor_<user>) into TORCHINDUCTOR_CACHE_DIR the first time
    anything asks for it, so a plain setdefault comes too late; a value equal to that default is replaced.
    """
    from torch._inductor.runtime.cache_dir_utils import default_cache_dir

    current = os.environ.get("TORCHINDUCTOR_CACHE_DIR")
    if current is None or os.path.abspath(current) == os.path.abspath(default_cache_dir()):
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(folder)


def compiled_runner(name: str, context: BuildContext, model, forward, started: float, **info) -> CompiledTorchRunner:
    return CompiledTorchRunner(
        variant=name, device=context.device, size_bytes=parameter_bytes(model),
        build_seconds=round(time.perf_counter() - started, 3),
        info={"threads": context.threads, "note": "compiles on the first call of each shape; see compile_seconds",
              **info},
        forward=forward, input_names=context.source.input_names,
    )
