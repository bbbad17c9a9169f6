"""Two runs compared on what does not move with the machine: speedup over FP32 and accuracy.

Absolute latency changes with the runner's speed and load; a variant's speedup over FP32, both timed
interleaved in the same run, far less, but still more between runs than within one: the machine's state
moves runtimes unequally. So a change regresses a variant when its speedup falls by more than
`max_speedup_loss` *and* further than runs of the same code move on this kind of machine (noise.py, the test
in regression.py, every comparison's p-value adjusted together), or when its accuracy falls by more than
`max_accuracy_drop` points or newly fails its gate. Gated are each variant's groups (its fixed cells
together, its offline batch sizes together: a slowdown shows in all of them) and each cell alone. A variant
that BASE measured and NEW did not is a regression too: a gate that a variant can leave silently is no gate.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

from tabulate import tabulate

from .errors import UserError
from .noise import Noise, busy, figures, scenario_of
from .regression import adjusted, lower_p
from .runs import Run
from .scenarios import SCENARIOS


@dataclass(frozen=True)
class Change:
    what: str  # "speedup" (one cell, or a variant's group of cells) or "accuracy"
    key: str  # "cpu-b1-s128 ort-fp32", "cells cpu ort-fp32 (3 cells)" or "cpu/ort-fp32"
    base: float | None
    new: float | None
    change: float | None  # relative change of the speedup; points of accuracy
    regressed: bool
    note: str = ""
    gated: bool = True  # False: one cell of a group, shown; its group is what is gated

    def cells(self) -> list[str]:
        fmt = "{:.2f}x" if self.what == "speedup" else "{:.4f}"
        change = ("-" if self.change is None else
                  f"{100 * self.change:+.1f}%" if self.what == "speedup" else f"{self.change:+.2f} pts")
        return ["REGRESSED" if self.regressed else "ok" if self.gated else "(cell)", self.what, self.key,
                "-" if self.base is None else fmt.format(self.base), "-" if self.new is None else fmt.format(self.new),
                change, self.note]


@dataclass(frozen=True)
class _Test:
    what: str
    key: str
    base: float  # ln speedup (mean over the base runs; a group's: mean over its cells too)
    new: float
    p: float | None  # None: no between-run spread known for it, not gated
    note: str
    gated: bool  # a group; a cell alone is shown with its own p, not gated


def speedup_changes(bases: list[Run], new: Run, max_speedup_loss: float, noise: Noise, significance: float = 0.01,
                    variants: set[str] | None = None) -> list[Change]:
    """Each group of BASE's speedups against NEW's, judged together (regression.py); each cell shown beside it.

    Only the groups are gated: a variant's slowdown shows in all its cells, and their mean moves between runs
    less than any one cell (in the quick profile a b1-s16 cell moved 11-23% between runs of the same code on the
    Zen 4, its group 1-9%), so a group catches a smaller fall; gating the cells too would multiply the comparisons
    the false-alarm rate is shared over and cost the groups that power. A cell's own p is in its row."""
    per_base = [figures(b, variants) for b in bases]
    now_all = figures(new, variants)
    tests, missing = [], []
    for group in sorted({g for b in per_base for g in b}):
        kept = [b[group] for b in per_base if group in b]
        base_cells = {f: statistics.fmean(b[f] for b in kept if f in b) for f in kept[-1]}
        now = now_all.get(group, {})
        missing += [Change("speedup", f, math.exp(v), None, None, True, "not measured in NEW")
                    for f, v in base_cells.items() if f not in now]
        common = [f for f in base_cells if f in now]
        if not common:
            continue
        scenario = scenario_of(group)
        whole = (f"{group} ({len(common)} cells)", group, True, statistics.fmean(base_cells[f] for f in common),
                 statistics.fmean(now[f] for f in common))
        for key, name, is_group, was, is_now in [whole, *((f, f, False, base_cells[f], now[f]) for f in common)]:
            allowance = noise.allowance(name, scenario, is_group)
            p = None if allowance is None else lower_p(is_now - was, allowance, len(kept))
            note = ("no between-run spread known: not gated" if allowance is None else
                    f"between-run sd {100 * allowance.sd:.1f}% ({allowance.source}, df {allowance.df})")
            tests.append(_Test("speedup", key, was, is_now, p, note, is_group))
    gated = [t for t in tests if t.p is not None and t.gated]
    q_of = dict(zip((id(t) for t in gated), adjusted([t.p for t in gated]), strict=True))
    changes = missing
    for t in tests:
        relative = math.exp(t.new - t.base) - 1
        q = q_of.get(id(t))
        beyond_noise = q is not None and q < significance
        note = (t.note if t.p is None else f"{t.note}, p={t.p:.2g}" + (f", adjusted {q:.2g}" if q is not None else
                                                                     ", not gated alone: its group is"))
        if relative < -max_speedup_loss and not beyond_noise and q is not None:
            note += "; within noise"
        changes.append(Change("speedup", t.key, math.exp(t.base), math.exp(t.new), relative,
                              relative < -max_speedup_loss and beyond_noise, note, t.gated))
    return changes


