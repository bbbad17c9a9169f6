"""A scenario: one way of putting the variants to work and judging them (fixed cells, offline traffic, a server).

The second extension point beside the variant family. A scenario is one module that owns its cases, its
measurement, its record, its recommendation, its table rows, its plots and its summary lines behind this
small interface; the pytest plugin, the report, `compare` and the history loop over SCENARIOS, which
finds scenarios as the variant registry finds families: through an entry point (`fastbert_variants.scenarios`),
this package's own first. Adding one: a module, an entry point, and a test that asks it to measure.
"""

from __future__ import annotations

import logging
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import import_module, metadata
from typing import Any, ClassVar

from ..errors import UserError
from ..results import register_record

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "fastbert_variants.scenarios"
OWN_DISTRIBUTION = "fastbert-variants"


class NotMeasured(Exception):
    """This case cannot be measured in this session (no shortlisted variant to serve, no batch of that length): its
    test skips with the reason, as a variant that cannot run here does."""


@dataclass(frozen=True)
class Measured:
    """What a scenario's measure gives its test: the record (None with timing off: the variant ran and was checked
    only) and what is wrong with what it measured (outputs not FP32's within the recipe's tolerance, requests lost)."""

    record: Any | None
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None

    @property
    def info(self) -> dict:
        """What pytest-benchmark keeps as the test's extra_info (read back by runs.load_run)."""
        return {} if self.record is None else self.record.to_json()


class Timer:
    """Times a callable as the front end wants its figure kept; this one: wall clock, the median of the rounds."""

    enabled = True

    def time(self, group: str, fn: Callable, args: tuple = (), rounds: int = 1) -> tuple[float, int] | None:
        """(median seconds, rounds); None when timing is off (the callable then runs once)."""
        seconds = []
        for _ in range(rounds):
            started = time.perf_counter()
            fn(*args)
            seconds.append(time.perf_counter() - started)
        return statistics.median(seconds), rounds


class BenchmarkTimer(Timer):
    """pytest-benchmark's fixture as a Timer: its figure is the test's (what --benchmark-compare compares)."""

    def __init__(self, benchmark):
        self.benchmark = benchmark
        self.enabled = bool(benchmark.enabled)

    def time(self, group, fn, args=(), rounds=1):
        self.benchmark.group = group
        self.benchmark.pedantic(fn, args=args, rounds=rounds, iterations=1)
        if not self.enabled:
            return None
        stats = self.benchmark.stats.stats
        return stats.median, stats.rounds


class Scenario:
    """The interface every scenario implements; the defaults are what a scenario without that part shows."""

    name: ClassVar[str]  # its key in the report's JSON ("cells", "offline", "server")
    record: ClassVar[type]  # its record class: KIND, where, variant, device, to_json, from_json
    case_fixture: ClassVar[str]  # the pytest fixture its test takes its cases from ("latency_case")
    order: ClassVar[int] = 100  # its place in the report, lowest first

    def cases(self, selection, devices: list[str]) -> list:
        """Its cases for this selection (plan.Selection) and these devices; each has an id, a device and a variant
        (None if it is known only once it runs), and SCENARIO, this scenario's name."""
        raise NotImplementedError

    def measure(self, session, case, timer: Timer) -> Measured:
        """Measure one case; the record is kept in session.run. Raises NotMeasured or VariantUnavailable to skip."""
        raise NotImplementedError

    def recommend(self, run) -> list:
        """Its recommendations (common.Recommendation) from a run's records."""
        return []

    def block(self, run, recommendations: list) -> tuple[str, list[str]] | None:
        """(title, one line per recommendation) for the report's head, or None."""
        return None

    def figure(self, recommendation) -> str:
        """The recommendation's figure in a few words, for the verdict (verdict.py): its speedup over FP32."""
        low, high = recommendation.ci95
        return f"{recommendation.speedup:.2f}x [{low:.2f}-{high:.2f}]"

    def tables(self, run) -> list[tuple[str, list[list[str]]]]:
        """(title, rows with the header first) of its records."""
        return []

    def plots(self, run, recommendations: list) -> list[tuple[Callable, tuple, str]]:
        """(draw, its arguments before the path, file name) per plot its records allow."""
        return []

    def speedups(self, run) -> list:
        """Its records whose speedup over FP32 a comparison of two runs gates (each has .where and .speedup)."""
        return []


class Scenarios:
    """Scenarios by name, in report order; entry points imported on first read (another distribution's one that
    fails to import is left out with a warning, as a family is)."""

    def __init__(self) -> None:
        self._scenarios: dict[str, Scenario] = {}
        self._loaded = False

    def add(self, scenario: Scenario) -> Scenario:
        if scenario.name in self._scenarios:
            raise ValueError(f"scenario {scenario.name!r} is registered twice")
        register_record(scenario.record)
        self._scenarios[scenario.name] = scenario
        self._scenarios = dict(sorted(self._scenarios.items(), key=lambda item: item[1].order))
        return scenario

    def load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        found = list(metadata.entry_points(group=ENTRY_POINT_GROUP))
        if not found:
            raise UserError(f"no scenario is installed (no `{ENTRY_POINT_GROUP}` entry points): install the package, "
                            "`pip install -e .` in a checkout")
        own = [ep for ep in found if _distribution(ep) == OWN_DISTRIBUTION]
        for ep in own + sorted((ep for ep in found if _distribution(ep) != OWN_DISTRIBUTION), key=_distribution):
            try:
                module, _, attribute = ep.value.partition(":")
                scenario = getattr(import_module(module), attribute or "SCENARIO")
                if scenario.name not in self._scenarios:
                    self.add(scenario)
            except Exception as exc:
                if _distribution(ep) == OWN_DISTRIBUTION:
                    raise
                log.warning("scenario %s (from %s) failed to load and is left out: %s: %s", ep.value,
                            _distribution(ep), type(exc).__name__, exc)

    def __getitem__(self, name: str) -> Scenario:
        self.load()
        return self._scenarios[name]

    def __iter__(self) -> Iterator[Scenario]:
        self.load()
        return iter(list(self._scenarios.values()))


def _distribution(ep) -> str:
    return (ep.dist.name if ep.dist else "").lower().replace("_", "-")


SCENARIOS = Scenarios()
