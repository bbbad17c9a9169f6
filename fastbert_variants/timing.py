"""Speedups that hold on a noisy machine: FP32 and the variants timed in interleaved segments, in one schedule.

Absolute times on a shared 2-core machine drift by 20% between runs; a ratio measured in interleaved
segments moves far less. The schedule (`interleave`) brackets every round of the variants' segments by
two FP32 segments, FP32 | variants in turn | FP32 | variants | FP32 ..., the variants' order rotated
from round to round; each variant's ratio in a round is FP32's time, interpolated in time between the
round's two FP32 segments at the variant's own segment, over the variant's time: a slow drift of the
machine cancels within the round, and one FP32 stream serves every variant of a cell. Each segment is a
few calls, not one, and a pause (outside every timing) precedes it: idle threads spin for a while after a
run, and without the pause they would tax the next runtime's first calls. The pause is `pause_seconds`,
or longer after a runtime whose threads spin longer (`idle_spin_after`: ONNX Runtime's do, and shorter
pauses after them inflated ORT's speedup: docs/measurements/, the 2026-12-03 scenarios). Every runtime
keeps its own default spinning, as users run it.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Mapping
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
    # Idle before each interleaved segment, so the last runtime's spinning threads have gone to sleep; longer after a
    # runtime whose threads spin longer (Runner.idle_spin_s). 10 ms moved no speedup against 50 ms where the runtime
    # before was not ONNX Runtime (docs/measurements/2026-12-03-amd-epyc-zen5-scenarios.md).
    pause_seconds: float = 0.01
    # Untimed calls at the start of each segment, after the pause: the runtime's threads woken and its caches warm
    # again after another runtime's segment, so that a segment times the steady speed a runtime has when it runs
    # alone, as it does in production (it made short segments repeat: docs/measurements/, 2026-12-03 scenarios).
    settle_calls: int = 1

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


@dataclass
class Interleaved:
    """What `interleave` timed: FP32's own segments (one more than the rounds: each round sits between two), and per
    arm, FP32's seconds interpolated at each of the arm's segments beside the arm's own seconds."""

    baseline: list[float]
    arms: dict[str, tuple[list[float], list[float]]]


def interleave(baseline: Callable[[int], float], arms: dict[str, Callable[[int], float]], rounds: int,
               pause_seconds: float = 0.0, idle_spin_after: Mapping[str | None, float] | None = None) -> Interleaved:
    """Time `rounds` rounds of FP32 | every arm in turn | FP32 (the schedule of this module's docstring).

    `baseline(k)` and each `arms[name](k)` run and time round k's segment of the same work (the same calls or the
    same texts), returning seconds; FP32's closing segment of round k is round k+1's opening one, and runs k+1's
    work. The pause before each segment is not timed: `pause_seconds`, or `idle_spin_after[name]` where the segment
    before was that arm's (None: FP32's) and that is longer.
    """
    names = list(arms)
    spin = dict(idle_spin_after or {})
    previous: str | None = None

    def timed(segment, k, name=None) -> tuple[float, float]:
        nonlocal previous
        time.sleep(max(pause_seconds, spin.get(previous, 0.0)))
        previous = name
        started = time.perf_counter()
        seconds = segment(k)
        return (started + time.perf_counter()) / 2, seconds

    results = {name: ([], []) for name in names}
    before = timed(baseline, 0)
    own = [before[1]]
    for k in range(rounds):
        order = names[k % len(names):] + names[:k % len(names)] if names else []
        measured = {name: timed(arms[name], k, name) for name in order}
        after = timed(baseline, k + 1)
        own.append(after[1])
        (t0, b0), (t1, b1) = before, after
        for name, (t, seconds) in measured.items():
            reference = b0 + (b1 - b0) * (t - t0) / (t1 - t0) if t1 > t0 else (b0 + b1) / 2
            results[name][0].append(reference)
            results[name][1].append(seconds)
        before = after
    return Interleaved(own, results)


def speedup_of_blocks(baseline_seconds: list[float], variant_seconds: list[float], calls_per_block: int,
                      pause_seconds: float, order: str = "bracketed", settle_calls: int = 0) -> Speedup:
    ratios = [b / v for b, v in zip(baseline_seconds, variant_seconds, strict=True)]
    return Speedup(statistics.median(ratios), median_ci(ratios), len(ratios), calls_per_block, tuple(ratios),
                   pause_seconds, order, settle_calls)


BRACKETED = "FP32 | variants in rotating order | FP32 per round; FP32 interpolated in time at each variant's segment"


def interleaved_speedup(baseline: Callable, baseline_input, variant: Callable, variant_input,
                        blocks: int, calls_per_block: int, pause_seconds: float = 0.0) -> Speedup:
    """One variant against FP32 (`interleave` with one arm): median over rounds of FP32's time over the variant's for
    `calls_per_block` calls each; above 1 means the variant is faster."""

    def segment(run, prepared):
        return lambda _: seconds_per_call(run, prepared, calls_per_block)

    ((base, var),) = interleave(segment(baseline, baseline_input), {"variant": segment(variant, variant_input)},
                                blocks, pause_seconds).arms.values()
    return speedup_of_blocks(base, var, calls_per_block, pause_seconds, BRACKETED)