def accuracy_changes(base: Run, new: Run, max_accuracy_drop: float, variants: set[str] | None = None) -> list[Change]:
    changes = []
    for key, r in (base.accuracy or {}).items():
        if variants is not None and r.variant not in variants:
            continue
        now = (new.accuracy or {}).get(key)
        if now is None:
            changes.append(Change("accuracy", key, r.scores.accuracy, None, None, True, "not scored in NEW"))
            continue
        points = 100 * (now.scores.accuracy - r.scores.accuracy)
        newly_failed = r.passed and not now.passed
        notes = [f"drop from NEW's FP32 {now.drop_points:.2f} pts"]
        notes += ["fails its gate in NEW" if newly_failed else "fails its gate in BASE and NEW"] * (not now.passed)
        changes.append(Change("accuracy", key, r.scores.accuracy, now.scores.accuracy, points,
                              -points > max_accuracy_drop or newly_failed, "; ".join(notes)))
    return changes


def compare_runs(bases: list[Run] | Run, new: Run, max_speedup_loss: float, max_accuracy_drop: float, noise: Noise,
                 significance: float = 0.01, variants: set[str] | None = None,
                 base_accuracy: Run | None = None) -> list[Change]:
    """Every comparable figure, regressions first, then by how far it moved. BASE is one run or several (the
    history's last runs: their mean); accuracy is compared with `base_accuracy` (default: the last base run)."""
    bases = [bases] if isinstance(bases, Run) else bases
    if not any(s.speedups(b) for s in SCENARIOS for b in bases) and bases[-1].accuracy is None:
        raise UserError("BASE holds no results to compare")
    changes = (speedup_changes(bases, new, max_speedup_loss, noise, significance, variants)
               + accuracy_changes(base_accuracy or bases[-1], new, max_accuracy_drop, variants))
    if not changes:  # a gate that compared nothing passes everything
        raise UserError("nothing to compare: BASE holds no variant's speedup over torch-fp32 and no accuracy record; "
                        "give as BASE a run that timed variants beside torch-fp32 or scored them")
    scale = {"speedup": 100.0, "accuracy": 1.0}  # a 1% speedup change weighs like one point of accuracy
    return sorted(changes, key=lambda c: (not c.regressed, -abs((c.change or 0) * scale[c.what])))


def changes_table(changes: list[Change], moved_at: float = 0.02) -> list[str]:
    """Rows that moved (speedup by moved_at or more, accuracy at all) or regressed; a count of the rest."""
    shown = [c for c in changes if c.regressed or c.change is None or
             (abs(c.change) >= moved_at if c.what == "speedup" else c.change != 0)]
    shown = [c for c in shown if c.gated] + [c for c in shown if not c.gated]  # the gated rows first
    lines = tabulate([c.cells() for c in shown], headers=["verdict", "what", "where", "BASE", "NEW", "change", "note"],
                     tablefmt="plain", disable_numparse=True).splitlines() if shown else []  # no header over nothing
    if len(shown) < len(changes):
        lines.append(f"{len(changes) - len(shown)} more unchanged (speedup within {100 * moved_at:.0f}%, "
                     "accuracy identical)")
    return lines


def summary_line(changes: list[Change], max_speedup_loss: float, significance: float, max_accuracy_drop: float | None,
                 noise_said: str, allowed: tuple[str, ...] = ()) -> str:
    """The verdict's last line: how many regressed, and the rules they were judged by (accuracy's: None, not compared)."""
    regressed = sum(c.regressed for c in changes)
    gated = sum(c.gated for c in changes)
    knowingly = f"; compared knowingly across different {', '.join(allowed)}" if allowed else ""
    return (f"{regressed} regression(s) in {gated} comparisons (a variant's speedup over torch-fp32 in a scenario, "
            f"its cells together, regresses when it falls by more than {100 * max_speedup_loss:.0f}% and further than "
            f"runs of the same code move: one-sided t against the between-run spread {noise_said}, "
            f"Benjamini-Hochberg over the comparisons at {significance:g}"
            f"{'' if max_accuracy_drop is None else f'; accuracy may fall by {max_accuracy_drop:g} points'}{knowingly})")


def verdict_lines(changes: list[Change], bases: list[Run], new: Run, max_speedup_loss: float, significance: float,
                  max_accuracy_drop: float | None, noise_said: str, allowed: tuple[str, ...] = ()) -> list[str]:
    """What a comparison prints (`compare`, and pytest's --benchmark-compare): the table, a note for each run measured
    on a busy machine (said, not refused: the verdict stands on what was measured, and the reader knows why it may
    move), then the summary line."""
    lines = changes_table(changes)
    for which, run in [("NEW", new), *(("BASE", b) for b in bases)]:
        why = busy(run)
        if why:
            lines.append(f"note: {which} ran on a busy machine: {why}; its speedups moved for that, whatever the code did")
    return lines + [summary_line(changes, max_speedup_loss, significance, max_accuracy_drop, noise_said, allowed)]
