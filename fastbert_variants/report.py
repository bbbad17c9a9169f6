"""What a run says: the recommended variant per cell, the speedup table, and the Markdown summary.

The recommendation per cell is the variant with the highest interleaved speedup over FP32 among
those that (a) passed their accuracy gate on that device and (b) are faster beyond noise: the
lower end of the speedup's 95% interval is above 1. If none qualifies, FP32 itself. When the
fastest one's interval overlaps others', the speedups cannot be told apart in this run: the tie
goes to the smallest accuracy drop, then the smallest size, and the line says it was a tie.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .variants import BASELINE


@dataclass(frozen=True)
class Recommendation:
    cell: str
    variant: str
    speedup: float
    ci95: tuple[float, float]
    median_ms: float
    drop_points: float | None  # None: accuracy was not checked on this device
    excluded: dict[str, str]  # variant -> why it could not be recommended
    tied_with: tuple[str, ...] = ()  # the fastest's interval overlaps these; the tie went to this one
    fastest: str | None = None  # the variant with the highest median, when the tie went to another


LONG_TEXTS = "/long-texts"  # key suffix of a variant's result on the long-text set


def accuracy_verdict(accuracy: dict | None, device: str, variant: str) -> tuple[str | None, float | None]:
    """(why the variant is not eligible or None, its accuracy drop in points or None if unchecked)."""
    if variant == BASELINE:
        return None, 0.0
    if not accuracy or not any(key.startswith(f"{device}/") for key in accuracy):
        return None, None  # nothing scored on this device: eligible, and the report says it is unchecked
    record = accuracy.get(f"{device}/{variant}")
    if record is None:
        return "not scored for accuracy in this run", None
    if not record["passed"]:
        return f"failed its accuracy gate (drop {record['drop_points']:.2f} points)", record["drop_points"]
    long_texts = accuracy.get(f"{device}/{variant}{LONG_TEXTS}")
    if long_texts and not long_texts["passed"]:
        return (f"failed its long-text accuracy gate (drop {long_texts['drop_points']:.2f} points)",
                record["drop_points"])
    return None, record["drop_points"]


def recommend(latency: list[dict], accuracy: dict | None) -> list[Recommendation]:
    recommendations = []
    for cell in dict.fromkeys(r["cell"] for r in latency):
        results = [r for r in latency if r["cell"] == cell]
        excluded, eligible = {}, []
        for r in results:
            why, drop = accuracy_verdict(accuracy, r["device"], r["variant"])
            low, high = r["speedup_ci95"]
            if why is None and r["variant"] != BASELINE and low <= 1.0:
                why = (f"{'slower than' if high < 1.0 else 'not faster beyond noise than'} {BASELINE}: "
                       f"speedup {r['speedup_vs_fp32']:.2f} [95% CI {low:.2f}-{high:.2f}]")
            if why:
                excluded[r["variant"]] = why
            else:
                eligible.append((r, drop))
        baseline = [(r, 0.0) for r in results if r["variant"] == BASELINE]
        fastest, _ = max(eligible or baseline or [(results[0], None)], key=lambda pair: pair[0]["speedup_vs_fp32"])
        tied = [pair for pair in eligible if pair[0]["speedup_ci95"][1] >= fastest["speedup_ci95"][0]]
        best, drop = min(tied or [(fastest, None)], key=_tie_break)
        recommendations.append(Recommendation(
            cell, best["variant"], best["speedup_vs_fp32"], tuple(best["speedup_ci95"]), best["median_ms"], drop, excluded,
            tied_with=tuple(r["variant"] for r, _ in tied if r is not best),
            fastest=fastest["variant"] if fastest is not best else None))
    return recommendations


def _tie_break(pair: tuple[dict, float | None]) -> tuple:
    """Among variants whose speedups cannot be told apart: the smallest accuracy drop, then size, then speed."""
    result, drop = pair
    return (float("inf") if drop is None else round(drop, 2), result.get("size_mb") or float("inf"),
            -result["speedup_vs_fp32"])


def recommendation_lines(recommendations: list[Recommendation]) -> list[str]:
    lines = []
    for rec in recommendations:
        accuracy = ("accuracy NOT checked on this device" if rec.drop_points is None
                    else f"accuracy drop {rec.drop_points:.2f} points, within its gate")
        if rec.variant == BASELINE:
            lines.append(f"{rec.cell}: {BASELINE} ({rec.median_ms:.1f} ms): no variant is both within its accuracy gate "
                         "and faster beyond noise")
        else:
            tie = ""
            if rec.tied_with:
                tie = (f"; a tie with {', '.join(rec.tied_with)} (95% intervals overlap"
                       f"{f', {rec.fastest} has the highest median' if rec.fastest else ''}): "
                       "chosen for the smallest accuracy drop, then size")
            lines.append(f"{rec.cell}: {rec.variant}, {rec.speedup:.2f}x faster than {BASELINE} "
                         f"[95% CI {rec.ci95[0]:.2f}-{rec.ci95[1]:.2f}] (its own median {rec.median_ms:.1f} ms, timed apart); "
                         f"{accuracy}{tie}")
    return lines


def _rows_to_text(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows]


def _rows_to_markdown(rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])] + ["| " + " | ".join(r) + " |" for r in rows[1:]]


def _per_cell_rows(results: list[dict], header: list[str], lead, cell_text, cell_header=str) -> list[list[str]]:
    """One row per variant (leading columns from its first result), one column per cell (cell_text, or '-')."""
    cells = list(dict.fromkeys(r["cell"] for r in results))
    by_key = {(r["variant"], r["cell"]): r for r in results}
    rows = [[*header, *(cell_header(cell) for cell in cells)]]
    for variant in dict.fromkeys(r["variant"] for r in results):
        first = next(r for r in results if r["variant"] == variant)
        rows.append([*lead(first), *(cell_text(by_key[variant, cell]) if (variant, cell) in by_key else "-"
                                     for cell in cells)])
    return rows


def speedup_rows(results: list[dict]) -> list[list[str]]:
    """One row per variant, one column per cell: median speedup over FP32 and its 95% CI; FP32's own ms."""

    def speedup(r: dict) -> str:
        if r["variant"] == BASELINE:
            return f"1.00 ({r['median_ms']:.1f} ms)"
        low, high = r["speedup_ci95"]
        return f"{r['speedup_vs_fp32']:.2f} [{low:.2f}-{high:.2f}]"

    return _per_cell_rows(results, ["variant"], lambda r: [r["variant"]], speedup)


