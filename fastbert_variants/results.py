"""The suite's results as typed records: what a test measured, written to and read back from JSON.

One frozen dataclass per kind of result. `to_json` gives the flat dict that lands in pytest-benchmark's
`extra_info` (its keys are the ones every earlier run wrote, so `--benchmark-compare`, old histories and
`fastbert-variants compare` keep working); `from_json` reads any run this project has written, older
ones without the newer fields included. Nothing outside this module reads a result by a string key.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

from .errors import UserError


class MalformedResult(UserError):
    """A result in a run's JSON lacks a field the suite cannot do without, or holds the wrong type."""

def _take(data: dict, name: str, kind: str, cast=None, default: Any = ..., where: str = "result"):
    """data[name], cast; a one-line error naming the field when it is missing (and has no default) or mistyped."""
    if name not in data or data[name] is None:
        if default is ...:
            raise MalformedResult(f"a {kind} {where} has no {name!r}; it was not written by this suite "
                                  "(rerun the benchmarks to write it again)")
        return default
    value = data[name]
    if cast is None:
        return value
    try:
        return cast(value)
    except (TypeError, ValueError):
        raise MalformedResult(f"a {kind} {where}'s {name!r} is {value!r}, not a {cast.__name__}") from None


@dataclass(frozen=True)
class Speedup:
    """A variant's speedup over FP32 from interleaved ABBA blocks in one run: median block ratio and its 95% CI."""

    median: float
    ci95: tuple[float, float]
    blocks: int = 0
    calls_per_block: int = 0
    ratios: tuple[float, ...] = ()
    pause_s: float | None = None
    order: str = "ABBA"

    @classmethod
    def of_baseline(cls) -> Speedup:
        return cls(1.0, (1.0, 1.0))

    @property
    def beyond_noise(self) -> bool:
        """Faster than FP32 beyond noise: the interval's lower end is above 1."""
        return self.ci95[0] > 1.0

    def text(self) -> str:
        return f"{self.median:.2f} [{self.ci95[0]:.2f}-{self.ci95[1]:.2f}]"

    def to_json(self) -> dict:  # the keys every run has written for a cell's speedup, beside the result's own
        return {"speedup_vs_fp32": self.median, "speedup_ci95": list(self.ci95), "speedup_blocks": self.blocks,
                "speedup_block_ratios": list(self.ratios), "speedup_calls_per_block": self.calls_per_block,
                "interleave_pause_s": self.pause_s}

    @classmethod
    def from_json(cls, data: dict, kind: str = "latency") -> Speedup:
        median = _take(data, "speedup_vs_fp32", kind, float)
        ci95 = _take(data, "speedup_ci95", kind, default=[median, median])
        if not (isinstance(ci95, list | tuple) and len(ci95) == 2):
            raise MalformedResult(f"a {kind} result's 'speedup_ci95' is {ci95!r}, not [low, high]")
        return cls(median, (float(ci95[0]), float(ci95[1])), int(data.get("speedup_blocks") or 0),
                   int(data.get("speedup_calls_per_block") or 0),
                   tuple(float(x) for x in data.get("speedup_block_ratios") or ()), data.get("interleave_pause_s"))


