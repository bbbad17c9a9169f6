"""How far a variant's speedup over FP32 moves between runs of the same code on one kind of machine.

One run's interleaved blocks see the noise of seconds; between runs the machine's state moves runtimes
unequally (docs/measurements/), and only runs repeated in fresh processes can show by how much. The unit
gated is a *group*: one variant in one scenario on one device (its fixed cells, or its offline batch
sizes), whose figure is the mean of ln(speedup) over its cells. The spread of that mean is measured
across the runs directly, so a machine state that moves every cell of a runtime together is counted, not
divided away by the number of cells. Each cell alone is a figure too, with its own spread.

A group's own spread rests on few runs (5 degrees of freedom from 6); the gate takes the larger of it and
the spread pooled over its scenario's groups, so a group that looked steady by luck is not trusted more.
"""

from __future__ import annotations

import json
import math
import statistics
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .errors import UserError
from .regression import Allowance, smallest_caught
from .runs import Run
from .scenarios import SCENARIOS
from .variants import BASELINE

KIND = "between-run-noise"
FORMAT = 1
# A run during which other processes took more of the machine than this is no replicate of a quiet one: on the Zen 4
# a run with 37% taken by other work put ort-int8-dynamic at 3.61x in a cell where quiet runs said 1.83-2.51x.
BUSY_SHARE = 0.10


def figures(run: Run, variants: set[str] | None = None) -> dict[str, dict[str, float]]:
    """{group: {figure: ln speedup}}: every gated speedup of the run (FP32 itself left out), by group.

    A group is "SCENARIO DEVICE VARIANT" (`cells cpu ort-fp32`); a figure "WHERE VARIANT" (`cpu-b1-s128 ort-fp32`)."""
    groups: dict[str, dict[str, float]] = {}
    for scenario in SCENARIOS:
        for record in scenario.speedups(run):
            if record.variant != BASELINE and (variants is None or record.variant in variants):
                groups.setdefault(f"{scenario.name} {record.device} {record.variant}", {})[
                    f"{record.where} {record.variant}"] = math.log(record.speedup.median)
    return groups


def scenario_of(group: str) -> str:
    return group.split(" ", 1)[0]


@dataclass(frozen=True)
class Spread:
    """The between-run standard deviation of one figure's ln speedup (or a group's mean of them) over `runs` runs."""

    sd: float
    runs: int
    median: float  # the speedup itself (a group's: the geometric mean over its cells), median over the runs
    low: float
    high: float

    @classmethod
    def of(cls, values: list[float]) -> Spread:
        return cls(statistics.stdev(values), len(values), math.exp(statistics.median(values)),
                   math.exp(min(values)), math.exp(max(values)))


@dataclass
class Noise:
    """Between-run spreads measured on one kind of machine: per group, per figure, and pooled per scenario."""

    machine_kind: str
    model: str | None
    threads: int | None
    sources: list[str]  # one file per run
    groups: dict[str, Spread]
    figures: dict[str, Spread]
    cells: dict[str, list[str]] = field(default_factory=dict)  # group -> its figures
    pooled: dict[str, tuple[float, int]] = field(default_factory=dict)  # "cells/group", "cells/figure" -> (sd, df)
    left_out: list[str] = field(default_factory=list)  # runs not used, and why (busy machine)

    @property
    def runs(self) -> int:
        return len(self.sources)

    def allowance(self, name: str, scenario: str, group: bool) -> Allowance | None:
        """The larger of the group's (or figure's) own spread and its scenario's pooled one; None if neither is known."""
        own = (self.groups if group else self.figures).get(name)
        pooled = self.pooled.get(f"{scenario}/{'group' if group else 'figure'}")
        if own is None and pooled is None:
            return None
        if pooled is None or (own is not None and own.sd >= pooled[0]):
            return Allowance(own.sd, own.runs - 1, "own")
        return Allowance(pooled[0], pooled[1], "pooled")

    def to_json(self) -> dict:
        return {"kind": KIND, "format": FORMAT, "machine_kind": self.machine_kind, "model": self.model,
                "threads": self.threads, "sources": self.sources,
                "groups": {k: asdict(v) for k, v in self.groups.items()},
                "figures": {k: asdict(v) for k, v in self.figures.items()}, "cells": self.cells,
                "pooled": {k: list(v) for k, v in self.pooled.items()}, "left_out": self.left_out}

    @classmethod
    def from_json(cls, data: dict, path: str = "the noise file") -> Noise:
        if not isinstance(data, dict) or data.get("kind") != KIND:
            raise UserError(f"{path} is not a between-run noise file; write one with fastbert-variants replicate "
                            "(or noise RUN RUN ...)")
        if data.get("format") != FORMAT:
            raise UserError(f"{path} is in format {data.get('format')!r}; this fastbert-variants reads format {FORMAT}")
        try:
            return cls(data["machine_kind"], data.get("model"), data.get("threads"), list(data.get("sources") or []),
                       {k: Spread(**v) for k, v in data["groups"].items()},
                       {k: Spread(**v) for k, v in data["figures"].items()},
                       {k: list(v) for k, v in (data.get("cells") or {}).items()},
                       {k: (float(v[0]), int(v[1])) for k, v in (data.get("pooled") or {}).items()},
                       list(data.get("left_out") or []))
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise UserError(f"{path} is a damaged noise file ({exc}); write it again with fastbert-variants noise") from None


