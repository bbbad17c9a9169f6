"""What the benchmarks time: a speedup over FP32 from interleaved blocks, a fixed cell, the offline scenario."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import ClassVar

from ..errors import shown
from .fields import MalformedResult, optional_fields, positive, take, text
from .upgrade import FORMAT, upgrade


@dataclass(frozen=True)
class Speedup:
    """A variant's speedup over FP32 from interleaved blocks in one run (timing.py): the median of the blocks' ratios and
    its 95% CI; `order` says how the blocks were interleaved."""

    median: float
    ci95: tuple[float, float]
    blocks: int = 0
    calls_per_block: int = 0
    ratios: tuple[float, ...] = ()
    pause_s: float | None = None
    order: str = "ABBA"
    settle_calls: int = 0  # untimed calls at the start of each segment, after the pause

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
                "interleave_pause_s": self.pause_s, "interleave_order": self.order,
                "interleave_settle_calls": self.settle_calls}

    @classmethod
    def from_json(cls, data: dict, kind: str = "latency") -> Speedup:
        median = take(data, "speedup_vs_fp32", kind, positive)
        ci95 = take(data, "speedup_ci95", kind)
        ratios = take(data, "speedup_block_ratios", kind)
        try:
            ci95, ratios = tuple(positive(x) for x in ci95), tuple(positive(x) for x in ratios)
        except (TypeError, ValueError, OverflowError):
            raise MalformedResult(f"a {kind} result's 'speedup_ci95' {shown(ci95)} or 'speedup_block_ratios' are not "
                                  "positive finite numbers") from None
        if len(ci95) != 2:
            raise MalformedResult(f"a {kind} result's 'speedup_ci95' is {shown(ci95)}, not [low, high]")
        return cls(median, ci95, take(data, "speedup_blocks", kind, int), take(data, "speedup_calls_per_block", kind, int),
                   ratios, take(data, "interleave_pause_s", kind, float, None),
                   take(data, "interleave_order", kind, text), take(data, "interleave_settle_calls", kind, int))


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
        return cls(**optional_fields(cls, data, "latency"))


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
    def where(self) -> str:
        """Where it was measured, as every table, comparison and history names it."""
        return self.cell

    @property
    def samples_per_s(self) -> float:
        return self.batch_size / (self.median_ms / 1e3)

    @property
    def load_seconds(self) -> float | None:  # set by runners kept in the store: this run's load of a cache hit
        seconds = self.runner_info.get("load_seconds")  # free-form: a number, or nothing
        return float(seconds) if isinstance(seconds, int | float) and not isinstance(seconds, bool) else None

    def to_json(self) -> dict:
        return {"kind": self.KIND, "format": FORMAT, "variant": self.variant, "device": self.device, "batch_size": self.batch_size,
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
        data = upgrade({"kind": kind, **data})  # an older format's record, brought up to date first
        return cls(
            variant=take(data, "variant", kind, str), device=take(data, "device", kind, str),
            batch_size=take(data, "batch_size", kind, int), seq_len=take(data, "seq_len", kind, int),
            median_ms=take(data, "median_ms", kind, positive), speedup=Speedup.from_json(data, kind),
            roofline=Roofline.from_json(data), **optional_fields(cls, data, kind))


@dataclass(frozen=True)
class OfflineResult:
    """The offline scenario: a variant scoring the dataset's own texts, batched, in steady state, against FP32.

    `speedup` is the median over blocks of (FP32's seconds / the variant's) on the same chunk of texts, chunks
    interleaved (timing.py); `texts_per_s` comes from the variant's own chunks. `first_pass_s` is its first
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
    def where(self) -> str:
        """Where it was measured, as every table, comparison and history names it."""
        return self.scenario

    @property
    def first_pass_texts_per_s(self) -> float:
        return self.texts / self.first_pass_s if self.first_pass_s else float("nan")

    def to_json(self) -> dict:
        return {"kind": self.KIND, "format": FORMAT, "variant": self.variant, "device": self.device, "batch_size": self.batch_size,
                "strategy": self.strategy, "scenario": self.scenario, "texts": self.texts,
                "texts_per_s": self.texts_per_s, **self.speedup.to_json(), "fp32_texts_per_s": self.fp32_texts_per_s,
                "first_pass_s": self.first_pass_s, "steady_passes": self.steady_passes,
                "padding_waste": self.padding_waste, "median_tokens": self.median_tokens, "threads": self.threads,
                "model": self.model}

    @classmethod
    def from_json(cls, data: dict) -> OfflineResult:
        kind = cls.KIND
        data = upgrade({"kind": kind, **data})  # an older format's record, brought up to date first
        return cls(
            variant=take(data, "variant", kind, str), device=take(data, "device", kind, str),
            batch_size=take(data, "batch_size", kind, int), strategy=take(data, "strategy", kind, str),
            texts=take(data, "texts", kind, int), texts_per_s=take(data, "texts_per_s", kind, positive),
            speedup=Speedup.from_json(data, kind), fp32_texts_per_s=take(data, "fp32_texts_per_s", kind, positive),
            first_pass_s=take(data, "first_pass_s", kind, float), steady_passes=take(data, "steady_passes", kind, int),
            padding_waste=take(data, "padding_waste", kind, float), median_tokens=take(data, "median_tokens", kind, float),
            **optional_fields(cls, data, kind))
