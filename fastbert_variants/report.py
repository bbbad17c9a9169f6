"""What a run says, rendered once for every front end: the recommendations per scenario, then the tables.

`Report(run)` recommends once (`recommend.py` holds the rules) and renders the same content to the
terminal (the plugin's summary, `fastbert-variants report`), to Markdown (summary.md) and to JSON.
Tables are made by tabulate.
"""

from __future__ import annotations

import math
from functools import cached_property
from pathlib import Path

from tabulate import tabulate

from .contention import CpuShare
from .recommend import OFFLINE_STRATEGY, Recommendation, nearest_cell, recommend, recommend_offline, recommend_server
from .runs import Run
from .tables import (
    accuracy_rows,
    build_rows,
    kernel_rows,
    offline_rows,
    roofline_rows,
    server_rows,
    speedup_rows,
)
from .variants import BASELINE
from .variants.ort_session import IDLE_SPIN_S

__all__ = ["Recommendation", "Report", "accuracy_rows", "recommend", "recommendation_lines"]


def _contention(share) -> str:
    """The run's CPU share line (who else used the cores), where the run recorded one."""
    names = ("seconds", "ours", "others", "steal")
    if not (isinstance(share, dict) and all(isinstance(share.get(n), int | float) for n in names)):
        return ""
    return "; " + CpuShare(**{n: float(share[n]) for n in names}).line()


def _accuracy_words(rec: Recommendation) -> str:
    return ("accuracy NOT checked on this device" if rec.drop_points is None
            else f"accuracy drop {rec.drop_points:.2f} points, within its gate")


def _unsteady_words(r) -> str:
    """Where the search's verdicts contradict each other: the capacity then moved with the machine under it."""
    if not r.contradicting:
        return ""
    said = ", ".join(f"{p.offered_per_s:.1f}/s {'held' if p.held(r.p99_budget_ms) else 'went over'} ({p.p99_words()})"
                     for p in r.contradicting)
    return (f". UNSTEADY: {said}, against the capacity found: this machine's speed moved during the search, so the "
            "capacity is good to about a search step at best; rerun it on a quiet machine, or with longer loads")


def recommendation_lines(recommendations: list[Recommendation]) -> list[str]:
    """The fixed cells' recommendations, one line each."""
    lines = []
    for rec in recommendations:
        accuracy = _accuracy_words(rec)
        if rec.variant == BASELINE:
            lines.append(f"{rec.cell}: {BASELINE} ({rec.median_ms:.1f} ms): no variant is both within its accuracy gate "
                         "and faster beyond noise")
            continue
        tie = ""
        if rec.tied_with:
            tie = (f"; a tie with {', '.join(rec.tied_with)} (95% intervals overlap"
                   f"{f', {rec.fastest} has the highest median' if rec.fastest else ''}): "
                   "chosen for the smallest accuracy drop, then size")
        lines.append(f"{rec.cell}: {rec.variant}, {rec.speedup:.2f}x faster than {BASELINE} "
                     f"[95% CI {rec.ci95[0]:.2f}-{rec.ci95[1]:.2f}] (its own median {rec.median_ms:.1f} ms, timed apart); "
                     f"{accuracy}{tie}")
    return lines


