"""What every torch family shares: the runner, weight bytes, and compiling the way inductor is fastest on a device.

Not a family: it registers nothing. Families import from here, never from each other.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..recipes import Recipe, ffn_width
from .base import BuildContext, Runner, VariantUnavailable
from .compile_state import compile_settings

log = logging.getLogger(__name__)

# aten's scaled-dot-product-attention kernels, as the profiler names them -> what they are.
SDPA_KERNELS = {
    "aten::_scaled_dot_product_flash_attention_for_cpu": "flash (CPU)",
    "aten::_scaled_dot_product_flash_attention": "flash",
    "aten::_scaled_dot_product_efficient_attention": "memory-efficient",
    "aten::_scaled_dot_product_cudnn_attention": "cudnn",
    "aten::_scaled_dot_product_fused_attention_overrideable": "fused (backend's own)",
    "aten::_scaled_dot_product_attention_math": "math (unfused)",
}
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

    def kernel_report(self, prepared) -> dict:
        """Which attention kernel SDPA chose for these inputs, from one profiled call (outside any timing).

        Flash attention needs fp16/bf16 on CUDA and no padding mask; with a mask SDPA takes the
        memory-efficient kernel. Under CUDA graph replay the kernels are not visible to the profiler.
        Call it after warm-up (the suite calls it after the timing), so that what it sees is not a compile
        or a CUDA graph capture.
        """
        from torch.profiler import ProfilerActivity, profile

        with profile(activities=[ProfilerActivity.CPU]) as trace:
            self.run(prepared)
        seen = sorted({SDPA_KERNELS[e.key] for e in trace.key_averages() if e.key in SDPA_KERNELS})
        if seen:
            return {"attention_kernel": ", ".join(seen)}
        hidden = getattr(self, "cudagraphs", False) and self.device == "cuda"
        return {"attention_kernel": "not visible (CUDA graph replay)" if hidden else "none seen by the profiler"}


def torch_runner(name: str, context: BuildContext, model, started: float, **info) -> TorchRunner:
    return TorchRunner(
        variant=name, device=context.device, size_bytes=parameter_bytes(model),
        build_seconds=round(time.perf_counter() - started, 3), info={"threads": context.threads, **info},
        forward=model, input_names=context.source.input_names,
    )


@dataclass
class CompiledTorchRunner(TorchRunner):
    """Records how long the first call of each input shape took (the compile), apart from run time.

    A compile that fails (inductor or dynamo cannot take this model, or a kernel this GPU lacks) is
    VariantUnavailable with the error's first line: the test skips with it instead of failing. Before
    that, once, a failure with inductor's on-disk cache holding what earlier runs wrote (compiled kernels,
    graphs: a run killed while writing leaves them torn) discards that cache and compiles again.
    """

    cudagraphs: bool = False
    compile_failure: str | None = None  # the first failed compile's reason: later shapes are not tried again
    inductor_cache: Path | None = None  # inductor's on-disk cache, when it is ours (in the store's root)
    cache_discarded: bool = False

    def run(self, prepared):
        import torch

        shape = tuple(next(iter(prepared.values())).shape)
        if self.cudagraphs:
            torch.compiler.cudagraph_mark_step_begin()
        if shape in self.compile_seconds:
            return super().run(prepared)
        if self.compile_failure:
            raise VariantUnavailable(self.compile_failure)
        started = time.perf_counter()
        try:
            with compile_settings(self.device, self.family) as own:  # a compile happens here, and only here
                logits = super().run(prepared)
        except MemoryError:
            raise
        except Exception as exc:
            if not self.cache_discarded and discard_earlier_runs_cache(self.inductor_cache, exc):
                self.cache_discarded = True
                torch._dynamo.reset()  # forget the failed frame: the next call compiles from scratch
                return self.run(prepared)
            first_line = (str(exc).strip().splitlines() or [""])[0][:300]
            self.compile_failure = (f"{self.variant} on {self.device}: torch.compile failed on the first call of shape "
                                    f"{list(shape)}: {type(exc).__name__}: {first_line}")
            raise VariantUnavailable(self.compile_failure) from exc
        self.compile_seconds[shape] = round(time.perf_counter() - started, 3)
        if own:
            self.info["family_compile_settings"] = sorted(own)  # what its library set: its compiles alone get it
        self.info["compile_seconds"] = {f"b{b}-s{s}": t for (b, s), t in self.compile_seconds.items()}
        return logits


def compile_module(model, context: BuildContext, mode: str = "default", backend: str = "inductor"):
    """torch.compile as inductor is fastest for inference on the device, with its caches in our cache.

    CUDA: `dynamic=False`, one graph per input shape, each specialized (and, in the CUDA-graph modes,
    captured) at its first call, which the benchmarks make in warm-up; scoring pads its batches to a
    multiple of PAD_MULTIPLE_FOR_COMPILED tokens so that it meets a few shapes, not a hundred. Inductor's
    FX-graph and autotuning caches work for these graphs, so a second run reuses them.

    Lazy: the compile happens at a call, where CompiledTorchRunner gives it the run's settings and restores
    the process's after it (compile_state), so one family's compile never changes another's.

    CPU: `freezing` on (weights become constants, so inductor folds them and, for int8, swaps in its
    oneDNN quantized-linear kernels: the path torchao and PT2E document for x86). Shapes: `dynamic=True`,
    one shape-generic graph from the first call, which every shape reuses: one graph per shape would
    cost 20-60 s for each of the hundred shapes that scoring a dataset with dynamic padding brings, and
    torch's default (dynamic=None: the first shape specialized, the second generic) made a cell's figure
    depend on which shape the variant met first (torch-compile at b1 s128 on an AMD EPYC Zen 4: 0.92x
    with the specialized graph, the cells timed first; 1.38x with the generic one, the gates scored first).

    What a second run reuses on CPU: inductor's compiled C++ kernels, cached by source hash under
    `<cache>/inductor`; not the frozen graph itself, which inductor's FX-graph cache bypasses and an
    AOTInductor package ran many times slower (docs/measurements/recipe-choices.md). So dynamo tracing and
    inductor's lowering are paid again in each run; the C++ compile is not.
    """
    import torch

    use_inductor_cache(context.cache.root / "inductor")
    return torch.compile(model, mode=mode, backend=backend, dynamic=context.device == "cpu")


PROCESS_STARTED = time.time()


def discard_earlier_runs_cache(folder: Path | None, error: BaseException) -> bool:
    """Move aside and remove a runtime cache that holds files from before this process (so possibly torn by a
    run killed while writing them), after a failure that used it; False (the error stands) when there is none."""
    if folder is None or not folder.is_dir():
        return False
    if not any(p.stat().st_mtime < PROCESS_STARTED for p in folder.rglob("*") if p.is_file()):
        return False
    log.warning("a compile failed with %s in use (%s: %s); discarding that cache and compiling again", folder,
                type(error).__name__, (str(error).strip().splitlines() or [""])[0][:200])
    aside = folder.with_name(f"{folder.name}.discarded-{os.getpid()}")
    os.replace(folder, aside)  # atomically: another run sees the old cache or none, never half of it
    shutil.rmtree(aside, ignore_errors=True)
    return True


def use_inductor_cache(folder) -> None:
    """Point inductor's on-disk caches at `folder`, unless the user chose a folder of their own.

    Inductor writes its default (/tmp/torchinductor_<user>) into TORCHINDUCTOR_CACHE_DIR the first time
    anything asks for it, so a plain setdefault comes too late; a value equal to that default is replaced.
    """
    from torch._inductor.runtime.cache_dir_utils import default_cache_dir

    current = os.environ.get("TORCHINDUCTOR_CACHE_DIR")
    if current is None or os.path.abspath(current) == os.path.abspath(default_cache_dir()):
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(folder)


# Scoring pads a compiled-per-shape variant's batches to a multiple of this many tokens (and fills its last batch up):
# at most 4 shapes up to 512 tokens, each a compile (with max-autotune, its GEMMs autotuned). The tweets fit in 128.
PAD_MULTIPLE_FOR_COMPILED = 128
# torch.compile modes that capture CUDA graphs on a GPU (each replay needs cudagraph_mark_step_begin first).
CUDAGRAPH_MODES = ("reduce-overhead", "max-autotune")


def compiled_runner(name: str, context: BuildContext, model, forward, started: float, mode: str = "default",
                    **info) -> CompiledTorchRunner:
    per_shape = context.device == "cuda"
    return CompiledTorchRunner(
        variant=name, device=context.device, size_bytes=parameter_bytes(model),
        build_seconds=round(time.perf_counter() - started, 3),
        info={"threads": context.threads, "note": "compiles on the first call of each shape; see compile_seconds",
              "mode": mode, "dynamic": not per_shape, **info},
        forward=forward, input_names=context.source.input_names,
        cudagraphs=per_shape and mode in CUDAGRAPH_MODES, pad_to_multiple=PAD_MULTIPLE_FOR_COMPILED if per_shape else None,
        inductor_cache=inductor_cache_of(context),
    )


def inductor_cache_of(context: BuildContext) -> Path | None:
    """Inductor's on-disk cache when it is the store's (compile_module put it there), not a folder the user chose."""
    ours = context.cache.root / "inductor"
    return ours if os.path.abspath(os.environ.get("TORCHINDUCTOR_CACHE_DIR", "")) == os.path.abspath(ours) else None


def float_linears(model, recipe: Recipe) -> list[str]:
    """Names of the nn.Linear modules of a torch model that the recipe keeps in float."""
    import torch

    width, labels = ffn_width(model.config), model.config.num_labels
    kept = []
    for name, module in model.named_modules():
        if not isinstance(module, torch.nn.Linear):
            continue
        if ("ffn-down" in recipe.keep_float and module.in_features == width) or (
                "classifier" in recipe.keep_float and module.out_features == labels):
            kept.append(name)
    return sorted(kept)
