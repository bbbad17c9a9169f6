"""Latency of every variant over device x batch size x sequence length, with speedups over FP32."""

import pytest

from fastbert_variants import hardware, progress
from fastbert_variants.memory import MemoryProbe
from fastbert_variants.metrics import disagreement
from fastbert_variants.results import LatencyResult, Speedup
from fastbert_variants.roofline import roofline
from fastbert_variants.timing import seconds_per_call
from fastbert_variants.variants import BASELINE


def test_latency(benchmark, workbench, run_state, cell_batch, latency_case, runner_or_skip, gemm_peaks, shared_timing):
    case, plan = latency_case, run_state.profile.timing
    batch = cell_batch(case.batch_size, case.seq_len)
    if isinstance(batch, Exception):
        pytest.skip(str(batch))
    runner = runner_or_skip(case.variant, case.device)
    fp32 = runner_or_skip(BASELINE, case.device)
    prepared = runner.prepare(batch)
    if not benchmark.enabled:  # --benchmark-disable, pytest-xdist: no timing, but the variant must run and agree
        _check_against_fp32(workbench, case, runner(batch), fp32(batch))  # numpy logits, as every runner returns
        return
    # The cell's speedups, measured once for every variant of the cell in one interleaved schedule (the first test of
    # the cell, FP32's as a rule, makes it); before this test's memory probe, which must not see other variants' calls.
    shared = shared_timing.cell(case)
    speedup = Speedup.of_baseline() if case.variant == BASELINE else shared[case.variant].check().speedup
    probe = MemoryProbe(case.device)
    with progress.activity(f"warming up {case.variant} on {case.cell}"):
        for _ in range(plan.warmup_rounds):  # the same warm-up for every variant
            runner.run(prepared)
    one_call = seconds_per_call(runner.run, prepared)
    benchmark.group = case.cell
    benchmark.pedantic(runner.run, args=(prepared,), rounds=plan.rounds_for(one_call), iterations=1)
    median = benchmark.stats.stats.median
    peak_mem_mb = probe.peak_mb(runner.size_bytes)

    # After every timed call, so that no variant gets a call more than the others before its timing.
    kernels = runner.kernel_report(prepared)  # one profiled call: which attention kernel ran
    # A fast wrong answer is no answer: finite, of the right shape, within the recipe's tolerance of FP32.
    _check_against_fp32(workbench, case, runner(batch), fp32(batch))
    precision = workbench.variant(case.variant).recipe.precision
    peaks = gemm_peaks(case.device)
    result = LatencyResult(
        variant=case.variant, device=case.device, batch_size=case.batch_size, seq_len=case.seq_len,
        median_ms=median * 1e3, speedup=speedup, threads=workbench.threads, model=workbench.model_spec,
        rounds=benchmark.stats.stats.rounds, warmup_rounds=plan.warmup_rounds, size_mb=runner.size_bytes / 1e6,
        peak_mem_mb=peak_mem_mb, build_s=runner.build_seconds,
        compile_s=runner.compile_seconds.get((case.batch_size, case.seq_len)),
        # FP32's median from its own test in this cell over this one: the check on the interleaved figure.
        speedup_sequential=_sequential_speedup(run_state, case, median * 1e3),
        roofline=roofline(workbench.source.config, case.batch_size, case.seq_len, median, precision, peaks),
        slow_here=_slow_note(precision, peaks), sync=_sync_note(case.device), runner_info=runner.info,
        kernels=kernels)  # machine facts (CPU, GPU, versions): the run's machine_info
    benchmark.extra_info.update(result.to_json())
    run_state.latency_results.append(result)


def _check_against_fp32(workbench, case, logits, fp32_logits) -> None:
    """What a run without timing still proves: the variant runs on this cell and its logits are FP32's, within
    what its precision allows (the largest difference of its recipe's logit_tolerance)."""
    problem = disagreement(logits, fp32_logits, workbench.variant(case.variant).recipe.logit_tolerance[0])
    assert problem is None, f"{case.id}: {problem}"


def _sync_note(device: str) -> str:
    """How a timed call knows the work is done: the same rule for every runtime on the device."""
    if device == "cuda":
        return ("torch.cuda.synchronize() inside each timed call (torch runners; ONNX Runtime: IO binding, inputs on "
                "the device before timing, outputs synchronized)")
    return "none needed: CPU calls return when done"


def _sequential_speedup(run_state, case, median_ms: float) -> float | None:
    if case.variant == BASELINE:
        return 1.0
    found = [r.median_ms for r in run_state.latency_results if r.cell == case.cell and r.variant == BASELINE]
    return found[-1] / median_ms if found else None


def _slow_note(precision: str, peaks: dict) -> str | None:
    """Why a precision cannot beat FP32 on this device, from the GEMM peaks measured in this session."""
    peak, fp32 = peaks.get(precision), peaks.get("fp32")
    if precision == "fp32" or not peak or not fp32 or peak >= fp32:
        return None
    return (f"this device's {precision} matrix-multiply peak ({peak:g}) is below its FP32 peak ({fp32:g} GFLOP/s): "
            f"{precision} cannot beat FP32 here (cpu_isa {hardware.cpu_isa()})")
