"""Which variant to ship, per scenario: the rules, computed once per run, for every front end to print.

The same rule in each scenario: among the variants that passed their accuracy gate on the device
and are faster than FP32 beyond noise (the lower end of the speedup's 95% interval above 1; on the
server, a capacity above FP32's), the fastest. When the fastest one's interval overlaps others',
the speedups cannot be told apart in this run: the tie goes to the smallest accuracy drop, then
the smallest size, and the line says it was a tie. If none qualifies, FP32 itself.

Scenarios: the fixed cells (every row exactly seq_len tokens), the offline scenario (the dataset's
own texts, batched, steady state) and the server scenario (capacity at a p99 budget).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .results import AccuracyResult, LatencyResult, OfflineResult, ServerResult
from .variants import BASELINE

LONG_TEXTS = "/long-texts"  # key suffix of a variant's result on the long-text set


@dataclass(frozen=True)
class Recommendation:
    cell: str  # the fixed cell, or the scenario (cpu-offline-b8-dynamic, cpu-server-p99-100ms)
    variant: str
    speedup: float
    ci95: tuple[float, float]
    median_ms: float | None  # fixed cells: the variant's own median
    drop_points: float | None  # None: accuracy was not checked on this device
    excluded: dict[str, str]  # variant -> why it could not be recommended
    tied_with: tuple[str, ...] = ()  # the fastest's interval overlaps these; the tie went to this one
    fastest: str | None = None  # the variant with the highest median, when the tie went to another
    result: LatencyResult | OfflineResult | ServerResult | None = None


def accuracy_verdict(accuracy: dict[str, AccuracyResult] | None, device: str, variant: str
                     ) -> tuple[str | None, float | None]:
    """(why the variant is not eligible or None, its accuracy drop in points or None if unchecked)."""
    if variant == BASELINE:
        return None, 0.0
    if not accuracy or not any(key.startswith(f"{device}/") for key in accuracy):
        return None, None  # nothing scored on this device: eligible, and the report says it is unchecked
    record = accuracy.get(f"{device}/{variant}")
    if record is None:
        return "not scored for accuracy in this run", None
    if not record.passed:
        return f"failed its accuracy gate (drop {record.drop_points:.2f} points)", record.drop_points
    long_texts = accuracy.get(f"{device}/{variant}{LONG_TEXTS}")
    if long_texts and not long_texts.passed:
        return f"failed its long-text accuracy gate (drop {long_texts.drop_points:.2f} points)", record.drop_points
    return None, record.drop_points


def _choose(where: str, results: list, accuracy: dict | None, sizes: dict[str, float]) -> Recommendation:
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


def _sizes(latency: list[LatencyResult]) -> dict[str, float]:
    return {r.variant: r.size_mb for r in latency if r.size_mb is not None}


def recommend(latency: list[LatencyResult], accuracy: dict | None) -> list[Recommendation]:
    """One recommendation per fixed cell."""
    sizes = _sizes(latency)
    return [_choose(cell, [r for r in latency if r.cell == cell], accuracy, sizes)
            for cell in dict.fromkeys(r.cell for r in latency)]


OFFLINE_STRATEGY = "dynamic"  # what a user gets without reordering the texts; length-buckets is reported beside it


def recommend_offline(offline: list[OfflineResult], accuracy: dict | None,
                      latency: list[LatencyResult] = ()) -> list[Recommendation]:
    """One recommendation per device and batch size, on the texts in arrival order (dynamic padding)."""
    sizes = _sizes(list(latency))
    chosen = [r for r in offline if r.strategy == OFFLINE_STRATEGY] or offline
    keys = dict.fromkeys((r.device, r.batch_size) for r in chosen)
    return [_choose(f"{device}-offline-b{batch_size}",
                    [r for r in chosen if (r.device, r.batch_size) == (device, batch_size)], accuracy, sizes)
            for device, batch_size in keys]


def recommend_server(server: list[ServerResult], accuracy: dict | None) -> list[Recommendation]:
    """Per device and budget: the gated variant with the highest capacity, when it is above FP32's by a search
    step or more (two capacities a step apart cannot be told apart by the search)."""
    recommendations = []
    for device, budget in dict.fromkeys((r.device, r.p99_budget_ms) for r in server):
        results = [r for r in server if (r.device, r.p99_budget_ms) == (device, budget)]
        fp32 = next((r for r in results if r.variant == BASELINE), None)
        excluded, eligible = {}, []
        for r in results:
            why, drop = accuracy_verdict(accuracy, device, r.variant)
            if why is None and fp32 is not None and r is not fp32 and \
                    r.capacity_per_s <= fp32.capacity_per_s * (1 + r.search_step):
                why = (f"capacity {r.capacity_per_s:.1f}/s is not above {BASELINE}'s {fp32.capacity_per_s:.1f}/s by "
                       f"more than the search's step ({100 * r.search_step:.0f}%)")
            if why:
                excluded[r.variant] = why
            else:
                eligible.append((r, drop))
        pool = eligible or ([(fp32, 0.0)] if fp32 else [(results[0], None)])
        best, drop = max(pool, key=lambda pair: pair[0].capacity_per_s)
        ratio = best.capacity_per_s / fp32.capacity_per_s if fp32 and fp32.capacity_per_s else math.nan
        recommendations.append(Recommendation(best.scenario, best.variant, ratio, (ratio, ratio), None, drop,
                                              excluded, result=best))
    return recommendations


def nearest_cell(recommendations: list[Recommendation], device: str, batch_size: int,
                 median_tokens: float) -> Recommendation | None:
    """The fixed cell of this device and batch size nearest (in log length) to the traffic's median length."""
    found = [r for r in recommendations if isinstance(r.result, LatencyResult)
             and (r.result.device, r.result.batch_size) == (device, batch_size)]
    if not found or not median_tokens or math.isnan(median_tokens):
        return None
    return min(found, key=lambda r: abs(math.log(r.result.seq_len / median_tokens)))
