"""The server scenario: open-loop loads at fixed Poisson rates, and the capacity at a p99 budget they found."""

from __future__ import annotations

from dataclasses import MISSING, dataclass, fields
from typing import ClassVar

from ..errors import shown
from .fields import MalformedResult, count, flag, non_negative, optional_fields, positive, take, text
from .upgrade import FORMAT, upgrade

_POINT_CASTS = {"int": count, "float": non_negative, "bool": flag, "str": text}


@dataclass(frozen=True)
class RatePoint:
    """One open-loop load at a fixed Poisson rate: what the server made of it.

    `errors` counts every request not answered 200; of them, `shed` got 503 (queue full), `expired` 504 (past the
    server's deadline), `lost` no answer at all (a client timeout or a broken connection), and `cut` were still in
    flight when a load that may stop early stopped (`stopped_at_s`): more than 1% of its scheduled requests were
    past the budget by then, so its p99 could no longer come within it. The load generator let those go; the p99 of
    such a load is of what was answered by then, a lower bound."""

    offered_per_s: float
    sent: int
    answered: int  # 200, with predictions; p50 and p99 are of these
    errors: int
    p50_ms: float
    p99_ms: float
    achieved_per_s: float
    shed: int = 0
    expired: int = 0
    lost: int = 0
    # How late the load generator itself began its requests (p99, ms): on cores shared with the server it falls
    # behind its schedule, and that lag is inside every latency above. None: a run written before it was kept.
    send_lag_p99_ms: float | None = None
    cut: int = 0
    stopped_at_s: float | None = None  # None: the load ran its whole length
    # A load driven by MLPerf LoadGen (mlperf.py): its verdict, VALID only where its early-stopping estimate of the
    # p99 for the queries run is within the budget; the rate it scheduled; the queries over the budget; its words.
    valid: bool | None = None
    scheduled_per_s: float | None = None
    overlatency: int | None = None
    early_stopping: str | None = None

    def held(self, budget_ms: float) -> bool:
        """Held the rate: every request answered 200, and the p99 within the budget (with LoadGen: provably so, for
        the number of queries run)."""
        if self.valid is not None:
            return self.valid and self.errors == 0 and self.answered == self.sent
        return self.stopped_at_s is None and self.errors == 0 and self.answered == self.sent and self.p99_ms <= budget_ms

    def p99_words(self) -> str:
        if self.valid is not None:
            return (f"p99 {self.p99_ms:.0f} ms, {self.overlatency} of {self.sent} over, LoadGen "
                    f"{'VALID' if self.valid else 'INVALID'}{f', {self.errors} errors' if self.errors else ''}")
        if self.stopped_at_s is None:
            return f"p99 {self.p99_ms:.0f} ms"
        return f"p99 over {self.p99_ms:.0f} ms, stopped at {self.stopped_at_s:.1f} s"

    def to_json(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_json(cls, data: dict) -> RatePoint:
        """Every field checked by its type (a count, a finite number of at least 0, a flag, words); those older runs
        lack take their defaults; a point that is not a JSON object is refused in one line."""
        if not isinstance(data, dict):
            raise MalformedResult(f"a server rate point is {shown(data)}, not a JSON object")
        return cls(**{f.name: take(data, f.name, "server", _POINT_CASTS[f.type.removesuffix(" | None")],
                                 default=... if f.default is MISSING else f.default, where="load")
                      for f in fields(cls)})


def contradicting(points, capacity_per_s: float, budget_ms: float) -> tuple[RatePoint, ...]:
    """Loads whose verdict contradicts a capacity: at or below it and over budget, or above it and held."""
    return tuple(p for p in points if p.held(budget_ms) != (p.offered_per_s <= capacity_per_s))


@dataclass(frozen=True)
class ServerResult:
    """The server scenario: the highest Poisson arrival rate whose p99 stays within the budget, for one variant.

    `capacity_per_s` is that rate under the best batcher setting found (max batch size, max wait); `points` is
    every load the search ran at that setting, and `settings_tried` how many settings it tried in all.
    """

    KIND: ClassVar[str] = "server"

    variant: str
    device: str
    p99_budget_ms: float
    capacity_per_s: float  # 0.0: no rate tried kept its p99 within the budget
    max_batch_size: int
    max_wait_ms: float
    points: tuple[RatePoint, ...]
    settings_tried: int
    loads_run: int
    search_step: float  # relative: two rates a step apart differ by this fraction
    pinning: str  # where the load generator ran, and whether it could keep off the server's cores
    threads: int | None = None
    model: str | None = None
    seconds_per_load: float | None = None
    load_generator: str = "fastbert-variants open loop"  # "MLPerf LoadGen 6.0.17": which one drove the loads
    loadgen_summary: str | None = None  # LoadGen's mlperf_log_summary.txt of the last load at the capacity
    # torch-fp32's capacity at the same batcher setting, its search stepped in turn with this one's, load by load
    # (loadgen.alternating), so that a drift of the machine's speed falls on both. None: torch-fp32 was not served
    # beside it (the quick profile), or this is torch-fp32.
    baseline_capacity_per_s: float | None = None

    @property
    def scenario(self) -> str:
        return f"{self.device}-server-p99-{self.p99_budget_ms:g}ms"

    @property
    def where(self) -> str:
        """Where it was measured, as every table, comparison and history names it."""
        return self.scenario

    @property
    def contradicting(self) -> tuple[RatePoint, ...]:
        """Loads whose verdict contradicts the capacity: at or below it and over budget, or above it and held.

        The search assumes a rate that held would hold again; on a machine whose speed moves within the search
        (a shared VM), it does not, and the capacity is then good to about a step at best."""
        return contradicting(self.points, self.capacity_per_s, self.p99_budget_ms)

    def to_json(self) -> dict:
        return {"kind": self.KIND, "format": FORMAT, "variant": self.variant, "device": self.device, "scenario": self.scenario,
                "p99_budget_ms": self.p99_budget_ms, "capacity_per_s": self.capacity_per_s,
                "max_batch_size": self.max_batch_size, "max_wait_ms": self.max_wait_ms,
                "points": [p.to_json() for p in self.points], "settings_tried": self.settings_tried,
                "loads_run": self.loads_run, "search_step": self.search_step, "pinning": self.pinning,
                "threads": self.threads, "model": self.model, "seconds_per_load": self.seconds_per_load,
                "load_generator": self.load_generator, "loadgen_summary": self.loadgen_summary,
                "baseline_capacity_per_s": self.baseline_capacity_per_s,
                "contradicting_rates": [p.offered_per_s for p in self.contradicting]}  # derived: for readers of the JSON

    @classmethod
    def from_json(cls, data: dict) -> ServerResult:
        kind = cls.KIND
        data = upgrade({"kind": kind, **data})  # an older format's record, brought up to date first
        points = take(data, "points", kind)
        if not isinstance(points, list):
            raise MalformedResult(f"a {kind} result's 'points' is {shown(points)}, not a list")
        return cls(
            variant=take(data, "variant", kind, str), device=take(data, "device", kind, str),
            p99_budget_ms=take(data, "p99_budget_ms", kind, positive),
            capacity_per_s=take(data, "capacity_per_s", kind, non_negative),
            max_batch_size=take(data, "max_batch_size", kind, int),
            max_wait_ms=take(data, "max_wait_ms", kind, non_negative),
            points=tuple(RatePoint.from_json(p) for p in points),
            settings_tried=take(data, "settings_tried", kind, int), loads_run=take(data, "loads_run", kind, int),
            search_step=take(data, "search_step", kind, positive), pinning=take(data, "pinning", kind, str),
            **optional_fields(cls, data, kind))
