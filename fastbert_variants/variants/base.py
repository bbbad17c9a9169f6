"""The two interfaces every variant family implements: Variant (how to build) and Runner (how to run).

Contract, for a newcomer adding a family:
- A `Variant` has a user-facing `name`, the `devices` it supports, the Python modules it
  `requires`, and `build(context) -> Runner`. One whose build is slow keeps its product in the
  cache and returns it from `artifact(context)`; one made at load in seconds returns None. `unavailable_reason(device)` says in one line why
  it cannot run here (missing package, no GPU, no native bf16), or None; tests turn that into a skip.
- A `Runner` owns one built model on one device. `prepare(batch)` moves a numpy TokenBatch to
  whatever the backend eats (outside any timing); `run(prepared)` is the timed call and returns
  only when the work is done (CUDA synchronized); `__call__(batch)` gives numpy logits
  `[batch, num_labels]`. Tests never learn whether it is torch or ONNX Runtime underneath.
"""

from __future__ import annotations

import importlib.util
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..cache import BuildCache
from ..hardware import cuda_available
from ..inputs import TokenBatch
from ..sources import ModelSource

DEVICES = ("cpu", "cuda")


class VariantUnavailable(Exception):
    """The variant cannot run here (missing backend, no GPU); the message says why. Tests skip on it."""


@dataclass
class BuildContext:
    """Everything a build may depend on; the same for every variant of a run."""

    source: ModelSource
    cache: BuildCache
    device: str
    threads: int
    calibration_texts: list[str] = field(default_factory=list)


@dataclass
class Runner(ABC):
    variant: str
    device: str
    size_bytes: int
    build_seconds: float
    info: dict = field(default_factory=dict)

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


@dataclass(frozen=True)
class Variant(ABC):
    name: str
    devices: tuple[str, ...]
    library: str
    description: str
    requires: tuple[str, ...] = ()

    def unavailable_reason(self, device: str) -> str | None:
        if device not in DEVICES:
            return f"unknown device {device!r}; use one of {', '.join(DEVICES)}"
        if device not in self.devices:
            return f"{self.name} runs on {' and '.join(self.devices)} only"
        missing = [m for m in self.requires if importlib.util.find_spec(m) is None]
        if missing:
            return f"needs the Python package(s) {', '.join(missing)}, not installed"
        if device == "cuda" and not cuda_available():
            return "no CUDA GPU visible to torch"
        return self.backend_reason(device)

    def slow_reason(self, device: str) -> str | None:
        """Why this variant takes minutes on this device (marked `slow`, skipped by the quick profile); None if not."""
        return None

    def runs_slowly(self, device: str) -> bool:
        """Every call takes many times FP32's here (not only the first, as a compile does): the accuracy gate
        then scores a fixed sample of the rows."""
        return False

    def backend_reason(self, device: str) -> str | None:
        """A family's own check (CPU features, execution providers); None when it can run.

        Keep it cheap: `list` and `build` ask every variant. A check that needs a heavy import
        belongs in `build`, which raises VariantUnavailable with the reason.
        """
        return None

    def artifact(self, context: BuildContext) -> tuple[Path, dict] | None:
        """Make (once) what this variant keeps in the cache: (folder, manifest); None if it is made at load."""
        return None

    @abstractmethod
    def build(self, context: BuildContext) -> Runner:
        """Build (or fetch from the cache) and load this variant for context.device."""


def folder_bytes(folder: Path, pattern: str = "*") -> int:
    return sum(p.stat().st_size for p in Path(folder).glob(pattern) if p.is_file())
