"""Speedups that hold on a noisy machine: FP32 and a variant timed in alternating blocks.

Absolute times on a shared 2-core machine drift by 20% between runs; a ratio measured in
interleaved blocks (FP32, variant, variant, FP32, ... — ABBA, so a slow drift cancels) moves far
less. Each block is a few calls, not one, and a pause (`pause_seconds`, outside every timing)
separates one runtime's block from the next: idle ONNX Runtime, OpenMP and TBB threads spin for a
while after a run, and without the pause they would tax the other runtime's first calls. Every
runtime keeps its own default spinning, as users run it.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

from .results import Speedup


@dataclass(frozen=True)
class TimingPlan:
    """How every variant of a run is timed: the same for all of them."""

    warmup_rounds: int
    min_rounds: int
    max_rounds: int
    target_seconds: float  # rounds are chosen to fill about this long, within [min, max]
    interleave_blocks: int
    block_seconds: float = 0.2  # calls per interleaved block: enough to last about this long
    pause_seconds: float = 0.05  # idle between interleaved segments, so spinning threads have gone to sleep

    def rounds_for(self, seconds_per_call: float) -> int:
        wanted = math.ceil(self.target_seconds / max(seconds_per_call, 1e-6))
        return max(self.min_rounds, min(self.max_rounds, wanted))

    def calls_per_block(self, seconds_per_call: float) -> int:
        return max(1, min(50, round(self.block_seconds / max(seconds_per_call, 1e-6))))


def seconds_per_call(run: Callable, prepared, calls: int = 1) -> float:
    started = time.perf_counter()
    for _ in range(calls):
        run(prepared)
    return (time.perf_counter() - started) / calls


def median_ci(values: list[float], confidence: float = 0.95) -> tuple[float, float]:
    """Distribution-free interval for the median (order statistics, scipy.stats.quantile_test); with too few
    values for one at this confidence, their range."""
    # Imported here: scipy.stats takes most of a second to import, and the plugin imports us.
    from scipy.stats import quantile_test

    ordered = sorted(float(v) for v in values)
    if len(ordered) >= 3:
        interval = quantile_test(ordered, q=ordered[len(ordered) // 2], p=0.5).confidence_interval(confidence)
        if not (math.isnan(interval.low) or math.isnan(interval.high)):
            return float(interval.low), float(interval.high)
    return ordered[0], ordered[-1]


def abba_blocks(baseline_block: Callable[[int], float], variant_block: Callable[[int], float], blocks: int
                ) -> tuple[list[float], list[float]]:
    """Seconds of each side in each block, ABBA: even blocks run the baseline first, odd ones the variant first.

    `baseline_block(k)` and `variant_block(k)` time block k on the same inputs (one segment of calls each).
    """
    baseline_seconds, variant_seconds = [], []
    for block in range(blocks):
        if block % 2 == 0:
            baseline_seconds.append(baseline_block(block))
            variant_seconds.append(variant_block(block))
        else:
            variant_seconds.append(variant_block(block))
            baseline_seconds.append(baseline_block(block))
    return baseline_seconds, variant_seconds


def speedup_of_blocks(baseline_seconds: list[float], variant_seconds: list[float], calls_per_block: int,
                      pause_seconds: float) -> Speedup:
    ratios = [b / v for b, v in zip(baseline_seconds, variant_seconds, strict=True)]
    return Speedup(statistics.median(ratios), median_ci(ratios), len(ratios), calls_per_block, tuple(ratios),
                   pause_seconds)


def interleaved_speedup(baseline: Callable, baseline_input, variant: Callable, variant_input,
                        blocks: int, calls_per_block: int, pause_seconds: float = 0.0) -> Speedup:
    """Median over blocks of (baseline time / variant time); above 1 means the variant is faster.

    Each segment of calls is preceded by `pause_seconds` of idleness, the same for both sides.
    """

    def segment(run, prepared) -> float:
        time.sleep(pause_seconds)
        return seconds_per_call(run, prepared, calls_per_block)

    base, var = abba_blocks(lambda _: segment(baseline, baseline_input), lambda _: segment(variant, variant_input),
                            blocks)
    return speedup_of_blocks(base, var, calls_per_block, pause_seconds)