def read_noise(path: str | Path) -> Noise:
    try:
        return Noise.from_json(json.loads(Path(path).read_text()), str(path))
    except FileNotFoundError:
        raise UserError(f"no noise file at {path}; write one with fastbert-variants replicate --out DIR") from None
    except (json.JSONDecodeError, UnicodeDecodeError, IsADirectoryError) as exc:
        raise UserError(f"{path} is not a noise file ({type(exc).__name__}); give the noise.json replicate wrote") from None


def busy(run: Run) -> str | None:
    """Why the run is no measure of a quiet machine, or None."""
    share = run.others_share
    if share is not None and share > BUSY_SHARE:
        return (f"{run.sources[0] if run.sources else 'the run'}: other processes took {100 * share:.1f}% of the "
                f"machine while it measured (over {100 * BUSY_SHARE:.0f}%)")
    return None


def measure_noise(runs: list[Run]) -> Noise:
    """The spreads of runs of the same code (2 or more): refused when they are not runs of one setup; a run of a
    busy machine is left out, and said to be."""
    left_out = [why for why in map(busy, runs) if why]
    runs = [run for run in runs if not busy(run)]
    if len(runs) < 2:
        raise UserError(f"between-run noise needs 2 runs or more of a quiet machine, got {len(runs)}"
                        + (f" ({len(left_out)} left out: {'; '.join(left_out)})" if left_out else ""))
    from .comparable import differences

    for other in runs[1:]:
        different = differences(runs[0], other)
        if different:
            raise UserError(f"{other.sources[0]} is not a replicate of {runs[0].sources[0]}: {'; '.join(different)}")
    per_run = [figures(run) for run in runs]
    groups: dict[str, Spread] = {}
    single: dict[str, Spread] = {}
    cells_of: dict[str, list[str]] = {}
    for group in per_run[0]:
        cells = [f for f in per_run[0][group] if all(f in p.get(group, {}) for p in per_run)]
        if not cells:
            continue
        cells_of[group] = cells
        groups[group] = Spread.of([statistics.fmean(p[group][f] for f in cells) for p in per_run])
        for f in cells:
            single[f] = Spread.of([p[group][f] for p in per_run])
    if not groups:
        raise UserError(f"{', '.join(runs[0].sources)} hold no speedup over torch-fp32 that every run measured: "
                        "nothing to spread; replicate the timed tests (fixed cells, offline) with torch-fp32 in them")
    pooled = {}
    for scenario in sorted({scenario_of(g) for g in groups}):
        for what, spreads in (("group", [s for g, s in groups.items() if scenario_of(g) == scenario]),
                              ("figure", [single[f] for g in groups if scenario_of(g) == scenario
                                          for f in cells_of[g]])):
            df = sum(s.runs - 1 for s in spreads)
            pooled[f"{scenario}/{what}"] = (math.sqrt(sum((s.runs - 1) * s.sd ** 2 for s in spreads) / df), df)
    return Noise(runs[0].machine_kind, runs[0].model, runs[0].threads, [s for r in runs for s in r.sources[:1]],
                 groups, single, cells_of, pooled, left_out)


