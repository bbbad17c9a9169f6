"""The offline scenario: each variant scores the dataset's own texts in batches, in steady state, against FP32.

A fixed cell pads nothing and meets one shape; real traffic meets every length. So each variant
scores the profile's first N texts of the dataset (in arrival order, or sorted into length buckets),
batched at 1, 8 and 32 with dynamic padding. Its first pass over them is timed and kept apart
(`first_pass_s`: new shapes, plans, kernel choices). Then steady passes, interleaved chunk by chunk
with FP32 and every other variant of the scenario in one schedule (measurement.py: the same texts on
every side, FP32 before and after each round of the variants, a pause before every segment), give the
speedup's median and 95% interval, as the fixed cells do; throughput comes from the variant's own
chunks. Tokenizing happens before any timing. The Timer (pytest-benchmark's, under pytest) times the
traffic's first chunk three more times, the variant alone, for --benchmark-compare.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

from .. import progress, tables
from ..metrics import disagreement
from ..results import OfflineResult, Speedup
from ..variants import BASELINE
from .base import Measured, Scenario
from .common import (
    accuracy_verdict,
    accuracy_words,
    choose,
    head_to_head_words,
    ordered_cases,
    shared_runners,
    sizes,
    tie_words,
)

BATCH_SIZES = (1, 8, 32)  # the dataset's texts at these batch sizes; the profile says which strategies (plan.py)
RECOMMENDED_STRATEGY = "dynamic"  # what a user gets without reordering the texts; length-buckets is reported beside it


@dataclass(frozen=True)
class OfflineCase:
    SCENARIO: ClassVar[str] = "offline"

    device: str
    batch_size: int
    strategy: str
    variant: str

    @property
    def scenario(self) -> str:
        return f"{self.device}-offline-b{self.batch_size}-{self.strategy}"

    @property
    def id(self) -> str:
        return f"{self.scenario}-{self.variant}"


class Offline(Scenario):
    name, record, case_fixture, order = "offline", OfflineResult, "offline_case", 10

    def cases(self, selection, devices):
        """Per device, batch size and strategy, FP32 first: its first pass over the traffic is its own cold pass."""
        strategies = selection.profile.offline_strategies
        return ordered_cases(OfflineCase, selection.variants, devices, lambda device: [
            (b, s) for b in BATCH_SIZES for s in strategies if b > 1 or s == "dynamic"])

    def measure(self, session, case, timer):
        from ..measurement import one_pass

        bench = session.workbench
        runner, fp32 = bench.runner(case.variant, case.device), bench.runner(BASELINE, case.device)
        traffic = self.traffic(session, case.strategy, case.batch_size, runner.pad_to_multiple)
        record = self.record_of(session, case) if timer.enabled else None
        prepared = [runner.prepare(b) for b in traffic.batches]
        if record is None:  # timing off: the variant runs over the traffic and agrees; nothing timed
            one_pass(runner.run, prepared)
        else:  # the Timer's own figure (what --benchmark-compare compares): the traffic's first chunk, the variant alone
            chunk = self._shared(session, case).chunk_batches
            timer.time(case.scenario, one_pass, (runner.run, prepared[:chunk]), rounds=3)
        # What the timing alone cannot see: the variant's outputs on this traffic are finite, of the right shape and
        # within its recipe's tolerance of FP32's (checked outside every timed region).
        fp32_traffic = self.traffic(session, case.strategy, case.batch_size, fp32.pad_to_multiple)
        problem = disagreement(runner(traffic.batches[0]), fp32(fp32_traffic.batches[0]),
                               bench.variant(case.variant).recipe.logit_tolerance[0], rows=traffic.rows_of(0))
        return Measured(record, None if problem is None else f"{case.id}: {problem}")

    def record_of(self, session, case) -> OfflineResult:
        """The case's record, made once per run, whoever asks first (its test, or the server's shortlist)."""
        def make():
            shared = self._shared(session, case)
            if case.variant == BASELINE:
                seconds = fp32_seconds = shared.fp32_seconds
                first_pass_s, speedup = shared.fp32_first_pass_s, Speedup.of_baseline()
            else:
                arm = shared.arms[case.variant].check()
                seconds, fp32_seconds, first_pass_s, speedup = (arm.seconds, arm.baseline_seconds, arm.first_pass_s,
                                                                arm.speedup)
            runner = session.workbench.runner(case.variant, case.device)
            traffic = self.traffic(session, case.strategy, case.batch_size, runner.pad_to_multiple)
            return session.keep(OfflineResult(
                variant=case.variant, device=case.device, batch_size=case.batch_size, strategy=case.strategy,
                texts=traffic.texts, texts_per_s=shared.passes * traffic.texts / sum(seconds), speedup=speedup,
                fp32_texts_per_s=shared.passes * traffic.texts / sum(fp32_seconds), first_pass_s=first_pass_s,
                steady_passes=shared.passes, padding_waste=traffic.padding_waste, median_tokens=traffic.median_tokens,
                threads=session.workbench.threads, model=session.workbench.source.recorded_as))

        return session.once(("offline record", case.id), make)

    @staticmethod
    def traffic(session, strategy: str, batch_size: int, pad_to_multiple=None):
        """The profile's first N texts of the dataset, batched (tokenized once per strategy, batch size and padding)."""
        from ..inputs import make_traffic

        bench = session.workbench
        texts = bench.dataset.texts[: session.profile.offline_texts]
        return session.once(("traffic", strategy, batch_size, pad_to_multiple), lambda: make_traffic(
            strategy, bench.source.tokenizer, texts, batch_size, min(512, bench.source.max_positions), pad_to_multiple))

    def _shared(self, session, case):
        """The OfflineMeasurement of the case's scenario (device, batch size, strategy), for every variant there."""
        from ..measurement import measure_offline

        def make():
            names = session.variants_in(self, lambda c: c.scenario == case.scenario)
            runners, failed = shared_runners(session, names, case.device)
            profile = session.profile
            with progress.activity(f"{case.scenario}: first passes, then {len(runners)} variant(s) interleaved with "
                                   f"{BASELINE} chunk by chunk"):
                measured = measure_offline(
                    session.workbench.runner(BASELINE, case.device), runners,
                    lambda runner: self.traffic(session, case.strategy, case.batch_size, runner.pad_to_multiple),
                    profile.offline_min_rounds, profile.offline_chunks_per_pass, profile.offline_seconds,
                    profile.timing)
            measured.arms.update(failed)
            return measured

        return session.once(("offline", case.scenario), make)

    def shortlist(self, session, device: str) -> list[str]:
        """Gated variants faster than FP32 beyond noise on the device's traffic in arrival order, best speedup (any
        batch size) first; measured here if no test of the offline scenario has yet."""
        best: dict[str, float] = {}
        for case in self.cases(session.selection, [device]):
            if case.strategy != RECOMMENDED_STRATEGY or case.variant == BASELINE \
                    or session.selection.skip_reason(case.variant, device):
                continue
            try:
                r = self.record_of(session, case)
            except Exception:  # a variant that cannot run here (or failed): its own test says why
                continue
            why, _ = accuracy_verdict(session.run.accuracy, device, r.variant)
            if why is None and r.speedup.beyond_noise:
                best[r.variant] = max(best.get(r.variant, 0.0), r.speedup.median)
        return sorted(best, key=best.get, reverse=True)

    def recommend(self, run):
        """One recommendation per device and batch size, on the texts in arrival order (dynamic padding)."""
        offline, known_sizes = run.of_kind("offline"), sizes(run)
        chosen = [r for r in offline if r.strategy == RECOMMENDED_STRATEGY] or offline
        keys = dict.fromkeys((r.device, r.batch_size) for r in chosen)
        return [choose(f"{device}-offline-b{batch_size}",
                       [r for r in chosen if (r.device, r.batch_size) == (device, batch_size)], run.accuracy, known_sizes)
                for device, batch_size in keys]

    def block(self, run, recommendations):
        from .cells import SCENARIO as CELLS

        cells = CELLS.recommend(run)
        return ("offline: the dataset's texts in batches, steady state (fastest beyond noise, within its accuracy gate)",
                [_line(run, rec) + _against_cells(run, rec, cells) for rec in recommendations])

    def tables(self, run):
        return [("offline scenario (steady passes interleaved with torch-fp32 on the same texts)",
                 tables.offline_rows(run.of_kind("offline")))]

    def plots(self, run, recommendations):
        from .. import plots

        return [(plots.offline_throughput, (run.of_kind("offline"),), "offline_throughput.png")]

    def speedups(self, run):
        return run.of_kind("offline")


