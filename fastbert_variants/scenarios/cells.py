"""Fixed cells: every variant's latency over device x batch size x sequence length, every row exactly seq_len tokens.

A cell's speedups are measured once for all its variants, in one interleaved schedule against FP32
(measurement.measure_cell), the first time one of its cases is measured. Each variant's own median is
then timed alone (the Timer: pytest-benchmark's figure under pytest), after the same warm-up for every
variant, then one profiled call and the check of its logits against FP32's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from .. import hardware, progress, tables
from ..metrics import disagreement
from ..results import LatencyResult, Speedup
from ..variants import BASELINE
from .base import Measured, NotMeasured, Scenario
from .common import (
    Recommendation,
    accuracy_words,
    choose,
    head_to_head_words,
    ordered_cases,
    shared_runners,
    sizes,
    tie_words,
)


@dataclass(frozen=True)
class LatencyCase:
    SCENARIO: ClassVar[str] = "cells"

    device: str
    batch_size: int
    seq_len: int
    variant: str

    @property
    def cell(self) -> str:
        return f"{self.device}-b{self.batch_size}-s{self.seq_len}"

    @property
    def id(self) -> str:
        return f"{self.cell}-{self.variant}"


class Cells(Scenario):
    name, record, case_fixture, order = "cells", LatencyResult, "latency_case", 30

    def cases(self, selection, devices):
        """Cells in order, FP32 first in each, so a cell's variants run side by side."""
        return ordered_cases(LatencyCase, selection.variants, devices,
                             lambda device: [(b, s) for b in selection.batch_sizes for s in selection.seq_lens])

    def measure(self, session, case, timer):
        plan, bench = session.profile.timing, session.workbench
        batch = self._batch(session, case.batch_size, case.seq_len)
        runner, fp32 = bench.runner(case.variant, case.device), bench.runner(BASELINE, case.device)
        prepared = runner.prepare(batch)
        tolerance = bench.variant(case.variant).recipe.logit_tolerance[0]
        if not timer.enabled:  # --benchmark-disable, pytest-xdist: nothing timed, but the variant must run and agree
            return Measured(None, _problem(case, runner(batch), fp32(batch), tolerance))
        # The cell's speedups first, for every variant of the cell at once; before this variant's memory probe, which
        # must not see the other variants' calls.
        shared = self._shared(session, case)
        speedup = Speedup.of_baseline() if case.variant == BASELINE else shared[case.variant].check().speedup
        from ..memory import MemoryProbe
        from ..roofline import roofline
        from ..timing import seconds_per_call

        probe = MemoryProbe(case.device)
        with progress.activity(f"warming up {case.variant} on {case.cell}"):
            for _ in range(plan.warmup_rounds):  # the same warm-up for every variant
                runner.run(prepared)
        median, rounds = timer.time(case.cell, runner.run, (prepared,),
                                    plan.rounds_for(seconds_per_call(runner.run, prepared)))
        peak_mem_mb = probe.peak_mb(runner.size_bytes)
        # After every timed call, so that no variant gets a call more than the others before its timing.
        kernels = runner.kernel_report(prepared)  # one profiled call: which attention kernel ran
        problem = _problem(case, runner(batch), fp32(batch), tolerance)  # a fast wrong answer is no answer
        precision, peaks = bench.variant(case.variant).recipe.precision, session.peaks(case.device)
        fp32_median = [r.median_ms for r in session.run.of_kind("latency") if (r.where, r.variant) == (case.cell, BASELINE)]
        record = LatencyResult(
            variant=case.variant, device=case.device, batch_size=case.batch_size, seq_len=case.seq_len,
            median_ms=median * 1e3, speedup=speedup, threads=bench.threads, model=bench.source.recorded_as, rounds=rounds,
            warmup_rounds=plan.warmup_rounds, size_mb=runner.size_bytes / 1e6, peak_mem_mb=peak_mem_mb,
            build_s=runner.build_seconds, compile_s=runner.compile_seconds.get((case.batch_size, case.seq_len)),
            # FP32's median from its own timing in this cell over this one: the check on the interleaved figure.
            speedup_sequential=1.0 if case.variant == BASELINE else
            fp32_median[-1] / (median * 1e3) if fp32_median else None,
            roofline=roofline(bench.source.config, case.batch_size, case.seq_len, median, precision, peaks),
            slow_here=_slow_note(precision, peaks), sync=_sync_note(case.device), runner_info=runner.info,
            kernels=kernels)
        return Measured(session.keep(record), problem)

    @staticmethod
    def _batch(session, batch_size: int, seq_len: int):
        """Exactly seq_len real tokens per row: the same arrays for every variant of the cell."""
        from ..errors import UserError
        from ..inputs import exact_length_batch

        bench = session.workbench

        def make():
            try:
                return exact_length_batch(bench.source.tokenizer, bench.dataset.texts, seq_len, batch_size,
                                          bench.source.max_positions)
            except UserError as reason:
                return NotMeasured(str(reason))

        batch = session.once(("cell batch", batch_size, seq_len), make)
        if isinstance(batch, NotMeasured):
            raise batch
        return batch

    def _shared(self, session, case) -> dict:
        """{variant: ArmResult} of the case's cell: every variant this run measures there, interleaved with FP32."""
        from ..measurement import measure_cell

        def make():
            names = session.variants_in(self, lambda c: c.cell == case.cell)
            runners, failed = shared_runners(session, names, case.device)
            fp32 = session.workbench.runner(BASELINE, case.device)
            with progress.activity(f"timing {len(runners)} variant(s) against {BASELINE} on {case.cell}, interleaved"):
                measured = measure_cell(fp32, runners, self._batch(session, case.batch_size, case.seq_len),
                                        session.profile.timing)
            return {**failed, **measured}

        return session.once(("cell", case.cell), make)

    def recommend(self, run):
        """One recommendation per fixed cell."""
        latency, known_sizes = run.of_kind("latency"), sizes(run)
        return [choose(cell, [r for r in latency if r.cell == cell], run.accuracy, known_sizes)
                for cell in dict.fromkeys(r.cell for r in latency)]

    def block(self, run, recommendations):
        return ("fixed cells: every row exactly seq_len tokens", recommendation_lines(recommendations))

    def tables(self, run):
        latency = run.of_kind("latency")
        found = [("speedup over torch-fp32 per fixed cell (interleaved median, same run)", tables.speedup_rows(latency)),
                 ("roofline (achieved GFLOP/s, share of this machine's GEMM peak for the variant's precision)",
                  tables.roofline_rows(latency)),
                 ("build and compile seconds (a second run on the same cache builds nothing)", tables.build_rows(latency))]
        if any(r.kernels for r in latency):
            found.append(("attention kernel per cell (one profiled call after the timing)", tables.kernel_rows(latency)))
        return found

    def plots(self, run, recommendations):
        from .. import plots

        latency = run.of_kind("latency")
        return [(plots.latency_by_seq_len, (latency,), "latency_by_seq_len.png"),
                (plots.speedup_per_cell, (latency,), "speedup_per_cell.png")] + \
            [(plots.accuracy_against_speedup, (latency, run.accuracy, recommendations),
              "accuracy_against_speedup.png")] * bool(run.accuracy)

    def speedups(self, run):
        return run.of_kind("latency")