@dataclass(frozen=True)
class Roofline:
    """Achieved GFLOP/s (GOP/s for int8) of a timed cell against this machine's GEMM peak for its precision."""

    gflop_per_call: float | None = None
    achieved_gflops: float | None = None
    peak_gflops: float | None = None
    peak_precision: str | None = None
    share_of_peak: float | None = None

    def to_json(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_json(cls, data: dict) -> Roofline:
        return cls(**{f.name: data.get(f.name) for f in fields(cls)})


@dataclass(frozen=True)
class LatencyResult:
    """One variant timed on one fixed cell (device, batch size, every row exactly seq_len tokens)."""

    KIND: ClassVar[str] = "latency"

    variant: str
    device: str
    batch_size: int
    seq_len: int
    median_ms: float
    speedup: Speedup
    threads: int | None = None
    model: str | None = None
    rounds: int | None = None
    warmup_rounds: int | None = None
    size_mb: float | None = None
    peak_mem_mb: float | None = None
    build_s: float | None = None  # the cache entry's first build (a cache hit keeps the first figure)
    compile_s: float | None = None  # this cell's compile, in warm-up (compiled variants)
    speedup_sequential: float | None = None  # FP32's own median in this cell over this one: checks the interleave
    roofline: Roofline = field(default_factory=Roofline)
    slow_here: str | None = None
    sync: str | None = None
    runner_info: dict = field(default_factory=dict)  # what the runtime says of itself (providers, load_seconds, ...)
    kernels: dict = field(default_factory=dict)  # the attention kernel one profiled call saw

    @property
    def cell(self) -> str:
        return f"{self.device}-b{self.batch_size}-s{self.seq_len}"

    @property
    def samples_per_s(self) -> float:
        return self.batch_size / (self.median_ms / 1e3)

    @property
    def load_seconds(self) -> float | None:  # set by runners kept in the store: this run's load of a cache hit
        return self.runner_info.get("load_seconds")

    def to_json(self) -> dict:
        return {"kind": self.KIND, "variant": self.variant, "device": self.device, "batch_size": self.batch_size,
                "seq_len": self.seq_len, "cell": self.cell, "threads": self.threads, "median_ms": self.median_ms,
                "samples_per_s": self.samples_per_s, "tokens_per_s": self.samples_per_s * self.seq_len,
                "size_mb": self.size_mb, "peak_mem_mb": self.peak_mem_mb, "build_s": self.build_s,
                "compile_s": self.compile_s, **self.speedup.to_json(), "rounds": self.rounds,
                "speedup_sequential": self.speedup_sequential, "warmup_rounds": self.warmup_rounds,
                "model": self.model, "runner_info": self.runner_info, "kernels": self.kernels, "sync": self.sync,
                **self.roofline.to_json(), "slow_here": self.slow_here}

    @classmethod
    def from_json(cls, data: dict) -> LatencyResult:
        kind = cls.KIND
        return cls(
            variant=_take(data, "variant", kind, str), device=_take(data, "device", kind, str),
            batch_size=_take(data, "batch_size", kind, int), seq_len=_take(data, "seq_len", kind, int),
            median_ms=_take(data, "median_ms", kind, float), speedup=Speedup.from_json(data, kind),
            threads=data.get("threads"), model=data.get("model"), rounds=data.get("rounds"),
            warmup_rounds=data.get("warmup_rounds"), size_mb=data.get("size_mb"), peak_mem_mb=data.get("peak_mem_mb"),
            build_s=data.get("build_s"), compile_s=data.get("compile_s"),
            speedup_sequential=data.get("speedup_sequential"), roofline=Roofline.from_json(data),
            slow_here=data.get("slow_here"), sync=data.get("sync"), runner_info=data.get("runner_info") or {},
            kernels=data.get("kernels") or {})


@dataclass(frozen=True)
class OfflineResult:
    """The offline scenario: a variant scoring the dataset's own texts, batched, in steady state, against FP32.

    `speedup` is the median over blocks of (FP32's seconds / the variant's) on the same chunk of texts, chunks
    interleaved ABBA; `texts_per_s` comes from the variant's steady passes alone. `first_pass_s` is its first
    pass over this traffic in the process (new shapes met, plans made, kernels chosen), never mixed in.
    """

    KIND: ClassVar[str] = "offline"

    variant: str
    device: str
    batch_size: int
    strategy: str  # "dynamic" (arrival order, each batch padded to its longest) or "length-buckets" (sorted first)
    texts: int
    texts_per_s: float
    speedup: Speedup
    fp32_texts_per_s: float
    first_pass_s: float
    steady_passes: int
    padding_waste: float
    median_tokens: float  # of the traffic's texts, after truncation
    threads: int | None = None
    model: str | None = None

    @property
    def scenario(self) -> str:
        return f"{self.device}-offline-b{self.batch_size}-{self.strategy}"

    @property
    def first_pass_texts_per_s(self) -> float:
        return self.texts / self.first_pass_s if self.first_pass_s else float("nan")

    def to_json(self) -> dict:
        return {"kind": self.KIND, "variant": self.variant, "device": self.device, "batch_size": self.batch_size,
                "strategy": self.strategy, "scenario": self.scenario, "texts": self.texts,
                "texts_per_s": self.texts_per_s, **self.speedup.to_json(), "fp32_texts_per_s": self.fp32_texts_per_s,
                "first_pass_s": self.first_pass_s, "steady_passes": self.steady_passes,
                "padding_waste": self.padding_waste, "median_tokens": self.median_tokens, "threads": self.threads,
                "model": self.model}

    @classmethod
    def from_json(cls, data: dict) -> OfflineResult:
        kind = cls.KIND
        return cls(
            variant=_take(data, "variant", kind, str), device=_take(data, "device", kind, str),
            batch_size=_take(data, "batch_size", kind, int), strategy=_take(data, "strategy", kind, str),
            texts=_take(data, "texts", kind, int), texts_per_s=_take(data, "texts_per_s", kind, float),
            speedup=Speedup.from_json(data, kind), fp32_texts_per_s=_take(data, "fp32_texts_per_s", kind, float),
            first_pass_s=_take(data, "first_pass_s", kind, float), steady_passes=_take(data, "steady_passes", kind, int),
            padding_waste=_take(data, "padding_waste", kind, float, 0.0),
            median_tokens=_take(data, "median_tokens", kind, float, float("nan")),
            threads=data.get("threads"), model=data.get("model"))


@dataclass(frozen=True)
class RatePoint:
    """One open-loop load at a fixed Poisson rate: what the server made of it."""

    offered_per_s: float
    sent: int
    answered: int
    errors: int
    p50_ms: float
    p99_ms: float
    achieved_per_s: float

    def to_json(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_json(cls, data: dict) -> RatePoint:  # every field is needed: a point without one judges nothing
        return cls(**{f.name: _take(data, f.name, "server rate point") for f in fields(cls)})


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

    @property
    def scenario(self) -> str:
        return f"{self.device}-server-p99-{self.p99_budget_ms:g}ms"

    def to_json(self) -> dict:
        return {"kind": self.KIND, "variant": self.variant, "device": self.device, "scenario": self.scenario,
                "p99_budget_ms": self.p99_budget_ms, "capacity_per_s": self.capacity_per_s,
                "max_batch_size": self.max_batch_size, "max_wait_ms": self.max_wait_ms,
                "points": [p.to_json() for p in self.points], "settings_tried": self.settings_tried,
                "loads_run": self.loads_run, "search_step": self.search_step, "pinning": self.pinning,
                "threads": self.threads, "model": self.model, "seconds_per_load": self.seconds_per_load}

    @classmethod
    def from_json(cls, data: dict) -> ServerResult:
        kind = cls.KIND
        points = _take(data, "points", kind, default=[])
        if not isinstance(points, list):
            raise MalformedResult(f"a {kind} result's 'points' is {points!r}, not a list")
        return cls(
            variant=_take(data, "variant", kind, str), device=_take(data, "device", kind, str),
            p99_budget_ms=_take(data, "p99_budget_ms", kind, float),
            capacity_per_s=_take(data, "capacity_per_s", kind, float),
            max_batch_size=_take(data, "max_batch_size", kind, int), max_wait_ms=_take(data, "max_wait_ms", kind, float),
            points=tuple(RatePoint.from_json(p) for p in points),
            settings_tried=_take(data, "settings_tried", kind, int, 0), loads_run=_take(data, "loads_run", kind, int, 0),
            search_step=_take(data, "search_step", kind, float, float("nan")),
            pinning=_take(data, "pinning", kind, str, "not recorded"), threads=data.get("threads"),
            model=data.get("model"), seconds_per_load=data.get("seconds_per_load"))


# What each `kind` in a run's JSON reads into (runs.py leaves out the retired kinds of older runs).
RECORDS: dict[str, type] = {r.KIND: r for r in (LatencyResult, OfflineResult, ServerResult)}


def read_result(data: dict):
    """The record for one `extra_info`; a latency result when it names no kind (the oldest runs)."""
    if not isinstance(data, dict):
        raise MalformedResult(f"a result is {type(data).__name__}, not a JSON object")
    kind = data.get("kind", LatencyResult.KIND)
    if kind not in RECORDS:
        raise MalformedResult(f"a result of kind {kind!r}; this suite reads {', '.join(RECORDS)}")
    return RECORDS[kind].from_json(data)
