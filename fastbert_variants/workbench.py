"""One run's model, dataset, cache and threads, with runners built lazily and kept.

The CLI and the pytest fixtures both hold one Workbench, so every variant of a run gets the
same source, inputs, threads and cache, and each variant is built once per process.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from functools import cached_property
from pathlib import Path

from . import progress
from .cache import BuildCache
from .datasets import DatasetSpec, LabelledTexts, load_labelled_texts
from .sources import ModelSource, resolve_model
from .variants import BuildContext, Runner, get
from .variants.base import VariantUnavailable

log = logging.getLogger(__name__)

__all__ = ["VariantUnavailable", "Workbench", "configure_threads"]


def configure_threads(threads: int) -> None:
    """Give torch the run's thread count (ONNX Runtime gets it per session)."""
    import torch

    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # only settable before torch's first parallel work; keep what is there
        pass


class Workbench:
    def __init__(self, model_spec: str = "default", dataset_spec: DatasetSpec | None = None,
                 cache_dir: Path | str = "~/.cache/fastbert-variants", threads: int = 1,
                 trust_remote_code: bool = False, hash_contents: bool = True):
        self.model_spec = model_spec
        self.dataset_spec = dataset_spec or DatasetSpec()
        self.cache = BuildCache(cache_dir, hash_contents=hash_contents)
        self.threads = threads
        self.trust_remote_code = trust_remote_code
        self._runners: dict[tuple[str, str], Runner] = {}
        self._extra_variants: dict = {}

    @cached_property
    def source(self) -> ModelSource:
        return resolve_model(self.model_spec, self.cache, self.trust_remote_code)

    @cached_property
    def dataset(self) -> LabelledTexts:
        return load_labelled_texts(self.dataset_spec)

    def context(self, device: str) -> BuildContext:
        return BuildContext(self.source, self.cache, device, self.threads, self.dataset.calibration_texts)

    def add_variant(self, variant) -> None:
        """Make a variant known to this workbench only (tests register degraded ones this way)."""
        self._extra_variants[variant.name] = variant

    def variant(self, name: str):
        return self._extra_variants.get(name) or get(name)

    def runner(self, name: str, device: str) -> Runner:
        key = (name, device)
        if key not in self._runners:
            variant = self.variant(name)
            reason = variant.unavailable_reason(device)
            if reason:
                raise VariantUnavailable(f"{name} on {device}: {reason}")
            configure_threads(self.threads)  # here, not at start: a run of cache hits never imports torch
            log.info("building %s on %s", name, device)
            try:
                with progress.activity(f"building {name} on {device} (once: kept in the cache)"):
                    runner = variant.build(self.context(device))
            except VariantUnavailable as reason:
                raise VariantUnavailable(f"{name} on {device}: {reason}") from None
            runner.info["recipe"] = asdict(variant.recipe)  # one place: every family's runner says what it computes in
            self._runners[key] = runner
        return self._runners[key]

    def release(self, name: str, device: str) -> None:
        self._runners.pop((name, device), None)