def _line(run, rec) -> str:
    r = rec.result
    if rec.variant == BASELINE:
        line = (f"{rec.cell} ({r.texts} of the dataset's texts, median {r.median_tokens:.0f} tokens): {BASELINE} "
                f"({r.texts_per_s:.1f} texts/s): no variant is both within its accuracy gate and faster beyond noise")
    else:
        tie = f"; a tie with {tie_words(rec)}, chosen for the smallest accuracy drop" if rec.tied_with else ""
        line = (f"{rec.cell} ({r.texts} of the dataset's texts, median {r.median_tokens:.0f} tokens, "
                f"{RECOMMENDED_STRATEGY} padding): {rec.variant}, {r.texts_per_s:.1f} texts/s, "
                f"{rec.speedup:.2f}x {BASELINE} [95% CI {rec.ci95[0]:.2f}-{rec.ci95[1]:.2f}]; "
                f"{accuracy_words(rec)}{head_to_head_words(rec)}{tie}")
    buckets = _result(run, r.device, r.variant, r.batch_size, "length-buckets")
    if buckets is not None:
        line += (f"; sorted into length buckets first: {buckets.texts_per_s:.1f} texts/s "
                 f"({buckets.texts_per_s / r.texts_per_s:.2f}x)")
    return line


def _result(run, device, variant, batch_size, strategy) -> OfflineResult | None:
    return next((o for o in run.of_kind("offline")
                 if (o.device, o.variant, o.batch_size, o.strategy) == (device, variant, batch_size, strategy)), None)