def recommendation_lines(recommendations: list[Recommendation]) -> list[str]:
    """The fixed cells' recommendations, one line each."""
    lines = []
    for rec in recommendations:
        if rec.variant == BASELINE:
            lines.append(f"{rec.cell}: {BASELINE} ({rec.median_ms:.1f} ms): no variant is both within its accuracy gate "
                         "and faster beyond noise")
            continue
        tie = ""
        if rec.tied_with:
            tie = (f"; a tie with {tie_words(rec)}: 95% intervals overlap"
                   f"{f', {rec.fastest} has the highest median' if rec.fastest else ''}; "
                   "chosen for the smallest accuracy drop, then size")
        lines.append(f"{rec.cell}: {rec.variant}, {rec.speedup:.2f}x faster than {BASELINE} "
                     f"[95% CI {rec.ci95[0]:.2f}-{rec.ci95[1]:.2f}] (its own median {rec.median_ms:.1f} ms, timed apart); "
                     f"{accuracy_words(rec)}{head_to_head_words(rec)}{tie}")
    return lines


def _problem(case, logits, fp32_logits, tolerance: float) -> str | None:
    """The variant's logits against FP32's on the cell's batch: finite, of the right shape, within the largest
    difference of its recipe's logit_tolerance."""
    problem = disagreement(logits, fp32_logits, tolerance)
    return None if problem is None else f"{case.id}: {problem}"


def _sync_note(device: str) -> str:
    """How a timed call knows the work is done: the same rule for every runtime on the device."""
    if device == "cuda":
        return ("torch.cuda.synchronize() inside each timed call (torch runners; ONNX Runtime: IO binding, inputs on "
                "the device before timing, outputs synchronized)")
    return "none needed: CPU calls return when done"


def _slow_note(precision: str, peaks: dict) -> str | None:
    """Why a precision cannot beat FP32 on this device, from the GEMM peaks measured in this session."""
    peak, fp32 = peaks.get(precision), peaks.get("fp32")
    if precision == "fp32" or not peak or not fp32 or peak >= fp32:
        return None
    return (f"this device's {precision} matrix-multiply peak ({peak:g}) is below its FP32 peak ({fp32:g} GFLOP/s): "
            f"{precision} cannot beat FP32 here (cpu_isa {hardware.cpu_isa()})")


SCENARIO = Cells()
