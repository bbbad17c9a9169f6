"""The tables of a run, as rows of strings (header first) for tabulate: one builder per kind of result."""

from __future__ import annotations

from .variants import BASELINE


def _per_cell_rows(results: list, header: list[str], lead, cell_text, cell_header=str) -> list[list[str]]:
    """One row per variant (leading columns from its first result), one column per cell (cell_text, or '-')."""
    cells = list(dict.fromkeys(r.cell for r in results))
    by_key = {(r.variant, r.cell): r for r in results}
    rows = [[*header, *(cell_header(cell) for cell in cells)]]
    for variant in dict.fromkeys(r.variant for r in results):
        first = next(r for r in results if r.variant == variant)
        rows.append([*lead(first), *(cell_text(by_key[variant, cell]) if (variant, cell) in by_key else "-"
                                     for cell in cells)])
    return rows


def speedup_rows(results) -> list[list[str]]:
    """One row per variant, one column per cell: median speedup over FP32 and its 95% CI; FP32's own ms."""
    return _per_cell_rows(results, ["variant"], lambda r: [r.variant], lambda r: (
        f"1.00 ({r.median_ms:.1f} ms)" if r.variant == BASELINE else r.speedup.text()))


def roofline_rows(results) -> list[list[str]]:
    """One row per variant, one column per cell: achieved GFLOP/s and its share of the peak for its precision."""

    def achieved(r) -> str:
        if r.roofline.achieved_gflops is None:
            return "-"
        share = r.roofline.share_of_peak
        return f"{r.roofline.achieved_gflops:.1f} ({'-' if share is None else f'{100 * share:.0f}%'})"

    return _per_cell_rows(results, ["variant", "precision"], lambda r: [r.variant, str(r.roofline.peak_precision or "-")],
                          achieved)


def build_rows(results) -> list[list[str]]:
    """Per variant: what this run spent making it (a cache hit: its load), the cache entry's first build, each compile."""

    def build(r) -> list[str]:
        this_run, first = (r.load_seconds, r.build_s) if r.load_seconds is not None else (r.build_s, None)
        return [r.variant, f"{this_run or 0:.1f}", "-" if first is None else f"{first:.1f}"]

    return _per_cell_rows(results, ["variant", "this run: build or load s", "cache entry first built in s"], build,
                          lambda r: "-" if r.compile_s is None else f"{r.compile_s:.1f}",
                          cell_header=lambda cell: f"compile s {cell}")


def kernel_rows(results) -> list[list[str]]:
    """One row per variant, one column per cell: the attention kernel SDPA chose (torch variants; '-' for others)."""
    return _per_cell_rows(results, ["variant"], lambda r: [r.variant], lambda r: str(r.kernels.get("attention_kernel", "-")))


def accuracy_rows(accuracy: dict) -> list[list[str]]:
    rows = [["device/variant", "rows", "accuracy", "FP32", "drop (points)", "drop (% of FP32)", "gate",
             "flips ->wrong/->right", "McNemar p (two-sided; one-sided where gated)", "verdict"]]
    for key, r in accuracy.items():  # keyed by AccuracyResult.key
        c, gate = r.comparison, r.gate
        scored = "" if r.rows is None else str(r.rows)
        if r.sampled:
            scored = f"{scored} of {r.rows_in_dataset} (sample)"
        if r.unlabelled_dropped:
            scored = f"{scored} ({r.unlabelled_dropped} unlabelled dropped)"
        rows.append([key, scored, f"{r.scores.accuracy:.4f}", f"{r.fp32.accuracy:.4f}", f"{r.drop_points:.2f}",
                     f"{r.drop_relative_percent:.2f}", gate.text(), f"{c.flipped_to_wrong}/{c.flipped_to_right}",
                     f"{c.mcnemar_p:.3g}" + (f" (one-sided {c.mcnemar_worse_p:.3g})" if gate.significance is not None else ""),
                     r.verdict])
    return rows


def offline_rows(offline) -> list[list[str]]:
    """Per variant and batch size: steady texts/s and speedup over FP32 of each strategy, and the first pass."""
    rows = [["device/variant", "batch", "strategy", "texts/s (steady)", "x torch-fp32 [95% CI]", "first pass s",
             "first pass texts/s", "padding"]]
    for r in offline:
        speedup = "1.00" if r.variant == BASELINE else r.speedup.text()
        rows.append([f"{r.device}/{r.variant}", str(r.batch_size), r.strategy, f"{r.texts_per_s:.1f}", speedup,
                     f"{r.first_pass_s:.2f}", f"{r.first_pass_texts_per_s:.1f}", f"{100 * r.padding_waste:.0f}%"])
    return rows


def server_rows(server) -> list[list[str]]:
    rows = [["device/variant", "p99 budget ms", "capacity req/s", "max batch", "max wait ms", "p99 ms at capacity",
             "settings tried", "loads run", "loads contradicting"]]
    for r in server:
        at = [p for p in r.points if p.offered_per_s == r.capacity_per_s]  # the search's, then the confirmation's
        rows.append([f"{r.device}/{r.variant}", f"{r.p99_budget_ms:g}", f"{r.capacity_per_s:.1f}", str(r.max_batch_size),
                     f"{r.max_wait_ms:g}", " then ".join(f"{'over ' * (p.stopped_at_s is not None)}{p.p99_ms:.1f}"
                                                         for p in at) or "-", str(r.settings_tried),
                     str(r.loads_run), str(len(r.contradicting))])
    return rows
