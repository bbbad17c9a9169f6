"""The test behind the regression gate: does NEW's speedup lie further below BASE's than runs of the same code move?

BASE is the mean ln speedup of n runs (one for `compare BASE NEW`, the last N of a branch for
`--against-history`), NEW one run, and the between-run spread sd (noise.py) has df degrees of freedom. Then
t = (ln NEW - ln BASE) / (sd * sqrt(1 + 1/n)) is Student's t with df when nothing changed (the prediction
interval of one more run), and its lower tail is the one-sided p-value. The p-values of every group and
figure of one comparison are adjusted together with Benjamini-Hochberg (scipy.stats.false_discovery_control):
when nothing changed the chance of any false alarm in the whole comparison is at most the significance, however
many variants and cells are compared, and a real slowdown that shows in a variant's group and its cells
together is not made to pay for every other comparison as it would under Bonferroni.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Allowance:
    """The between-run spread a gate uses for one group or figure, and where it came from."""

    sd: float  # of ln speedup, between runs
    df: int  # its degrees of freedom (Student's t)
    source: str  # "own" (its own runs) or "pooled" (its scenario's groups together)


def lower_p(change: float, allowance: Allowance, bases: int) -> float:
    """One-sided p of a change of ln speedup this low (or lower) when nothing changed."""
    from scipy.stats import t

    return float(t.cdf(change / (allowance.sd * math.sqrt(1 + 1 / bases)), allowance.df))


def adjusted(p_values: list[float]) -> list[float]:
    """Benjamini-Hochberg adjusted p-values, in the same order."""
    if not p_values:
        return []
    from scipy.stats import false_discovery_control

    return [float(p) for p in false_discovery_control(p_values, method="bh")]


def smallest_caught(allowance: Allowance, tests: int, significance: float, bases: int, power: float = 0.9) -> float:
    """The fall of a speedup (0.15: 15% lower) that the gate catches in `power` of tries (9 in 10) when it is the one
    fall among `tests` comparisons (BH's smallest threshold, significance / tests): the critical t, plus the normal
    quantile of the power, in units of the spread of one more run against the mean of `bases` runs."""
    from scipy.stats import norm, t

    spread = allowance.sd * math.sqrt(1 + 1 / bases)
    return 1 - math.exp((t.ppf(significance / max(tests, 1), allowance.df) - norm.ppf(power)) * spread)
