"""What a run measures: the profiles and the selection the options name (each scenario makes its cases). No pytest here."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from . import options
from .errors import UserError
from .timing import TimingPlan
from .variants import BASELINE, DEVICES, REGISTRY, pairs

SEQ_LENS = (16, 32, 64, 128, 256, 512)
BATCH_SIZES = (1, 8)
OFFLINE_STRATEGIES = ("dynamic", "length-buckets")  # at batch 1 the two are the same: dynamic alone runs there


@dataclass(frozen=True)
class Profile:
    seq_lens: tuple[int, ...]
    batch_sizes: tuple[int, ...]
    timing: TimingPlan
    include_slow: bool
    offline_texts: int  # the dataset's first N texts, in arrival order: one pass of FP32 lasts seconds
    offline_seconds: float  # steady interleaved passes (FP32 and the variants together) to fill this long: 1 to 3
    server_shortlist: int  # the server scenario serves this many of the best offline variants (and torch-fp32)
    server_seconds_per_load: float  # each LoadGen load of the capacity search lasts at least this long
    server_settings: tuple[tuple[int, float], ...] = ((1, 0.0), (16, 5.0))  # batcher (max batch, max wait ms) tried
    server_step: float = 0.15  # the capacity search stops when the rate held and the one not held are this close
    # Queries in each LoadGen load: 459 are the fewest whose p99 LoadGen can claim with none over the budget; 660 let
    # one be over. The quick profile takes the fewest: torch-fp32 holds 20-40/s here, so each of its loads lasts 12-23 s.
    server_min_queries: int = 660
    # torch-fp32 served too, for the capacity ratio. Not in the quick profile: on 2 cores its p99 at 25/s is already
    # 65-85 ms, each of its loads lasts 12-23 s, and its search ended with no rate held at every load in the main jobs
    # of 5 December (100 s for no figure; docs/measurements/2026-12-05-amd-epyc-zen4-server.md).
    server_baseline: bool = True
    offline_strategies: tuple[str, ...] = ("dynamic",)  # the full profile adds length buckets
    # Offline rounds: a pass is cut into this many chunks of consecutive batches, and passes are added until there
    # are at least this many rounds (batch 1 and 8: 2 passes; batch 32, 6 batches of 192 texts: 3). With 8 rounds
    # the 95% interval of the median is the whole range of the rounds (order statistics); with 16 it is the 4th to
    # 13th. Chunks of a sixteenth of a pass were too short for the int8 variants to repeat: an eighth, two passes
    # (docs/measurements/, the 2026-12-02 and 2026-12-03 scenarios).
    offline_chunks_per_pass: int = 8
    offline_min_rounds: int = 16
    long_texts_lossless: bool = True  # gate FP32-precision variants on the long texts too (quick: no, see below)


PROFILES = {
    # quick: 10 rounds of 0.2 s FP32 segments per cell, each variant's own median from 0.3 s of calls, loads of 2.5 s
    # and a 10% capacity step, so that the main job answers within 12 minutes on 2 cores, on a slow day of this
    # shared machine too (docs/measurements/, the 2026-12-03 scenarios).
    "quick": Profile((16, 128, 512), (1,), TimingPlan(warmup_rounds=2, min_rounds=5, max_rounds=30,
                                                        target_seconds=0.3, interleave_blocks=10,
                                                        block_seconds=0.2), include_slow=False,
                     offline_texts=192, offline_seconds=2.0, server_shortlist=1, server_seconds_per_load=2.5,
                     # one batcher setting, batches of up to 8 gathered for up to 2 ms, and a 10% step: five searches
                     # of openvino-int8-nncf-default on the Zen 4 (6 December) found 233-271/s, all within 15% of
                     # their median, where without batching they found 150-233/s (2 of 5 within 15%): a queue that
                     # builds is drained in batches instead of growing (docs/measurements/, the 2026-12-05 server)
                     server_settings=((8, 2.0),), server_min_queries=460, server_baseline=False,
                     server_step=0.1, offline_min_rounds=12,  # batch 1 and 8 still get 16 (2 passes), batch 32 12
                     # FP32 graphs (TorchScript, ORT FP32 and fused, OpenVINO FP32) lost nothing on the long texts
                     # in every full run (0/0 flips); the quick profile spends CI's minutes on the lossy ones.
                     long_texts_lossless=False),
    "full": Profile(SEQ_LENS, BATCH_SIZES, TimingPlan(warmup_rounds=3, min_rounds=10, max_rounds=200,
                                                      target_seconds=3.0, interleave_blocks=16), include_slow=True,
                    offline_texts=1024, offline_seconds=6.0, server_shortlist=4, server_seconds_per_load=10.0,
                    server_settings=tuple((b, w) for b in (1, 8, 32) for w in (1.0, 5.0) if b > 1 or w == 1.0),
                    server_step=0.1, offline_strategies=OFFLINE_STRATEGIES),
}


def profile(name: str) -> Profile:
    if name not in PROFILES:
        raise UserError(f"unknown profile {name!r}; use one of {', '.join(PROFILES)}")
    return PROFILES[name]


def variant_names(text: str) -> list[str] | None:
    """--variants: `all` (None), or names of the registry; an empty list is a usage error, not "all"."""
    if text.strip() == "all":
        return None
    names = options.parse_list(text, option="--variants")
    unknown = [n for n in names if n not in REGISTRY]
    if unknown:
        raise UserError(f"--variants: unknown {', '.join(unknown)}; known: {', '.join(REGISTRY)}")
    return names


def device_names(text: str | None) -> list[str] | None:
    """--devices: names of DEVICES, or None (not given: the caller decides, by what torch sees)."""
    if text is None:
        return None
    names = options.parse_list(text, option="--devices")
    unknown = [d for d in names if d not in DEVICES]
    if unknown:
        raise UserError(f"--devices: unknown {unknown}; use {' and/or '.join(DEVICES)}")
    return names


@dataclass(frozen=True)
class Selection:
    """What a run's options name, parsed once: the profile, the variants (None: all), the devices (None: not given),
    and the fixed cells' lengths and batch sizes (the profile's unless given)."""

    profile_name: str
    variants: list[str] | None
    devices: list[str] | None
    seq_lens: tuple[int, ...]
    batch_sizes: tuple[int, ...]
    server_baseline: bool | None = None  # serve torch-fp32 beside the variants (None: as the profile says)

    @property
    def profile(self) -> Profile:
        chosen = PROFILES[self.profile_name]
        if self.server_baseline is None or self.server_baseline == chosen.server_baseline:
            return chosen
        return dataclasses.replace(chosen, server_baseline=self.server_baseline)

    @classmethod
    def parse(cls, profile_name: str, variants: str = "all", devices: str | None = None, seq_lens: str | None = None,
              batch_sizes: str | None = None, server_baseline: str = "profile") -> Selection:
        chosen = profile(profile_name)
        lengths = tuple(options.parse_list(seq_lens, int, "--seq-lens")) if seq_lens else chosen.seq_lens
        batches = tuple(options.parse_list(batch_sizes, int, "--batch-sizes")) if batch_sizes else chosen.batch_sizes
        if any(n < 1 for n in (*lengths, *batches)):
            raise UserError("--seq-lens and --batch-sizes must be positive integers")
        if min(lengths) < 3:  # every test of such a cell would skip, and a run that measured nothing would pass
            raise UserError(f"--seq-lens {min(lengths)} leaves no room for text between the [CLS] and [SEP] tokens; "
                            "give lengths of 3 or more")
        return cls(profile_name, variant_names(variants), device_names(devices), lengths, batches,
                   {"on": True, "off": False}.get(server_baseline))

    def skip_reason(self, variant: str, device: str) -> str | None:
        """Why a slow variant is left out of this run (shown in pytest's report); None if it runs."""
        reason = REGISTRY[variant].slow_reason(device)
        if reason and not self.profile.include_slow and not self.variants:
            return (f"left out of --profile {self.profile_name}: {reason}; run --profile full or name it "
                    "in --variants")
        return None


@dataclass(frozen=True)
class VariantCase:
    """One variant on one device: what the accuracy and property tests take."""

    device: str
    variant: str

    @property
    def id(self) -> str:
        return f"{self.device}-{self.variant}"


def variant_cases(names, devices, with_baseline: bool) -> list[VariantCase]:
    """Every chosen variant on every device it runs on, FP32 left out unless asked for."""
    return [VariantCase(d, v) for d, v in pairs(names, tuple(devices)) if with_baseline or v != BASELINE]
