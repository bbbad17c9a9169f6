"""One interleaved measurement per fixed cell and per offline scenario, shared by every variant that runs there.

Every variant of a cell (or of an offline scenario: the same texts at one batch size) is warmed up the same
way, then timed in one `timing.interleave` schedule against one FP32 stream: FP32 | every variant in
turn | FP32 | ... So each variant's speedup is measured against FP32 segments seconds away from its own,
on the same inputs, with the same segment length and pauses, and FP32 is run once per round for the
whole cell instead of once per variant. The tests read their variant's part and report it.
"""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass, field

from .inputs import TokenBatch
from .results import Speedup
from .timing import BRACKETED, TimingPlan, interleave, seconds_per_call, speedup_of_blocks
from .variants import Runner


@dataclass
class ArmResult:
    """One variant's part of a shared measurement, or why it had none."""

    speedup: Speedup | None = None
    seconds: list[float] = field(default_factory=list)  # its segments' seconds, round by round
    baseline_seconds: list[float] = field(default_factory=list)  # FP32's, interpolated at those segments
    first_pass_s: float | None = None  # offline: its cold first pass over the traffic
    passes: int = 0  # offline: steady passes over the traffic
    failure: BaseException | None = None  # it could not be measured: its own test raises this

    def check(self) -> ArmResult:
        """This result, or the failure that kept the variant out of the schedule (VariantUnavailable: a skip)."""
        if self.failure is not None:
            raise self.failure
        return self


def _warm(runners: dict[str, Runner], inputs: dict[str, object], rounds: int) -> dict[str, ArmResult]:
    """The same warm-up calls for every runner; one that fails to run here is left out, with its failure."""
    failed = {}
    for name, runner in runners.items():
        try:
            for _ in range(rounds):
                runner.run(inputs[name])
        except Exception as exc:  # its own test raises it: VariantUnavailable skips, anything else fails
            failed[name] = ArmResult(failure=exc)
    return failed


def idle_spin_after(fp32: Runner, runners: dict[str, Runner]) -> dict[str | None, float]:
    """How long each runtime's threads spin after its segment (None: FP32's), for the pause before the next."""
    return {None: fp32.idle_spin_s, **{name: runner.idle_spin_s for name, runner in runners.items()}}


def measure_cell(fp32: Runner, runners: dict[str, Runner], batch: TokenBatch, plan: TimingPlan) -> dict[str, ArmResult]:
    """Every variant's speedup over FP32 on one fixed cell's batch: `plan.interleave_blocks` rounds, each segment the
    same number of calls for FP32 and every variant (enough for FP32 to last a block), after one settling call."""
    inputs = {name: runner.prepare(batch) for name, runner in runners.items()}
    fp32_input = fp32.prepare(batch)
    for _ in range(plan.warmup_rounds):
        fp32.run(fp32_input)
    results = _warm(runners, inputs, plan.warmup_rounds)
    arms = {name: runner for name, runner in runners.items() if name not in results}
    # As many calls per segment as fill a block with FP32's (the median of three single calls: one is at the mercy
    # of a hiccup), the same for every runner: a faster variant's segment is shorter, one slower than FP32 longer.
    # Not sized by the slowest runner: one slow call there left the int8 variants segments of a few ms, too short to
    # time (docs/measurements/2026-12-03-amd-epyc-zen5-scenarios.md).
    calls = plan.calls_per_block(statistics.median(seconds_per_call(fp32.run, fp32_input) for _ in range(3)))

    def segment(runner, prepared):
        def timed(_round: int) -> float:
            for _ in range(plan.settle_calls):  # untimed: back to steady state after another runtime's segment
                runner.run(prepared)
            return seconds_per_call(runner.run, prepared, calls)
        return timed

    timed = interleave(segment(fp32, fp32_input), {n: segment(r, inputs[n]) for n, r in arms.items()},
                       plan.interleave_blocks, plan.pause_seconds, idle_spin_after(fp32, arms))
    for name, (base, own) in timed.arms.items():
        results[name] = ArmResult(speedup_of_blocks(base, own, calls, plan.pause_seconds, BRACKETED, plan.settle_calls),
                                  own, base)
    return results


