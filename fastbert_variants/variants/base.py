"""The two interfaces every variant family implements: Variant (how to build) and Runner (how to run).

Contract, for a newcomer adding a family (docs/extending.md is the checklist):
- A `Variant` has a user-facing `name`, the `devices` it supports, the Python modules it
  `requires` and the pip `extra` of this package that installs them, a `recipe` (what it computes
  in, which layers stay in float: see recipes.py), the CPU features without which it runs many
  times slower than FP32 (`slow_without`), whether it compiles per shape (`compiles`), and
  `build(context) -> Runner`. Its cache key holds every field that can change what it builds (all
  but NOT_BUILT_FROM, which say how to report, schedule or install it) and the installed versions
  of what it `requires`. One whose build is slow keeps its product in the cache and returns it from
  `artifact(context)`; one made at load in seconds returns None. `unavailable_reason(device)` says
  in one line why it cannot run here (missing package, no GPU, no native bf16), or None; tests turn
  that into a skip.
- A `Runner` owns one built model on one device. `prepare(batch)` moves a numpy TokenBatch to
  whatever the backend eats (outside any timing); `run(prepared)` is the timed call and returns
  only when the work is done (CUDA synchronized); `__call__(batch)` gives numpy logits
  `[batch, num_labels]`. Tests never learn whether it is torch or ONNX Runtime underneath.
  `kernel_report(prepared)` says, for the record, which kernels a backend chose for those inputs;
  `pad_to_multiple` asks scoring to pad batches to a multiple of that many tokens (a variant that
  compiles one graph per shape). A failure that means "cannot run here" (a compile this model or
  device does not take) is raised as VariantUnavailable, from `build` or from a first call.
"""

from __future__ import annotations

import functools
import importlib.metadata
import importlib.util
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..cache import BuildCache
from ..hardware import cpu_features, cuda_available
from ..inputs import TokenBatch
from ..models import ModelSource
from ..recipes import FP32, Recipe

DEVICES = ("cpu", "cuda")
# Variant fields that say how to report, schedule or install a variant, not what to build: left out of cache keys.
NOT_BUILT_FROM = ("description", "library", "slow_without", "advisory_gate", "extra", "lowering_modules")


@functools.cache
def _distributions_of() -> dict[str, list[str]]:
    return importlib.metadata.packages_distributions()


def required_versions(modules: tuple[str, ...]) -> dict[str, str]:
    """{distribution: version} of the installed distributions that provide these top-level modules."""
    versions = {}
    for module in modules:
        for name in _distributions_of().get(module, []):
            try:
                versions[name] = importlib.metadata.version(name)
            except importlib.metadata.PackageNotFoundError:
                continue
    return versions


class VariantUnavailable(Exception):
    """The variant cannot run here (missing backend, no GPU); the message says why. Tests skip on it."""


@dataclass(frozen=True)
class Shipment:
    """A variant as it ships: `files` (name in the exported folder -> cached file), the pip requirements of its own
    runtime, and `classify`: Python lines that, given `folder`, `texts` and a tokenizer's `batch` of numpy arrays,
    set `logits` (the rest of classify.py, tokenizer and labels, is the same for every runtime)."""

    files: dict[str, Path]
    requirements: tuple[str, ...]
    classify: str


@dataclass
class BuildContext:
    """Everything a build may depend on; the same for every variant of a run."""

    source: ModelSource
    cache: BuildCache
    device: str
    threads: int
    calibration_texts: list[str] = field(default_factory=list)

    def calibration(self, variant: str, count: int) -> list[str]:
        """The first `count` calibration texts (the training part, never a scored row), or a one-line error."""
        if not self.calibration_texts:
            from ..errors import UserError

            raise UserError(f"{variant} needs calibration texts, and this dataset has no training part; "
                            "give --calibration-split (hub datasets) or more rows (local files)")
        return self.calibration_texts[:count]

    def calibration_batches(self, variant: str, count: int, max_tokens: int = 128) -> list[TokenBatch]:
        """Calibration texts tokenized one per batch (each its own length, as real traffic comes)."""
        from ..inputs import padded_batches

        texts = self.calibration(variant, count)
        return list(padded_batches(self.source.tokenizer, texts, 1, min(max_tokens, self.source.max_positions)))


@dataclass
class Runner(ABC):
    variant: str
    device: str
    size_bytes: int
    build_seconds: float
    info: dict = field(default_factory=dict)
    compile_seconds: dict = field(default_factory=dict)  # (batch, seq_len) -> the first call's seconds, if it compiles
    pad_to_multiple: int | None = None  # scoring pads each batch's length to a multiple of this (None: to its longest)
    # How long its idle threads keep spinning after a call returns: an interleaved schedule waits at least this long
    # before the next segment starts, so they do not take the cores from another runtime's calls (timing.interleave).
    idle_spin_s: float = 0.0
    family: str = ""  # the family module that built it: the compile settings its library set reach its compiles alone

    @abstractmethod
    def prepare(self, batch: TokenBatch) -> Any:
        """Backend inputs for `run`, already on the device."""

    @abstractmethod
    def run(self, prepared: Any) -> Any:
        """One forward pass, finished when it returns; the logits in the backend's own type."""

    @abstractmethod
    def to_numpy(self, logits: Any) -> np.ndarray:
        """Backend logits as float32 numpy."""

    def __call__(self, batch: TokenBatch) -> np.ndarray:
        return self.to_numpy(self.run(self.prepare(batch)))

    def kernel_report(self, prepared: Any) -> dict:
        """What the backend chose to run for these inputs (attention kernel, ...), outside any timing; {} if unknown."""
        return {}


