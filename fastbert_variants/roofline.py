"""How far from this machine's wall a variant runs: FLOPs per call from the config, GEMM peaks measured here.

A latency says little across machines; achieved GFLOP/s against the peak of the variant's own
precision (FP32, BF16 or INT8 matrix multiply, measured once per session with the run's threads)
says whether a faster variant could exist. An int8 variant at 30% of the INT8 peak has room; FP32
at 90% of the FP32 peak does not.
"""

from __future__ import annotations

import functools
import time
import warnings

from .recipes import ffn_width
from .results import Roofline

PEAK_SIZE = 2048  # GEMM edge for the peaks (as docs/DESIGN.md's were measured): reaches the peak on a few cores
EMULATED_SIZE = 512  # for a precision the CPU lacks (bf16 without native support: about 1 GFLOP/s)
PEAK_CALLS = 5


def flops_per_call(config, batch_size: int, seq_len: int) -> int:
    """Multiply-adds x 2 of one forward pass: the projections, the attention products, the FFN and the head.

    Per layer and token: Q, K, V and output projections (4 h^2), the FFN (2 h f); per layer and
    sequence: scores and scores x values (2 L^2 h). Embeddings, softmax and norms are left out (a few %).
    """
    layers = getattr(config, "num_hidden_layers", None) or config.n_layers
    hidden = getattr(config, "hidden_size", None) or config.dim
    tokens = batch_size * seq_len
    per_layer = 2 * tokens * (4 * hidden * hidden + 2 * hidden * ffn_width(config)) + 2 * 2 * batch_size * seq_len ** 2 * hidden
    head = 2 * batch_size * hidden * (hidden + config.num_labels)  # pooler (or pre-classifier) and classifier
    return layers * per_layer + head


def _best_rate(multiply, flops: float, budget_s: float = 1.5) -> float:
    """Best rate of a few calls after a warm-up; an emulated precision (one call of seconds) stops early."""
    started = time.perf_counter()
    multiply()  # warm-up: packing, thread start
    warm_up = time.perf_counter() - started
    if warm_up > budget_s / 2:  # emulated (bf16 without native support: seconds a call): the warm-up says enough
        return flops / warm_up / 1e9
    best = float("inf")
    for _ in range(PEAK_CALLS):
        if time.perf_counter() - started > budget_s and best < float("inf"):
            break
        begun = time.perf_counter()
        multiply()
        best = min(best, time.perf_counter() - begun)
    return flops / best / 1e9


def _fp32_kernels(n: int, device: str) -> dict:
    """Square FP32 matrix multiplies of torch (MKL on CPU) and ONNX Runtime (MLAS).

    On AMD CPUs MKL's sgemm reaches about half of what MLAS does (docs/measurements/recipe-choices.md),
    so a torch-only peak put ORT and OpenVINO FP32 at twice "the machine's peak". The peak is the best of them.
    """
    import torch

    a, b = (torch.randn(n, n, device=device) for _ in range(2))
    kernels = {"torch.mm": lambda: _sync(torch.mm(a, b), device)}
    if device == "cpu":
        try:
            kernels["onnxruntime"] = _ort_matmul(n, integer=False)
        except ImportError:
            pass
    return kernels


def _int8_kernels(n: int, device: str) -> dict:
    """Square int8 x int8 -> int32 matrix multiplies of the libraries the int8 variants run on.

    torch._int_mm (inductor's int8 path), fbgemm's dynamic quantized linear (torch.ao) and ONNX
    Runtime's MatMulInteger (MLAS; OpenVINO's oneDNN kernels use the same instructions). Without
    VNNI torch._int_mm has no fast CPU kernel while fbgemm and MLAS do, so the machine's INT8 peak is
    the best of them.
    """
    import torch

    kernels = {}
    a, b = (torch.randint(-128, 127, (n, n), dtype=torch.int8, device=device) for _ in range(2))
    kernels["torch._int_mm"] = lambda: _sync(torch._int_mm(a, b), device)
    if device == "cpu":
        x = torch.randn(n, n)
        try:
            with warnings.catch_warnings():  # torch's quantized tensors are deprecated, still fbgemm's entry point
                warnings.simplefilter("ignore")
                weight = torch.quantize_per_tensor(torch.randn(n, n), 0.02, 0, torch.qint8)
            packed = torch.ops.quantized.linear_prepack(weight, None)
            kernels["fbgemm"] = lambda: torch.ops.quantized.linear_dynamic(x, packed)
        except RuntimeError:
            pass
        try:
            kernels["onnxruntime"] = _ort_matmul(n, integer=True)
        except ImportError:
            pass
    return kernels