def roofline_rows(results: list[dict]) -> list[list[str]]:
    """One row per variant, one column per cell: achieved GFLOP/s and its share of the peak for its precision."""

    def achieved(r: dict) -> str:
        if r.get("achieved_gflops") is None:
            return "-"
        share = r.get("share_of_peak")
        return f"{r['achieved_gflops']:.1f} ({'-' if share is None else f'{100 * share:.0f}%'})"

    return _per_cell_rows(results, ["variant", "precision"], lambda r: [r["variant"], str(r.get("peak_precision", "-"))],
                          achieved)


def build_rows(results: list[dict]) -> list[list[str]]:
    """Per variant: what this run spent making it (a cache hit: its load), the cache entry's first build, each compile."""

    def build(r: dict) -> list[str]:
        load = r.get("runner_info", {}).get("load_seconds")  # set by variants kept in the cache
        this_run, first = (load, r.get("build_s")) if load is not None else (r.get("build_s"), None)
        return [r["variant"], f"{this_run or 0:.1f}", "-" if first is None else f"{first:.1f}"]

    return _per_cell_rows(results, ["variant", "this run: build or load s", "cache entry first built in s"], build,
                          lambda r: "-" if r.get("compile_s") is None else f"{r['compile_s']:.1f}",
                          cell_header=lambda cell: f"compile s {cell}")