@dataclass(frozen=True)
class Variant(ABC):
    name: str
    devices: tuple[str, ...]
    library: str
    description: str
    requires: tuple[str, ...] = ()
    recipe: Recipe = FP32
    # CPU features (hardware.FEATURE_FLAGS, or the groups "int8_dot_product" and "native_bf16") without which every
    # call takes many times FP32's: the variant is then marked slow, left out of the quick profile, and gated on a sample.
    slow_without: tuple[str, ...] = ()
    compiles: bool = False  # compiles for each new input shape (tens of seconds): on CPU marked slow, left out of quick
    # A library's own default recipe, kept beside an accuracy-preserving one to show what it costs: a failed gate
    # excludes it from the recommendation and is reported (xfail, FAIL in the tables), but does not fail the run.
    advisory_gate: bool = False
    extra: str = ""  # the pip extra of fastbert-variants that installs `requires` (pyproject's optional-dependencies)
    # Modules whose import registers inductor lowerings for the whole process, for good (pattern passes cannot be
    # unregistered): imported before the run's first compile, whichever variant comes first, so that every compile of
    # the run meets the same lowerings in any order of families (compile_state.import_lowerings).
    lowering_modules: tuple[str, ...] = ()

    def definition(self) -> dict:
        """Every field that can change what the variant builds, and the versions of the packages it declares it
        requires: part of each cache key (its recipe's version too), so a family's own library upgraded rebuilds
        its entries without a hand-kept list of packages to remember."""
        return {**{k: v for k, v in asdict(self).items() if k not in NOT_BUILT_FROM},
                "required_versions": required_versions(self.requires)}

    def extra_for(self, device: str) -> str:
        """The extra to install for this device (ONNX Runtime's differs between CPU and CUDA)."""
        return self.extra

    def unavailable_reason(self, device: str) -> str | None:
        if device not in DEVICES:
            return f"unknown device {device!r}; use one of {', '.join(DEVICES)}"
        if device not in self.devices:
            return f"{self.name} runs on {' and '.join(self.devices)} only"
        missing = [m for m in self.requires if importlib.util.find_spec(m) is None]
        if missing:
            extra = self.extra_for(device)
            hint = f": pip install 'fastbert-variants[{extra}]'" if extra else ""
            return f"needs the Python package(s) {', '.join(missing)}, not installed{hint}"
        if device == "cuda" and not cuda_available():
            return "no CUDA GPU visible to torch"
        return self.backend_reason(device)

    def slow_reason(self, device: str) -> str | None:
        """Why this variant takes minutes on this device (marked `slow`, skipped by the quick profile); None if not."""
        missing = self.missing_features(device)
        if missing:
            return (f"{self.name} has no fast kernel on this CPU (no {' or '.join(missing)}): every call takes many "
                    "times FP32's, minutes to score the dataset")
        # On CPU every run pays inductor again (frozen graphs are not cached: torch_common.compile_module). On CUDA the
        # compiled variants are the ones to ship, and inductor's FX-graph and autotuning caches serve a second run, so
        # the quick profile keeps them there.
        if self.compiles and device == "cpu":
            return "compile-heavy: inductor takes 20-60 s for each new input shape"
        return None

    def missing_features(self, device: str) -> tuple[str, ...]:
        """The CPU features of `slow_without` this CPU lacks (a group counts as present if any of its members is)."""
        from ..hardware import INT8_DOT_PRODUCT, NATIVE_BF16

        if device != "cpu" or not self.slow_without:
            return ()
        groups = {"int8_dot_product": INT8_DOT_PRODUCT, "native_bf16": NATIVE_BF16}
        have = set(cpu_features())
        wanted = [groups.get(f, (f,)) for f in self.slow_without]
        return tuple(" / ".join(g) for g in wanted if not set(g) & have)

    def runs_slowly(self, device: str) -> bool:
        """Every call takes many times FP32's here (not only the first, as a compile does): the accuracy gate
        then scores a fixed sample of the rows."""
        return bool(self.missing_features(device))

    def backend_reason(self, device: str) -> str | None:
        """A family's own check (CPU features, execution providers); None when it can run.

        Keep it cheap: `list` and `build` ask every variant. A check that needs a heavy import
        belongs in `build`, which raises VariantUnavailable with the reason.
        """
        return None

    def artifact(self, context: BuildContext) -> tuple[Path, dict] | None:
        """Make (once) what this variant keeps in the cache: (folder, manifest); None if it is made at load."""
        return None

    def shipment(self, context: BuildContext) -> Shipment | None:
        """What `fastbert-variants export` copies out so that the variant's own runtime loads it without this
        package (made once, as artifact); None for a family that does not export yet."""
        return None

    @abstractmethod
    def build(self, context: BuildContext) -> Runner:
        """Build (or fetch from the cache) and load this variant for context.device."""


def folder_bytes(folder: Path, pattern: str = "*") -> int:
    return sum(p.stat().st_size for p in Path(folder).glob(pattern) if p.is_file())
