"""What the scenarios share: the recommendation rule with its tie and accuracy rules, and the shared runners.

The same rule in each scenario: among the variants that passed their accuracy gate on the device
and are faster than FP32 beyond noise (the lower end of the speedup's 95% interval above 1; on the
server, a capacity above FP32's by more than the search's step), the fastest. When the fastest
one's interval overlaps another's, the two are put head to head: both were timed in the same
interleaved rounds, so round by round the ratio of their block ratios is the one's speed over the
other's, with FP32's drift cancelled; where the 95% interval of its median lies above 1 the fastest
beats it, and the line says by how much. Only those it does not beat are a tie: the tie goes to the
smallest accuracy drop, then the smallest size, and the line says it was a tie. If none qualifies,
FP32 itself.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

from ..measurement import ArmResult
from ..results import AccuracyResult, accuracy_key
from ..timing import median_ci
from ..variants import BASELINE


@dataclass(frozen=True)
class Recommendation:
    cell: str  # where: the fixed cell, or the scenario (cpu-offline-b8, cpu-server-p99-100ms)
    variant: str
    speedup: float
    ci95: tuple[float, float]
    median_ms: float | None  # fixed cells: the variant's own median
    drop_points: float | None  # None: accuracy was not checked on this device
    excluded: dict[str, str]  # variant -> why it could not be recommended
    tied_with: tuple[str, ...] = ()  # the fastest's interval overlaps these; the tie went to this one
    fastest: str | None = None  # the variant with the highest median, when the tie went to another
    result: object | None = None  # the recommended variant's record
    paired: tuple[HeadToHead, ...] = ()  # the fastest against each whose interval overlaps its own, head to head

    @property
    def beaten(self) -> tuple[HeadToHead, ...]:
        """Those the recommended variant (the fastest) beats head to head: not a tie."""
        return tuple(h for h in self.paired if h.beats) if self.fastest is None else ()


@dataclass(frozen=True)
class HeadToHead:
    """The fastest against another, paired over the rounds both were timed in: its speed over the other's."""

    other: str
    ratio: float
    ci95: tuple[float, float]
    rounds: int

    @property
    def beats(self) -> bool:
        return self.ci95[0] > 1.0

    def figures(self) -> str:
        return f"{self.ratio:.3f}x [95% CI {self.ci95[0]:.3f}-{self.ci95[1]:.3f}] over {self.rounds} paired rounds"

    def text(self) -> str:
        return f"beats {self.other} head to head by {self.figures()}"


def head_to_head(fastest, other) -> HeadToHead | None:
    """The paired ratio of two results timed in the same rounds (as many block ratios, one per round); None if not."""
    a, b = fastest.speedup.ratios, other.speedup.ratios
    if len(a) < 3 or len(a) != len(b):
        return None
    paired = [x / y for x, y in zip(a, b, strict=True)]
    return HeadToHead(other.variant, statistics.median(paired), median_ci(paired), len(paired))


def accuracy_verdict(accuracy: dict[str, AccuracyResult] | None, device: str, variant: str
                     ) -> tuple[str | None, float | None]:
    """(why the variant is not eligible or None, its accuracy drop in points or None if unchecked)."""
    if variant == BASELINE:
        return None, 0.0
    if not accuracy or not any(r.device == device for r in accuracy.values()):
        return None, None  # nothing scored on this device: eligible, and the report says it is unchecked
    record = accuracy.get(accuracy_key(device, variant))
    if record is None:
        return "not scored for accuracy in this run", None
    if not record.passed:
        return f"failed its accuracy gate (drop {record.drop_points:.2f} points)", record.drop_points
    long_texts = accuracy.get(accuracy_key(device, variant, "long-texts"))
    if long_texts and not long_texts.passed:
        return f"failed its long-text accuracy gate (drop {long_texts.drop_points:.2f} points)", record.drop_points
    return None, record.drop_points