def kernel_rows(results: list[dict]) -> list[list[str]]:
    """One row per variant, one column per cell: the attention kernel SDPA chose (torch variants; '-' for others)."""
    return _per_cell_rows(results, ["variant"], lambda r: [r["variant"]],
                          lambda r: (r.get("kernels") or {}).get("attention_kernel", "-"))


def conditions(results: list[dict], machine: dict | None = None) -> str:
    """The run's conditions: from its results, and the machine facts its machine_info holds (older runs kept them
    in every result)."""
    first = results[0]
    machine = machine or first
    versions = machine.get("versions", {})
    pause = f" pause_between_blocks={first['interleave_pause_s']}s" if first.get("interleave_pause_s") is not None else ""
    gpu = machine.get("gpu_details") or {}
    gpu_facts = "".join(f" {name}={gpu[key]}" for name, key in (("driver", "driver_version"), ("cuda", "cuda"),
                                                                ("cudnn", "cudnn"), ("max_sm_clock", "clocks.max.sm"))
                        if gpu.get(key) is not None)
    sync = next((f"; cuda sync: {r['sync']}" for r in results if r.get("device") == "cuda" and r.get("sync")), "")
    return (f"model={first.get('model')} threads={first['threads']} warmup_rounds={first.get('warmup_rounds')}{pause} "
            f"cpu={machine.get('cpu', '?')} cpu_isa={machine.get('cpu_isa')} gpu={machine.get('gpu')}{gpu_facts} "
            f"torch={versions.get('torch')} onnxruntime={versions.get('onnxruntime')}; same inputs per cell for every "
            f"variant{sync}")


def speedup_table(results: list[dict], machine: dict | None = None) -> str:
    return "\n".join(_rows_to_text(speedup_rows(results)) + [
        conditions(results, machine) + "; >1 is faster than torch-fp32; [95% CI of the median over ABBA blocks]"])


def accuracy_rows(accuracy: dict) -> list[list[str]]:
    rows = [["device/variant", "rows", "accuracy", "FP32", "drop (points)", "drop (% of FP32)", "gate",
             "flips ->wrong/->right", "McNemar p (two-sided; one-sided where gated)", "verdict"]]
    for key, r in accuracy.items():
        c, gate = r["comparison"], r["gate"]
        scored = r.get("rows", "")
        if r.get("rows_in_dataset", scored) != scored:
            scored = f"{scored} of {r['rows_in_dataset']} (sample)"
        rows.append([key, str(scored), f"{r['scores']['accuracy']:.4f}", f"{r['fp32']['accuracy']:.4f}", f"{r['drop_points']:.2f}",
                     f"{r['drop_relative_percent']:.2f}", f"{gate['max_points']:g} pts / {gate['max_relative_percent']:g}%"
                     + (f", p<{gate['significance']:g}" if gate.get("significance") is not None else ""),
                     f"{c['flipped_to_wrong']}/{c['flipped_to_right']}", f"{c['mcnemar_p']:.3g}"
                     + (f" (one-sided {c['mcnemar_worse_p']:.3g})" if gate.get("significance") is not None else ""),
                     "pass" if r["passed"] else "FAIL (advisory)" if r.get("advisory_gate") else "FAIL"])
    return rows


def batching_rows(batching: list[dict]) -> list[list[str]]:
    """Per variant and batch size: samples/s, padding waste and speedup over pad-to-max of each strategy."""
    strategies = list(dict.fromkeys(r["strategy"] for r in batching))
    rows = [["device/variant", "batch", *(f"{s}: samples/s (waste, x pad-to-max)" for s in strategies)]]
    by_key = {(r["device"], r["variant"], r["batch_size"], r["strategy"]): r for r in batching}
    for device, variant, batch_size in dict.fromkeys((r["device"], r["variant"], r["batch_size"]) for r in batching):
        row = [f"{device}/{variant}", str(batch_size)]
        for strategy in strategies:
            r = by_key.get((device, variant, batch_size, strategy))
            speedup = r and r["speedup_vs_pad_to_max"]
            row.append("-" if r is None else f"{r['samples_per_s']:.1f} ({100 * r['padding_waste']:.0f}% pad, "
                       f"{'-' if speedup is None else f'{speedup:.2f}x'})")
        rows.append(row)
    return rows