def noise_table(noise: Noise, significance: float = 0.01) -> list[str]:
    """Per group: its speedup across the runs, its between-run spread, and the smallest fall the gate catches in 9
    of 10 tries, one run against one (`compare BASE NEW --noise`) or against the mean of as many runs as these
    (`--against-history`), among as many gated comparisons as a run of these groups makes."""
    from tabulate import tabulate

    rows, tests = [], len(noise.groups)
    for name, spread in sorted(noise.groups.items()):
        allowance = noise.allowance(name, scenario_of(name), group=True)
        rows.append([name, f"{spread.median:.2f}x", f"{spread.low:.2f}-{spread.high:.2f}", f"{100 * spread.sd:.1f}%",
                     f"{100 * allowance.sd:.1f}% ({allowance.source})",
                     f"{100 * smallest_caught(allowance, tests, significance, bases=1):.0f}%",
                     f"{100 * smallest_caught(allowance, tests, significance, bases=noise.runs):.0f}%"])
    headers = ["group", "speedup", f"range over {noise.runs} runs", "between-run sd", "gate uses",
               "fall caught 9 in 10: vs 1 run", f"vs {noise.runs} runs"]
    return tabulate(rows, headers=headers, tablefmt="plain", disable_numparse=True).splitlines()


DEFAULT_FILE = Path(__file__).with_name("noise_default.json")


def conservative(noise: Noise) -> Noise:
    """The package's default: per scenario, the widest spread any group (and any cell) showed, nothing per variant.
    For a machine nobody measured, wider than most groups need: a false alarm costs more trust than a miss."""
    pooled = {}
    for scenario in {scenario_of(g) for g in noise.groups}:
        groups = [g for g in noise.groups if scenario_of(g) == scenario]
        for what, spreads in (("group", [noise.groups[g] for g in groups]),
                              ("figure", [noise.figures[f] for g in groups for f in noise.cells.get(g, ())])):
            widest = max(spreads, key=lambda s: s.sd)
            pooled[f"{scenario}/{what}"] = (widest.sd, widest.runs - 1)
    return Noise(noise.machine_kind, noise.model, noise.threads, noise.sources, {}, {}, {}, pooled)


def choose(path: str | None, bases: list[Run], new: Run, allowed: tuple[str, ...] = ()) -> tuple[Noise, str]:
    """The spread a comparison is judged by, and how the verdict names it: a noise file given, else the base runs
    themselves (3 or more, from the history), else the package's default."""
    if path:
        noise = read_noise(path)
        different = [f"{aspect}: {had} in the noise file, {now} in NEW" for aspect, had, now in
                     (("machine", noise.machine_kind, new.machine_kind), ("model", noise.model, new.model))
                     if had and now and had != now and aspect not in allowed]
        if different:
            raise UserError(f"{path} was measured on another setup: {'; '.join(different)}; measure this one with "
                            "fastbert-variants replicate, or pass --allow-different machine,model knowingly")
        return noise, f"of {noise.runs} replicate runs on {noise.machine_kind} ({path})"
    why_not = ""
    if len(bases) >= 3:
        quiet = [run for run in bases if not busy(run)]
        if len(quiet) >= 2:
            measured = measure_noise(bases)
            return measured, f"of the {measured.runs} base runs themselves" + (
                f" ({len(measured.left_out)} busy one(s) left out)" if measured.left_out else "")
        why_not = f" (the base runs' own: {len(bases) - len(quiet)} of {len(bases)} ran on a busy machine)"
    noise = read_noise(DEFAULT_FILE)
    here = "this kind of machine" if noise.machine_kind == new.machine_kind else "not this machine"
    return noise, (f"widest over {noise.runs} replicate runs on {noise.machine_kind}, the package's default ({here}: "
                   f"measure yours with fastbert-variants replicate, then --noise){why_not}")