def _ort_matmul(n: int, integer: bool):
    """ONNX Runtime's MatMulInteger (uint8 x int8 -> int32) or MatMul (FP32) with a constant weight, as in the variants."""
    import numpy as np
    import onnxruntime as ort
    import torch
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    if integer:
        weight, op, types = rng.integers(-128, 127, (n, n), dtype=np.int8), "MatMulInteger", (TensorProto.UINT8, TensorProto.INT32)
        a = rng.integers(0, 255, (n, n), dtype=np.uint8)
    else:
        weight, op, types = rng.standard_normal((n, n), dtype=np.float32), "MatMul", (TensorProto.FLOAT, TensorProto.FLOAT)
        a = rng.standard_normal((n, n), dtype=np.float32)
    graph = helper.make_graph([helper.make_node(op, ["A", "B"], ["Y"])], f"{op}-gemm",
                              [helper.make_tensor_value_info("A", types[0], [n, n])],
                              [helper.make_tensor_value_info("Y", types[1], [n, n])], [numpy_helper.from_array(weight, "B")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    options = ort.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    return lambda: session.run(None, {"A": a})


def _sync(result, device: str):
    if device == "cuda":
        import torch

        torch.cuda.synchronize()
    return result


@functools.cache
def gemm_peaks(device: str = "cpu", threads: int | None = None) -> dict:
    """Best GFLOP/s (GOP/s for int8) of a square matrix multiply per precision, with torch's current threads.

    `threads` only keys the cache: the caller has set torch's thread count (ONNX Runtime's kernels get
    the same). A precision this machine cannot multiply is left out; `fp32_kernels` and `int8_kernels`
    say what each library reached, `fp32` and `int8` are the best of them.
    """
    import torch

    from .hardware import cpu_has_native_bf16

    n, flops = PEAK_SIZE, 2.0 * PEAK_SIZE ** 3
    peaks = {}
    for precision, dtype in (("bf16", torch.bfloat16), ("fp16", torch.float16)):
        if precision == "fp16" and device == "cpu":
            continue
        size = EMULATED_SIZE if device == "cpu" and precision == "bf16" and not cpu_has_native_bf16() else n
        a, b = (torch.randn(size, size, dtype=dtype, device=device) for _ in range(2))
        peaks[precision] = round(_best_rate(lambda a=a, b=b: _sync(torch.mm(a, b), device), 2.0 * size ** 3), 1)
    for precision, kernels in (("fp32", _fp32_kernels(n, device)), ("int8", _int8_kernels(n, device))):
        rates = {}
        for name, multiply in kernels.items():
            try:
                rates[name] = round(_best_rate(multiply, flops), 1)
            except (RuntimeError, NotImplementedError):
                continue
        if rates:
            peaks[precision] = max(rates.values())
            peaks[f"{precision}_kernels"] = rates
    if device == "cuda" and torch.cuda.get_device_capability() >= (8, 9):
        try:
            peaks["fp8"] = round(_best_rate(_fp8_matmul(n), flops), 1)
        except (RuntimeError, TypeError, AttributeError):  # a torch without _scaled_mm's float8 path
            pass
    return peaks


def _fp8_matmul(n: int):
    """float8 e4m3 x e4m3 -> bf16 through torch._scaled_mm (cuBLASLt), the kernel torchao's float8 linears call."""
    import torch

    a = torch.randn(n, n, device="cuda").to(torch.float8_e4m3fn)
    b = torch.randn(n, n, device="cuda").to(torch.float8_e4m3fn).t()  # column-major, as _scaled_mm wants
    scale = torch.tensor(1.0, device="cuda")
    return lambda: _sync(torch._scaled_mm(a, b, scale_a=scale, scale_b=scale, out_dtype=torch.bfloat16), "cuda")


def roofline(config, batch_size: int, seq_len: int, median_s: float, precision: str, peaks: dict) -> Roofline:
    """Achieved GFLOP/s of a call and its share of this machine's peak for the precision (None if unmeasured)."""
    gflop = flops_per_call(config, batch_size, seq_len) / 1e9
    achieved = gflop / median_s
    peak = peaks.get(precision) if isinstance(peaks.get(precision), float) else None
    return Roofline(gflop_per_call=round(gflop, 3), achieved_gflops=round(achieved, 1), peak_gflops=peak,
                    peak_precision=precision, share_of_peak=round(achieved / peak, 3) if peak else None)
