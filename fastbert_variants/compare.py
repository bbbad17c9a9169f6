"""Two runs compared on what does not move with the machine: speedup over FP32 and accuracy.

Absolute latency changes with the runner's speed and load; a variant's speedup over FP32, both
timed interleaved in the same run, far less. So a change regresses a variant when its speedup
falls by more than `max_speedup_loss` (a fraction of the base run's speedup) and beyond noise, or
when its accuracy falls by more than `max_accuracy_drop` points from the base run's or it newly
fails its gate. A variant that the base run measured and the new run did not is a regression too:
a gate that a variant can leave silently is no gate.

"Beyond noise" is a two-sample test on the runs' raw data, the speedup of each interleaved block
(`speedup_block_ratios`, 10 or more per result): one-sided Mann-Whitney U, new below base, at
`significance`. Block ratios are independent draws (each round times FP32 and the variant seconds
apart, in one schedule: timing.py) but not normal: a block that meets a noisy neighbour is an outlier, and a rank test
neither assumes a shape nor lets one outlier decide. The older rule, the two 95% intervals of the
median not meeting, remains for runs written before block ratios were kept (`rule="intervals"`).
"""

from __future__ import annotations

from dataclasses import dataclass

from tabulate import tabulate

from .errors import UserError
from .results import Speedup
from .runs import Run
from .scenarios import SCENARIOS
from .variants import BASELINE

RULES = ("mann-whitney", "intervals")


@dataclass(frozen=True)
class Change:
    what: str  # "speedup" or "accuracy"
    key: str  # "cpu-b1-s128 ort-fp32" or "cpu/ort-fp32"
    base: float | None
    new: float | None
    change: float | None  # relative change of the speedup; points of accuracy
    regressed: bool
    note: str = ""

    def cells(self) -> list[str]:
        fmt = "{:.2f}x" if self.what == "speedup" else "{:.4f}"
        change = ("-" if self.change is None else
                  f"{100 * self.change:+.1f}%" if self.what == "speedup" else f"{self.change:+.2f} pts")
        return ["REGRESSED" if self.regressed else "ok", self.what, self.key,
                "-" if self.base is None else fmt.format(self.base), "-" if self.new is None else fmt.format(self.new),
                change, self.note]


def parse_percent(text: str, option: str) -> float:
    """'10%' or '10' -> 0.10."""
    try:
        value = float(str(text).strip().rstrip("%"))
    except ValueError:
        raise UserError(f"{option} {text!r} is not a percentage; write it as 10% or 10") from None
    if not 0 <= value < 100:
        raise UserError(f"{option} must be between 0% and 100%, got {text!r}")
    return value / 100


def parse_significance(text: str | float) -> float:
    try:
        value = float(text)
    except ValueError:
        raise UserError(f"--significance {text!r} is not a number; write it as 0.01") from None
    if not 0 < value < 1:
        raise UserError(f"--significance must be between 0 and 1, e.g. 0.01; got {text!r}")
    return value


def slower_beyond_noise(base: Speedup, new: Speedup, rule: str, significance: float) -> tuple[bool, str]:
    """Whether NEW's speedup lies below BASE's beyond noise, and what the test said (for the table's note)."""
    base_ratios, new_ratios = base.ratios, new.ratios
    if rule == "mann-whitney" and len(base_ratios) >= 3 and len(new_ratios) >= 3:
        from scipy.stats import mannwhitneyu

        p = float(mannwhitneyu(new_ratios, base_ratios, alternative="less").pvalue)
        return p < significance, f"Mann-Whitney one-sided p={p:.2g} on {len(base_ratios)}/{len(new_ratios)} blocks"
    low, high = base.ci95, new.ci95
    why = "" if rule == "intervals" else " (no block ratios kept: intervals)"
    return high[1] < low[0], f"95% CI {low[0]:.2f}-{low[1]:.2f} -> {high[0]:.2f}-{high[1]:.2f}{why}"


