"""Whether two runs (or a run and a noise measurement) can be compared at all: the same model, threads, machine, cells.

A speedup over FP32 is comparable between runs of the same model on the same kind of machine with the same threads
and the same cells; across any of these it moves for reasons no code change made, and a gate that compares them
anyway says nothing. What differs is refused in one line, unless the user allows it knowingly (`--allow-different`),
and then the verdict says so.
"""

from __future__ import annotations

from .errors import UserError
from .options import ASPECTS
from .runs import Run
from .scenarios import SCENARIOS


def cells(run: Run) -> frozenset[str]:
    """Where the run timed its gated speedups: each scenario's cells (`cpu-b1-s128`, `cpu-offline-b8-dynamic`)."""
    return frozenset(r.where for scenario in SCENARIOS for r in scenario.speedups(run))


def _facts(run: Run) -> dict:
    return {"model": run.model, "threads": run.threads, "machine": run.hardware if run.machine else None,
            "cells": cells(run) or None}


def differences(base: Run, new: Run, allowed: tuple[str, ...] = ()) -> list[str]:
    """'threads: 2 in BASE, 64 in NEW', one per aspect that differs (and is not allowed); a fact one side lacks is
    not a difference (an accuracy-only run times no cells)."""
    base_facts, new_facts = _facts(base), _facts(new)
    lines = []
    for aspect in ASPECTS:
        was, now = base_facts[aspect], new_facts[aspect]
        if aspect in allowed or was is None or now is None or was == now:
            continue
        if aspect == "cells":
            lines.append(f"cells: {_cells_text(was - now)} only in BASE, {_cells_text(now - was)} only in NEW "
                         "(another profile or --fastbert-* selection?)")
        else:
            lines.append(f"{aspect}: {was} in BASE, {now} in NEW")
    return lines


def _cells_text(cells: frozenset[str]) -> str:
    shown = sorted(cells)
    return (", ".join(shown[:3]) + (f" and {len(shown) - 3} more" if len(shown) > 3 else "")) if shown else "none"


def refuse_if_different(base: Run, new: Run, allowed: tuple[str, ...], what: str = "BASE and NEW") -> None:
    different = differences(base, new, allowed)
    if different:
        raise UserError(f"{what} are not comparable: {'; '.join(different)}; compare runs of one setup, or pass "
                        f"--allow-different {','.join(d.split(':')[0] for d in different)} to compare them knowingly")