class Report:
    """A run's recommendations (computed once) and its tables, for the terminal, Markdown and JSON."""

    def __init__(self, run: Run):
        self.run = run

    @cached_property
    def cells(self) -> list[Recommendation]:  # each scenario's recommendations, made once
        return recommend(self.run.latency, self.run.accuracy)

    @cached_property
    def offline(self) -> list[Recommendation]:
        return recommend_offline(self.run.offline, self.run.accuracy, self.run.latency)

    @cached_property
    def server(self) -> list[Recommendation]:
        return recommend_server(self.run.server, self.run.accuracy)

    def offline_lines(self) -> list[str]:
        lines = []
        for rec in self.offline:
            r = rec.result
            if rec.variant == BASELINE:
                line = (f"{rec.cell} ({r.texts} of the dataset's texts, median {r.median_tokens:.0f} tokens): {BASELINE} "
                        f"({r.texts_per_s:.1f} texts/s): no variant is both within its accuracy gate and faster beyond noise")
            else:
                tie = f"; a tie with {', '.join(rec.tied_with)}, chosen for the smallest accuracy drop" if rec.tied_with else ""
                line = (f"{rec.cell} ({r.texts} of the dataset's texts, median {r.median_tokens:.0f} tokens, "
                        f"{OFFLINE_STRATEGY} padding): {rec.variant}, {r.texts_per_s:.1f} texts/s, "
                        f"{rec.speedup:.2f}x {BASELINE} [95% CI {rec.ci95[0]:.2f}-{rec.ci95[1]:.2f}]; "
                        f"{_accuracy_words(rec)}{tie}")
            buckets = next((o for o in self.run.offline if (o.device, o.variant, o.batch_size, o.strategy)
                            == (r.device, r.variant, r.batch_size, "length-buckets")), None)
            if buckets is not None:
                line += (f"; sorted into length buckets first: {buckets.texts_per_s:.1f} texts/s "
                         f"({buckets.texts_per_s / r.texts_per_s:.2f}x)")
            lines.append(line + self._against_cells(rec))
        return lines

    def _against_cells(self, rec: Recommendation) -> str:
        """Whether the fixed cell nearest this traffic agrees, and if not, what the traffic does differently."""
        r = rec.result
        cell = nearest_cell(self.cells, r.device, r.batch_size, r.median_tokens)
        if cell is None:
            return f". No fixed cell at batch {r.batch_size} in this run to compare with"
        if cell.variant == rec.variant:
            return f". The fixed cell nearest these lengths ({cell.cell}) agrees"
        theirs = next((o for o in self.run.offline if (o.device, o.variant, o.batch_size, o.strategy)
                       == (r.device, cell.variant, r.batch_size, r.strategy)), None)
        why = [f"the cell has every row at {cell.result.seq_len} tokens, this traffic a median of "
               f"{r.median_tokens:.0f}"]
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

    def server_lines(self) -> list[str]:
        lines = []
        for rec in self.server:
            r = rec.result
            fp32 = next((s for s in self.run.server if (s.device, s.variant, s.p99_budget_ms)
                         == (r.device, BASELINE, r.p99_budget_ms)), None)
            unsteady = f", UNSTEADY: {len(fp32.contradicting)} of its loads contradict it" if fp32 and fp32.contradicting else ""
            versus = (f" ({BASELINE}: {fp32.capacity_per_s:.1f}/s{unsteady}, {rec.speedup:.2f}x)"
                      if fp32 is not None and rec.variant != BASELINE else "")
            lines.append(f"{rec.cell}: {rec.variant}, {r.capacity_per_s:.1f} requests/s of one text each (Poisson "
                         f"arrivals) with p99 within {r.p99_budget_ms:g} ms, batcher max {r.max_batch_size} texts, "
                         f"max wait {r.max_wait_ms:g} ms{versus}; {_accuracy_words(rec)}; searched {r.settings_tried} "
                         f"batcher settings in {r.loads_run} loads{_unsteady_words(r)}")
        return lines

    def conditions(self) -> str:
        """The run's conditions: from its results, and the machine facts its machine_info holds."""
        first, machine = self.run.first, self.run.machine
        versions = machine.get("versions", {})
        pause = ""
        timed = [r for r in [*self.run.latency, *self.run.offline] if r.variant != BASELINE]
        if timed and timed[0].speedup.pause_s is not None:
            speedup = timed[0].speedup
            spin = (f" ({IDLE_SPIN_S}s after an onnxruntime segment: its idle threads spin)"
                    if speedup.pause_s < IDLE_SPIN_S else "")
            pause = (f" interleaving={speedup.order.split(';')[0]} pause_before_each_segment={speedup.pause_s}s{spin} "
                     f"untimed_calls_after_it={speedup.settle_calls}")
        gpu = machine.get("gpu_details") or {}
        gpu_facts = "".join(f" {name}={gpu[key]}" for name, key in (("driver", "driver_version"), ("cuda", "cuda"),
                                                                    ("cudnn", "cudnn"), ("max_sm_clock", "clocks.max.sm"))
                            if gpu.get(key) is not None)
        sync = next((f"; cuda sync: {r.sync}" for r in self.run.latency if r.device == "cuda" and r.sync), "")
        warmup = self.run.latency[0].warmup_rounds if self.run.latency else None
        return (f"model={first.model if first else None} threads={first.threads if first else None} "
                f"warmup_rounds={warmup}{pause} cpu={machine.get('cpu', '?')}"
                + (f" ({machine['cpu_family_model']})" if machine.get("cpu_family_model") else "")
                + f" cpu_isa={machine.get('cpu_isa')} "
                f"gpu={machine.get('gpu')}{gpu_facts} torch={versions.get('torch')} "
                f"onnxruntime={versions.get('onnxruntime')}; same inputs per cell for every variant{sync}"
                + _contention(machine.get("cpu_share")))

    def blocks(self) -> list[tuple[str, list[str]]]:
        """The recommendation blocks, scenario first: (title, lines)."""
        found = []
        if self.offline:
            found.append(("offline: the dataset's texts in batches, steady state (fastest beyond noise, within its "
                          "accuracy gate)", self.offline_lines()))
        if self.server:
            found.append(("server: capacity at the p99 budget, open-loop Poisson load", self.server_lines()))
        if self.cells:
            found.append(("fixed cells: every row exactly seq_len tokens", recommendation_lines(self.cells)))
        return found

    def tables(self) -> list[tuple[str, list[list[str]]]]:
        run, found = self.run, []
        if run.offline:
            found.append(("offline scenario (steady passes interleaved with torch-fp32 on the same texts)",
                          offline_rows(run.offline)))
        if run.server:
            found.append(("server scenario (capacity at the p99 budget)", server_rows(run.server)))
        if run.latency:
            found += [("speedup over torch-fp32 per fixed cell (interleaved median, same run)", speedup_rows(run.latency)),
                      ("roofline (achieved GFLOP/s, share of this machine's GEMM peak for the variant's precision)",
                       roofline_rows(run.latency)),
                      ("build and compile seconds (a second run on the same cache builds nothing)",
                       build_rows(run.latency))]
            if any(r.kernels for r in run.latency):
                found.append(("attention kernel per cell (one profiled call after the timing)", kernel_rows(run.latency)))
        if run.accuracy:
            found.append(("accuracy against torch-fp32 on the same rows (gated: the drop)", accuracy_rows(run.accuracy)))
        return found

    def terminal(self) -> list[tuple[str, str]]:
        """(section title, text) for a terminal: the recommendations, then every table."""
        sections = [(f"recommended, {title}", "\n".join(lines)) for title, lines in self.blocks()]
        sections += [(title, tabulate(rows[1:], rows[0], tablefmt="plain", disable_numparse=True))
                     for title, rows in self.tables()]
        if self.run.measured:
            sections.append(("conditions", self.conditions() + "; >1 is faster than torch-fp32; [95% CI of the "
                             "median over the interleaved rounds]"))
        return sections

    def markdown(self, plots: list[Path]) -> str:
        lines = ["# fastbert-variants report", "", "## Recommendation", ""]
        for title, block in self.blocks():
            lines += [f"### {title[0].upper()}{title[1:]}", "", *(f"- {line}" for line in block), ""]
        if self.run.measured:
            lines += [f"Conditions: {self.conditions()}.", ""]
        if not self.run.accuracy:
            lines += ["No accuracy JSON was given: nothing above is checked for accuracy.", ""]
        for title, rows in self.tables():
            lines += [f"## {title[0].upper()}{title[1:]}", "",
                      tabulate(rows[1:], rows[0], tablefmt="github", disable_numparse=True), ""]
        excluded = [[rec.cell, v, why] for rec in [*self.offline, *self.server, *self.cells]
                    for v, why in rec.excluded.items()]
        if excluded:
            lines += ["## Not recommended, and why", "",
                      tabulate(excluded, ["where", "variant", "why"], tablefmt="github", disable_numparse=True), ""]
        lines += ["## Plots", "", *(f"![{p.stem}]({p.name})" for p in plots), "",
                  f"Read from: {', '.join(self.run.sources)}", ""]
        return "\n".join(lines)

    def to_json(self) -> dict:
        def rec(r: Recommendation) -> dict:
            return {"where": r.cell, "variant": r.variant, "speedup_vs_fp32": r.speedup, "speedup_ci95": list(r.ci95),
                    "drop_points": r.drop_points, "tied_with": list(r.tied_with), "excluded": r.excluded}

        return {"offline": [rec(r) for r in self.offline], "server": [rec(r) for r in self.server],
                "cells": [rec(r) for r in self.cells], "lines": {title: lines for title, lines in self.blocks()}}