def speedup_changes(base: Run, new: Run, max_speedup_loss: float, rule: str = "mann-whitney",
                    significance: float = 0.01) -> list[Change]:
    if rule not in RULES:
        raise UserError(f"unknown compare rule {rule!r}; use one of {', '.join(RULES)}")
    changes = []
    for scenario in SCENARIOS:  # each scenario's records with a speedup over FP32
        new_by_key = {_where(r): r for r in scenario.speedups(new)}
        for r in scenario.speedups(base):
            if r.variant == BASELINE:
                continue
            key, now = _where(r), new_by_key.get(_where(r))
            if now is None:
                changes.append(Change("speedup", key, r.speedup.median, None, None, True, "not measured in NEW"))
                continue
            relative = now.speedup.median / r.speedup.median - 1
            beyond_noise, note = slower_beyond_noise(r.speedup, now.speedup, rule, significance)
            if relative < -max_speedup_loss and not beyond_noise:
                note += "; within noise"
            changes.append(Change("speedup", key, r.speedup.median, now.speedup.median, relative,
                                  relative < -max_speedup_loss and beyond_noise, note))
    return changes


def _where(result) -> str:
    return f"{result.where} {result.variant}"


def accuracy_changes(base: Run, new: Run, max_accuracy_drop: float) -> list[Change]:
    changes = []
    for key, r in (base.accuracy or {}).items():
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


def compare_runs(base: Run, new: Run, max_speedup_loss: float, max_accuracy_drop: float, rule: str = "mann-whitney",
                 significance: float = 0.01) -> list[Change]:
    """Every comparable figure, regressions first, then by how far it moved."""
    if not any(s.speedups(base) for s in SCENARIOS) and base.accuracy is None:
        raise UserError("BASE holds no results to compare")
    changes = (speedup_changes(base, new, max_speedup_loss, rule, significance)
               + accuracy_changes(base, new, max_accuracy_drop))
    if not changes:  # a gate that compared nothing passes everything
        raise UserError("nothing to compare: BASE holds no variant's speedup over torch-fp32 and no accuracy record; "
                        "give as BASE a run that timed variants beside torch-fp32 or scored them")
    scale = {"speedup": 100.0, "accuracy": 1.0}  # a 1% speedup change weighs like one point of accuracy
    return sorted(changes, key=lambda c: (not c.regressed, -abs((c.change or 0) * scale[c.what])))


def changes_table(changes: list[Change], moved_at: float = 0.02) -> list[str]:
    """Rows that moved (speedup by moved_at or more, accuracy at all) or regressed; a count of the rest."""
    shown = [c for c in changes if c.regressed or c.change is None or
             (abs(c.change) >= moved_at if c.what == "speedup" else c.change != 0)]
    lines = tabulate([c.cells() for c in shown], headers=["verdict", "what", "where", "BASE", "NEW", "change", "note"],
                     tablefmt="plain", disable_numparse=True).splitlines()
    if len(shown) < len(changes):
        lines.append(f"{len(changes) - len(shown)} more unchanged (speedup within {100 * moved_at:.0f}%, "
                     "accuracy identical)")
    return lines


def summary_line(changes: list[Change], max_speedup_loss: float, rule: str, significance: float,
                 max_accuracy_drop: float) -> str:
    """The verdict's last line: how many regressed, and the rules they were judged by."""
    regressed = sum(c.regressed for c in changes)
    test = ("one-sided Mann-Whitney U on the block ratios" if rule == "mann-whitney"
            else "the 95% intervals of the median not meeting")
    return (f"{regressed} regression(s) in {len(changes)} comparisons (speedup over torch-fp32 may fall by "
            f"{100 * max_speedup_loss:.0f}%, and a fall counts only beyond noise: {test}, at {significance:g}; accuracy "
            f"may fall by {max_accuracy_drop:g} points)")
