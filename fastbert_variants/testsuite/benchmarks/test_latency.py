"""Latency of every variant over device x batch size x sequence length, with speedups over FP32."""

import numpy as np
import pytest

from fastbert_variants import hardware, progress
from fastbert_variants.memory import MemoryProbe
from fastbert_variants.roofline import roofline
from fastbert_variants.timing import interleaved_speedup, seconds_per_call
from fastbert_variants.variants import BASELINE


def test_latency(benchmark, workbench, suite_state, cell_batch, latency_case, runner_or_skip, gemm_peaks):
    case, plan = latency_case, suite_state.profile.timing
    batch = cell_batch(case.batch_size, case.seq_len)
    if isinstance(batch, Exception):
        pytest.skip(str(batch))
    runner = runner_or_skip(case.variant, case.device)
    fp32 = runner_or_skip(BASELINE, case.device)
    prepared = runner.prepare(batch)
    probe = MemoryProbe(case.device)  # after the build: the build's garbage is not the variant's footprint

    if not benchmark.enabled:  # --benchmark-disable, pytest-xdist: no timing, but the variant must run and agree
        _check_against_fp32(workbench, case, runner(batch), fp32(batch))  # numpy logits, as every runner returns
        return
    with progress.activity(f"warming up {case.variant} on {case.cell} (compiles happen here)"):
        for _ in range(plan.warmup_rounds):  # the same warm-up for every variant
            runner.run(prepared)
    one_call = seconds_per_call(runner.run, prepared)
    benchmark.group = case.cell
    benchmark.pedantic(runner.run, args=(prepared,), rounds=plan.rounds_for(one_call), iterations=1)
    median = benchmark.stats.stats.median
    peak_mem_mb = probe.peak_mb(runner.size_bytes)  # before the interleaved FP32 calls below

    speedup = {"median": 1.0, "ci95": [1.0, 1.0], "blocks": 0, "calls_per_block": 0, "ratios": []}
    if case.variant != BASELINE:
        fp32_prepared = fp32.prepare(batch)
        speedup = interleaved_speedup(fp32.run, fp32_prepared, runner.run, prepared, plan.interleave_blocks,
                                      plan.calls_per_block(max(one_call, seconds_per_call(fp32.run, fp32_prepared))),
                                      plan.pause_seconds)
    # After every timed call, so that no variant gets a call more than the others before its timing.
    kernels = runner.kernel_report(prepared)  # one profiled call: which attention kernel ran
    precision = workbench.variant(case.variant).recipe.precision
    peaks = gemm_peaks(case.device)
    result = {
        "variant": case.variant, "device": case.device, "batch_size": case.batch_size, "seq_len": case.seq_len,
        "kind": "latency", "cell": case.cell, "threads": workbench.threads, "median_ms": median * 1e3,
        "samples_per_s": case.batch_size / median, "tokens_per_s": case.batch_size * case.seq_len / median,
        "size_mb": runner.size_bytes / 1e6, "peak_mem_mb": peak_mem_mb, "build_s": runner.build_seconds,
        "compile_s": runner.compile_seconds.get((case.batch_size, case.seq_len)),
        "speedup_vs_fp32": speedup["median"], "speedup_ci95": speedup["ci95"], "speedup_blocks": speedup["blocks"],
        "speedup_block_ratios": speedup["ratios"], "speedup_calls_per_block": speedup["calls_per_block"],
        "interleave_pause_s": plan.pause_seconds, "rounds": benchmark.stats.stats.rounds,
        # FP32's median from its own test in this cell over this one: the check on the interleaved figure.
        "speedup_sequential": _sequential_speedup(suite_state, case, median * 1e3),
        "warmup_rounds": plan.warmup_rounds, "model": workbench.model_spec, "runner_info": runner.info,
        "kernels": kernels, "sync": _sync_note(case.device),
        **roofline(workbench.source.config, case.batch_size, case.seq_len, median, precision, peaks),
        "slow_here": _slow_note(precision, peaks),  # machine facts (CPU, GPU, versions): the run's machine_info
    }
    benchmark.extra_info.update(result)
    suite_state.latency_results.append(result)


def _check_against_fp32(workbench, case, logits, fp32_logits) -> None:
    """What a run without timing still proves: the variant runs on this cell and its logits are FP32's, within
    what its precision allows (the largest difference of its recipe's logit_tolerance)."""
    largest, _ = workbench.variant(case.variant).recipe.logit_tolerance
    assert logits.shape == fp32_logits.shape and np.isfinite(logits).all(), f"{case.id}: shape or non-finite logits"
    diff = float(np.abs(logits - fp32_logits).max())
    assert diff <= largest, f"{case.id}: logits differ from FP32's by {diff:.4f} (allowed {largest})"


def _sync_note(device: str) -> str:
    """How a timed call knows the work is done: the same rule for every runtime on the device."""
    if device == "cuda":
        return ("torch.cuda.synchronize() inside each timed call (torch runners; ONNX Runtime: IO binding, inputs on "
                "the device before timing, outputs synchronized)")
    return "none needed: CPU calls return when done"


def _sequential_speedup(suite_state, case, median_ms: float) -> float | None:
    if case.variant == BASELINE:
        return 1.0
    found = [r["median_ms"] for r in suite_state.latency_results if r["cell"] == case.cell and r["variant"] == BASELINE]
    return found[-1] / median_ms if found else None


def _slow_note(precision: str, peaks: dict) -> str | None:
    """Why a precision cannot beat FP32 on this device, from the GEMM peaks measured in this session."""
    peak, fp32 = peaks.get(precision), peaks.get("fp32")
    if precision == "fp32" or not peak or not fp32 or peak >= fp32:
        return None
    return (f"this device's {precision} matrix-multiply peak ({peak:g}) is below its FP32 peak ({fp32:g} GFLOP/s): "
            f"{precision} cannot beat FP32 here (cpu_isa {hardware.cpu_isa()})")