def one_pass(run, batches) -> float:
    started = time.perf_counter()
    for batch in batches:
        run(batch)
    return time.perf_counter() - started


@dataclass
class OfflineMeasurement:
    """What a shared offline measurement found: FP32's own figures, and every variant's part."""

    fp32_first_pass_s: float
    fp32_seconds: list[float]  # FP32's own segments (chunks) over the steady passes
    passes: int
    chunk_batches: int  # batches per chunk (the first chunk's)
    arms: dict[str, ArmResult]


def measure_offline(fp32: Runner, runners: dict[str, Runner], traffic_for, min_rounds: int, chunks_per_pass: int,
                    seconds: float, plan: TimingPlan) -> OfflineMeasurement:
    """Every variant scoring the same traffic as FP32: each one's cold first pass (kept apart), then steady passes
    interleaved chunk by chunk (`min_rounds` rounds at least; more passes, up to 3, where a pass is short against
    `seconds`), each chunk's first batch run once untimed before it (plan.settle_calls) where a chunk holds several.
    `traffic_for(runner)` is the traffic as that runner takes it (padded to its multiple)."""
    pause_seconds = plan.pause_seconds
    fp32_traffic = traffic_for(fp32)
    fp32_batches = [fp32.prepare(b) for b in fp32_traffic.batches]
    inputs, results = {}, {}
    fp32_first = one_pass(fp32.run, fp32_batches)  # FP32's own cold pass
    first_pass = {}
    for name, runner in runners.items():
        try:
            inputs[name] = [runner.prepare(b) for b in traffic_for(runner).batches]
            first_pass[name] = one_pass(runner.run, inputs[name])  # cold: every new shape is met here
        except Exception as exc:  # its own test raises it: VariantUnavailable skips, anything else fails
            results[name] = ArmResult(failure=exc)
    chunks = fp32_traffic.chunks(chunks_per_pass)
    # How long a pass takes, from the cold passes: a steady FP32 pass run only to measure it cost seconds per batch
    # size, and a cold pass is at most a little longer, which can only mean fewer extra passes.
    arm_pass = sum(first_pass.values()) / max(1, len(first_pass))
    passes = max(math.ceil(min_rounds / len(chunks)), min(3, round(seconds / max(fp32_first + arm_pass, 1e-3))))

    # A chunk of one batch (batch 32 of the quick profile's 192 texts) is not settled: the settling call would double
    # what the scenario costs, and at batch 32 it moved no variant's speedup by more than 6% (three repeats each,
    # docs/measurements/2026-12-03-amd-epyc-zen5-scenarios.md), where the first call after a switch is a small part
    # of a long one. Several batches to a chunk: the first is run once untimed, as in the fixed cells.
    settle_calls = plan.settle_calls if len(chunks[0]) > 1 else 0

    def chunk_of(run, batches):
        def timed(k: int) -> float:
            chunk = [batches[i] for i in chunks[k % len(chunks)]]
            for _ in range(settle_calls):  # untimed: back to steady state after another runtime's segment
                run(chunk[0])
            return one_pass(run, chunk)
        return timed

    rounds = passes * len(chunks)
    timed = interleave(chunk_of(fp32.run, fp32_batches), {n: chunk_of(runners[n].run, inputs[n]) for n in first_pass},
                       rounds, pause_seconds, idle_spin_after(fp32, {n: runners[n] for n in first_pass}))
    for name, (base, own) in timed.arms.items():
        speedup = speedup_of_blocks(base, own, len(chunks[0]), pause_seconds, BRACKETED, settle_calls)
        results[name] = ArmResult(speedup, own, base, first_pass[name], passes)
    return OfflineMeasurement(fp32_first, timed.baseline[:rounds], passes, len(chunks[0]), results)
