"""What a run says, rendered once for every front end: each scenario's recommendations, then the tables.

`Report(run)` asks every scenario (scenarios/) for its recommendations once, and renders them with the
scenarios' lines and tables to the terminal (the plugin's summary, `fastbert-variants report`), to
Markdown (summary.md) and to JSON. Tables are made by tabulate.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from tabulate import tabulate

from .contention import CpuShare
from .runs import Run
from .scenarios import SCENARIOS, Recommendation
from .tables import accuracy_rows
from .variants import BASELINE
from .variants.ort_session import IDLE_SPIN_S

__all__ = ["Recommendation", "Report", "accuracy_rows"]


def _contention(share) -> str:
    """The run's CPU share line (who else used the cores), where the run recorded one."""
    names = ("seconds", "ours", "others", "steal")
    if not (isinstance(share, dict) and all(isinstance(share.get(n), int | float) for n in names)):
        return ""
    return "; " + CpuShare(**{n: float(share[n]) for n in names}).line()


def _shown_path(source: str) -> str:
    """A source file as an artifact may show it: relative to the working directory, or its name alone (an absolute
    path tells a reader of a published summary about the machine it ran on, and nothing about the run)."""
    path = Path(source)
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):
        return path.name


class Report:
    """A run's recommendations (computed once) and its tables, for the terminal, Markdown and JSON."""

    def __init__(self, run: Run):
        self.run = run

    @cached_property
    def recommendations(self) -> dict[str, list[Recommendation]]:
        """Each scenario's recommendations (those with records in the run), made once, in report order."""
        return {s.name: recs for s in SCENARIOS if (recs := s.recommend(self.run))}

    def draw(self, out: Path | None = None) -> list[Path]:
        """Every plot the run's records allow, scenario by scenario, drawn in `out`; with out=None, only the paths
        they would have (matplotlib is not imported)."""
        planned = [plot for s in SCENARIOS if s.name in self.recommendations
                   for plot in s.plots(self.run, self.recommendations[s.name])]
        if out is None:
            return [Path(name) for _, _, name in planned]
        out.mkdir(parents=True, exist_ok=True)
        return [draw(*arguments, out / name) for draw, arguments, name in planned]

    def conditions(self) -> str:
        """The run's conditions: from its results, and the machine facts its machine_info holds."""
        first, machine = self.run.first, self.run.machine
        versions = machine.get("versions", {})
        pause = ""
        every_timed = [r for s in SCENARIOS for r in s.speedups(self.run)]
        timed = [r for r in every_timed if r.variant != BASELINE]
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
        sync = next((f"; cuda sync: {r.sync}" for r in timed if r.device == "cuda" and getattr(r, "sync", None)), "")
        warmup = next((r.warmup_rounds for r in every_timed if getattr(r, "warmup_rounds", None) is not None), None)
        return (f"model={getattr(first, 'model', None)} threads={getattr(first, 'threads', None)} "
                f"warmup_rounds={warmup}{pause} cpu={machine.get('cpu', '?')}"
                + (f" ({machine['cpu_family_model']})" if machine.get("cpu_family_model") else "")
                + f" cpu_isa={machine.get('cpu_isa')} "
                f"gpu={machine.get('gpu')}{gpu_facts} torch={versions.get('torch')} "
                f"onnxruntime={versions.get('onnxruntime')}; same inputs per cell for every variant{sync}"
                + _contention(machine.get("cpu_share")))

    def blocks(self) -> list[tuple[str, list[str]]]:
        """The recommendation blocks, scenario by scenario: (title, lines)."""
        return [block for s in SCENARIOS if s.name in self.recommendations
                and (block := s.block(self.run, self.recommendations[s.name]))]

    def tables(self) -> list[tuple[str, list[list[str]]]]:
        found = [table for s in SCENARIOS if self.run.of_kind(s.record.KIND) for table in s.tables(self.run)]
        if self.run.accuracy:
            found.append(("accuracy against torch-fp32 on the same rows (gated: the drop)", accuracy_rows(self.run.accuracy)))
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
        excluded = [[rec.cell, v, why] for recs in self.recommendations.values() for rec in recs
                    for v, why in rec.excluded.items()]
        if excluded:
            lines += ["## Not recommended, and why", "",
                      tabulate(excluded, ["where", "variant", "why"], tablefmt="github", disable_numparse=True), ""]
        lines += ["## Plots", "", *(f"![{p.stem}]({p.name})" for p in plots), "",
                  f"Read from: {', '.join(map(_shown_path, self.run.sources))}", ""]
        return "\n".join(lines)

    def to_json(self) -> dict:
        def rec(r: Recommendation) -> dict:
            return {"where": r.cell, "variant": r.variant, "speedup_vs_fp32": r.speedup, "speedup_ci95": list(r.ci95),
                    "drop_points": r.drop_points, "tied_with": list(r.tied_with), "excluded": r.excluded,
                    "head_to_head": [{"variant": h.other, "ratio": h.ratio, "ci95": list(h.ci95), "rounds": h.rounds,
                                      "beats": h.beats} for h in r.paired]}

        return {**{s.name: [rec(r) for r in self.recommendations.get(s.name, [])] for s in SCENARIOS},
                "lines": {title: lines for title, lines in self.blocks()}}