def serving_rows(serving: list[dict]) -> list[list[str]]:
    rows = [["device/variant", "mode", "requests/s", "p50 ms", "p90 ms", "p99 ms", "texts per model call", "errors"]]
    for r in serving:
        per_call = "-" if r["mean_texts_per_call"] is None else f"{r['mean_texts_per_call']:.1f}"
        rows.append([f"{r['device']}/{r['variant']}", r["mode"], f"{r['requests_per_s']:.1f}", f"{r['p50_ms']:.1f}",
                     f"{r['p90_ms']:.1f}", f"{r['p99_ms']:.1f}", per_call, str(r["errors"])])
    return rows


def text_table(rows: list[list[str]]) -> str:
    return "\n".join(_rows_to_text(rows))


def markdown_summary(run, plots: list[Path]) -> str:
    if not run.latency:
        return _traffic_markdown(run, ["# fastbert-variants report", ""], plots)
    recs = recommend(run.latency, run.accuracy)
    lines = ["# fastbert-variants report", "", "## Recommendation", "",
             "The fastest variant per cell that passed its accuracy gate and is faster than torch-fp32 beyond noise "
             "(lower end of the speedup's 95% interval above 1):", ""]
    lines += [f"- **{line.split(': ', 1)[0]}**: {line.split(': ', 1)[1]}" for line in recommendation_lines(recs)]
    lines += ["", f"Conditions: {conditions(run.latency, run.machine)}.", "",
              "## Speedup over torch-fp32", "",
              "Median ratio of interleaved FP32/variant blocks in the same run, [95% CI]; FP32's own median latency "
              "in its column.", ""]
    lines += _rows_to_markdown(speedup_rows(run.latency))
    if any("achieved_gflops" in r for r in run.latency):
        lines += ["", "## Roofline", "", "Achieved GFLOP/s (GOP/s for int8) per cell, and its share of this machine's "
                  "matrix-multiply peak for the variant's precision, measured in the same session.", ""]
        lines += _rows_to_markdown(roofline_rows(run.latency))
    if run.accuracy:
        lines += ["", "## Accuracy against torch-fp32", ""] + _rows_to_markdown(accuracy_rows(run.accuracy))
    else:
        lines += ["", "## Accuracy", "", "No accuracy JSON was given: nothing above is checked for accuracy."]
    excluded = [(rec.cell, variant, why) for rec in recs for variant, why in rec.excluded.items()]
    if excluded:
        lines += ["", "## Not recommended, and why", ""] + _rows_to_markdown(
            [["cell", "variant", "why"], *([c, v, w] for c, v, w in excluded)])
    return _traffic_markdown(run, lines, plots)


def _traffic_markdown(run, lines: list[str], plots: list[Path]) -> str:
    if run.batching:
        lines += ["", "## Real traffic: padding strategies", "",
                  f"Scoring {run.batching[0]['texts']} texts of the dataset in arrival order; tokenized before timing.", ""]
        lines += _rows_to_markdown(batching_rows(run.batching))
    if run.serving:
        lines += ["", "## Serving (HTTP, concurrent requests of one text)", ""] + _rows_to_markdown(serving_rows(run.serving))
    lines += ["", "## Plots", ""] + [f"![{p.stem}]({p.name})" for p in plots]
    lines += ["", f"Read from: {', '.join(run.sources)}", ""]
    return "\n".join(lines)
