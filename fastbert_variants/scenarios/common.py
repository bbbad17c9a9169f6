"""What the scenarios share: the recommendation rule with its tie and accuracy rules, and the shared runners.

The same rule in each scenario: among the variants that passed their accuracy gate on the device
and are faster than FP32 beyond noise (the lower end of the speedup's 95% interval above 1; on the
server, a capacity above FP32's by more than the search's step), the fastest. When the fastest
one's interval overlaps others', the speedups cannot be told apart in this run: the tie goes to the
smallest accuracy drop, then the smallest size, and the line says it was a tie. If none qualifies,
FP32 itself.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..measurement import ArmResult
from ..results import AccuracyResult, accuracy_key
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


def choose(where: str, results: list, accuracy: dict | None, sizes: dict[str, float]) -> Recommendation:
    """The rule above over one cell's or scenario's results (each with .variant, .device and .speedup)."""
    excluded, eligible = {}, []
    for r in results:
        why, drop = accuracy_verdict(accuracy, r.device, r.variant)
        low, high = r.speedup.ci95
        if why is None and r.variant != BASELINE and low <= 1.0:
            why = (f"{'slower than' if high < 1.0 else 'not faster beyond noise than'} {BASELINE}: "
                   f"speedup {r.speedup.text()}")
        if why:
            excluded[r.variant] = why
        else:
            eligible.append((r, drop))
    baseline = [(r, 0.0) for r in results if r.variant == BASELINE]
    fastest, _ = max(eligible or baseline or [(results[0], None)], key=lambda pair: pair[0].speedup.median)
    tied = [pair for pair in eligible if pair[0].speedup.ci95[1] >= fastest.speedup.ci95[0]]

    def tie_break(pair) -> tuple:
        result, drop = pair
        return (math.inf if drop is None else round(drop, 2), sizes.get(result.variant, math.inf),
                -result.speedup.median)

    best, drop = min(tied or [(fastest, None)], key=tie_break)
    return Recommendation(where, best.variant, best.speedup.median, best.speedup.ci95,
                          getattr(best, "median_ms", None), drop, excluded,
                          tied_with=tuple(r.variant for r, _ in tied if r is not best),
                          fastest=fastest.variant if fastest is not best else None, result=best)


def sizes(run) -> dict[str, float]:
    """Each variant's size on disk, as the fixed cells recorded it (the tie's second rule)."""
    return {r.variant: r.size_mb for r in run.of_kind("latency") if r.size_mb is not None}


def accuracy_words(rec: Recommendation) -> str:
    return ("accuracy NOT checked on this device" if rec.drop_points is None
            else f"accuracy drop {rec.drop_points:.2f} points, within its gate")


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
