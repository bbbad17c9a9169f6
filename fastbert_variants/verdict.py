"""The verdict: what a run recommends, one line per scenario's answer, and what it did not measure.

The last block a run prints (at most about 16 lines of 100 columns: the tables stay above it), the Markdown of
a CI step summary, and `recommendation.json`, a typed, versioned record (`recommendation.schema.json` beside
this module) that a deployment script can read instead of the terminal. Built from the Report's
recommendations, so it says exactly what the report's blocks say, shorter.
"""

from __future__ import annotations

import json
import math
import textwrap
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .report import Report
from .scenarios import SCENARIOS

KIND, FORMAT = "recommendation", 1
WIDTH = 100
SCHEMA_FILE = Path(__file__).with_name("recommendation.schema.json")
GLOSSARY = "docs/glossary.md"


@dataclass(frozen=True)
class Pick:
    """One scenario's answer at one place (a fixed cell, an offline batch size, a server budget)."""

    scenario: str
    where: str
    variant: str
    figure: str  # the scenario's own words for the figure (a speedup and its interval, a capacity)
    speedup_vs_fp32: float | None  # None where no ratio was measured (a server run without torch-fp32)
    ci95: tuple[float, float] | None
    drop_points: float | None  # accuracy drop from torch-fp32; None: not scored in this run
    tied_with: tuple[str, ...] = ()


@dataclass(frozen=True)
class Verdict:
    picks: tuple[Pick, ...]
    not_measured: dict[str, str] = field(default_factory=dict)  # variant -> why this run did not time it
    machine: str = ""
    model: str | None = None
    threads: int | None = None
    versions: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"kind": KIND, "format": FORMAT, "machine": self.machine, "model": self.model, "threads": self.threads,
                "versions": self.versions, "picks": [asdict(p) for p in self.picks], "not_measured": self.not_measured}

    @classmethod
    def from_json(cls, data: dict) -> Verdict:
        picks = tuple(Pick(**{**p, "ci95": tuple(p["ci95"]) if p["ci95"] else None, "tied_with": tuple(p["tied_with"])})
                      for p in data["picks"])
        return cls(picks, dict(data["not_measured"]), data["machine"], data["model"], data["threads"],
                   dict(data["versions"]))


def _finite(value) -> float | None:
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


def verdict_of(report: Report, not_measured: dict[str, str] | None = None) -> Verdict:
    run, picks = report.run, []
    for scenario in SCENARIOS:
        for rec in report.recommendations.get(scenario.name, []):
            speedup = _finite(rec.speedup)
            ci95 = tuple(map(float, rec.ci95)) if speedup is not None and all(map(_finite, rec.ci95)) else None
            picks.append(Pick(scenario.name, rec.cell, rec.variant, scenario.figure(rec), speedup, ci95,
                              rec.drop_points, tuple(rec.tied_with)))
    return Verdict(tuple(picks), dict(not_measured or {}), run.machine_kind if run.machine else "", run.model,
                   run.threads, {k: v for k, v in (run.machine.get("versions") or {}).items() if v})


def _accuracy(pick: Pick) -> str:
    return "accuracy not scored" if pick.drop_points is None else f"drop {pick.drop_points:.2f} pts"


def lines(verdict: Verdict) -> list[str]:
    """The block's lines, each at most WIDTH columns."""
    where = max((len(p.where) for p in verdict.picks), default=0)
    variant = max((len(p.variant) for p in verdict.picks), default=0)
    shown = ["speedup over torch-fp32 [95% CI]; accuracy drop from torch-fp32 in points"]
    for p in verdict.picks:
        tie = f", tied with {len(p.tied_with)}" if p.tied_with else ""
        line = f"{p.where:<{where}}  {p.variant:<{variant}}  {p.figure}; {_accuracy(p)}{tie}"
        shown.append(_fit(line))
    if not verdict.picks:
        shown.append("nothing timed in this run: no recommendation")
    if verdict.not_measured:
        reasons = sorted(set(verdict.not_measured.values()), key=list(verdict.not_measured.values()).index)
        said = "; ".join(f"{', '.join(v for v, why in verdict.not_measured.items() if why == reason)} ({reason})"
                         for reason in reasons)
        shown += textwrap.wrap(f"not measured, so not among the answers: {said}", WIDTH,
                               subsequent_indent="  ", max_lines=4, placeholder=" ...")
    shown.append(_fit(f"why each one, and each one not chosen: the lines above the tables; the words: {GLOSSARY}"))
    return shown


def _fit(line: str) -> str:
    """The line cut to WIDTH columns, its alignment kept (textwrap.shorten would collapse the padding)."""
    return line if len(line) <= WIDTH else line[:WIDTH - 4] + " ..."


def markdown(verdict: Verdict) -> str:
    """The verdict as a CI step summary: a table, then what was not measured."""
    rows = ["| where | recommended | figure | accuracy |", "|---|---|---|---|"]
    rows += [f"| {p.where} | `{p.variant}` | {p.figure} | {_accuracy(p)} |" for p in verdict.picks]
    out = [f"### fastbert-variants: verdict ({verdict.machine}, model {verdict.model})", "", *rows, ""]
    if verdict.not_measured:
        out += ["Not measured, so not among the answers:", "",
                *(f"- `{v}`: {why}" for v, why in verdict.not_measured.items()), ""]
    return "\n".join(out)


def write_json(verdict: Verdict, path: Path) -> Path:
    from .files import write_atomically

    write_atomically(path, json.dumps(verdict.to_json(), indent=1))
    return path