def _against_cells(run, rec, cells) -> str:
    """Whether the fixed cell nearest this traffic agrees, and if not, what the traffic does differently."""
    r = rec.result
    cell = _nearest_cell(cells, r.device, r.batch_size, r.median_tokens)
    if cell is None:
        return f". No fixed cell at batch {r.batch_size} in this run to compare with"
    if cell.variant == rec.variant:
        return f". The fixed cell nearest these lengths ({cell.cell}) agrees"
    theirs = _result(run, r.device, cell.variant, r.batch_size, r.strategy)
    why = [f"the cell has every row at {cell.result.seq_len} tokens, this traffic a median of {r.median_tokens:.0f}"]
    if theirs is not None:
        why.insert(0, f"on this traffic {cell.variant} is {theirs.speedup.median:.2f}x {BASELINE}, against "
                      f"{cell.speedup:.2f}x in the cell")
        steady_share = theirs.first_pass_texts_per_s / theirs.texts_per_s if theirs.texts_per_s else math.nan
        if steady_share < 0.8:
            why.append(f"its first pass over these lengths ran at {100 * steady_share:.0f}% of its steady speed "
                       "(a cost per new shape, kept out of the steady figure)")
    if r.padding_waste > 0.1:
        why.append(f"{100 * r.padding_waste:.0f}% of the tokens computed at batch {r.batch_size} are padding")
    return f". DISAGREES with the fixed cell {cell.cell}, which recommends {cell.variant}: " + "; ".join(why)


def _nearest_cell(cells: list, device: str, batch_size: int, median_tokens: float):
    """The fixed cell of this device and batch size nearest (in log length) to the traffic's median length."""
    found = [r for r in cells if (r.result.device, r.result.batch_size) == (device, batch_size)]
    if not found or not median_tokens or math.isnan(median_tokens):
        return None
    return min(found, key=lambda r: abs(math.log(r.result.seq_len / median_tokens)))


SCENARIO = Offline()