def eligibility(results: list, accuracy: dict | None, not_faster) -> tuple[dict[str, str], list[tuple]]:
    """(variant -> why it cannot be recommended, [(result, accuracy drop)] of those that can): its accuracy gate first,
    then `not_faster(result)` (a reason, or None)."""
    excluded, eligible = {}, []
    for r in results:
        why, drop = accuracy_verdict(accuracy, r.device, r.variant)
        why = why or not_faster(r)
        if why:
            excluded[r.variant] = why
        else:
            eligible.append((r, drop))
    return excluded, eligible


def choose(where: str, results: list, accuracy: dict | None, sizes: dict[str, float]) -> Recommendation:
    """The rule above over one cell's or scenario's results (each with .variant, .device and .speedup)."""
    def not_faster(r) -> str | None:
        low, high = r.speedup.ci95
        if r.variant == BASELINE or low > 1.0:
            return None
        return f"{'slower than' if high < 1.0 else 'not faster beyond noise than'} {BASELINE}: speedup {r.speedup.text()}"

    excluded, eligible = eligibility(results, accuracy, not_faster)
    baseline = [(r, 0.0) for r in results if r.variant == BASELINE]
    fastest, _ = max(eligible or baseline or [(results[0], None)], key=lambda pair: pair[0].speedup.median)
    overlapping = [pair for pair in eligible if pair[0].speedup.ci95[1] >= fastest.speedup.ci95[0]]
    paired = [h for h in (head_to_head(fastest, r) for r, _ in overlapping if r is not fastest) if h is not None]
    tied = [pair for pair in overlapping if pair[0].variant not in {h.other for h in paired if h.beats}]

    def tie_break(pair) -> tuple:
        result, drop = pair
        return (math.inf if drop is None else round(drop, 2), sizes.get(result.variant, math.inf),
                -result.speedup.median)

    best, drop = min(tied or [(fastest, None)], key=tie_break)
    return Recommendation(where, best.variant, best.speedup.median, best.speedup.ci95,
                          getattr(best, "median_ms", None), drop, excluded,
                          tied_with=tuple(r.variant for r, _ in tied if r is not best),
                          fastest=fastest.variant if fastest is not best else None, result=best,
                          paired=tuple(paired))


def sizes(run) -> dict[str, float]:
    """Each variant's size on disk, as the fixed cells recorded it (the tie's second rule)."""
    return {r.variant: r.size_mb for r in run.of_kind("latency") if r.size_mb is not None}


def accuracy_words(rec: Recommendation) -> str:
    return ("accuracy NOT checked on this device" if rec.drop_points is None
            else f"accuracy drop {rec.drop_points:.2f} points, within its gate")


def head_to_head_words(rec: Recommendation) -> str:
    return "".join(f"; {h.text()}" for h in rec.beaten)


def tie_words(rec: Recommendation) -> str:
    """Who it tied with, and what the head-to-head said where the two were timed in the same rounds."""
    paired = {h.other: h for h in rec.paired}
    fastest = rec.fastest or rec.variant

    def one(variant: str) -> str:
        if variant == fastest and rec.variant in paired:  # the tie went to another: the fastest against it
            return f"{variant} (head to head over {rec.variant}: {paired[rec.variant].figures()})"
        if variant in paired:
            return f"{variant} ({fastest} head to head: {paired[variant].figures()})"
        return variant

    return ", ".join(one(v) for v in rec.tied_with)


def shared_runners(session, names: list[str], device: str) -> tuple[dict, dict]:
    """The runners of a shared measurement that build here; the others' failures, for their own tests to raise."""
    runners, failed = {}, {}
    for name in names:
        try:
            runners[name] = session.workbench.runner(name, device)
        except Exception as exc:  # VariantUnavailable (a skip) or a build that failed: its test says which
            failed[name] = ArmResult(failure=exc)
    return runners, failed


def ordered_cases(case_type, names, devices, per_device) -> list:
    """Per device, FP32 first then the chosen variants that run there, for each of `per_device(device)`'s keys."""
    from ..variants import pairs

    chosen = pairs(names, tuple(devices))
    cases = []
    for device in devices:
        in_device = [v for d, v in chosen if d == device]
        ordered = [BASELINE] * (BASELINE in in_device) + [v for v in in_device if v != BASELINE]
        cases += [case_type(device, *key, v) for key in per_device(device) for v in ordered]
    return cases
