"""One run's model, dataset, cache and threads, with runners built lazily and kept.

The CLI and the pytest fixtures both hold one Workbench, so every variant of a run gets the
same source, inputs, threads and cache, and each variant is built once per process.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from functools import cached_property
from pathlib import Path

from . import progress
from .cache import BuildCache
from .datasets import DatasetSpec, LabelledTexts, load_labelled_texts
from .metrics import disagreement
from .models import ModelSource, resolve_model
from .variants import BASELINE, REGISTRY, BuildContext, Runner, VariantUnavailable, get, pairs
from .variants.compile_state import compile_settings, import_lowerings

log = logging.getLogger(__name__)

__all__ = ["BuildOutcome", "VariantUnavailable", "Workbench", "configure_threads"]
CHECK_TEXTS, CHECK_TOKENS = 16, 128  # what `build --check` runs each variant on, against FP32


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
                 trust_remote_code: bool = False, hash_contents: bool = True, revision: str | None = None):
        self.model_spec = model_spec
        self.revision = revision
        self.dataset_spec = dataset_spec or DatasetSpec()
        self.cache = BuildCache(cache_dir, hash_contents=hash_contents)
        self.threads = threads
        self.trust_remote_code = trust_remote_code
        self._runners: dict[tuple[str, str], Runner] = {}
        self._extra_variants: dict = {}

    @cached_property
    def source(self) -> ModelSource:
        return resolve_model(self.model_spec, self.cache, self.trust_remote_code, self.revision)

    @cached_property
    def dataset(self) -> LabelledTexts:
        return load_labelled_texts(self.dataset_spec)

    def token_lengths(self):
        """Tokens in each scored text of the dataset, untruncated (numpy)."""
        import numpy as np

        return np.asarray([len(ids) for ids in self.source.tokenizer(self.dataset.texts, truncation=False)["input_ids"]])

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
            import_lowerings(module for known in REGISTRY.values() for module in known.lowering_modules)
            log.info("building %s on %s", name, device)
            try:
                family = type(variant).__module__  # what its build sets in torch's compile settings is its own
                with progress.activity(f"building {name} on {device} (once: kept in the cache)"), \
                        compile_settings(device, family):
                    runner = variant.build(self.context(device))
                runner.family = family
            except VariantUnavailable as reason:
                raise VariantUnavailable(f"{name} on {device}: {reason}") from None
            runner.info["recipe"] = asdict(variant.recipe)  # one place: every family's runner says what it computes in
            self._runners[key] = runner
        return self._runners[key]

    def release(self, name: str, device: str) -> None:
        self._runners.pop((name, device), None)

    def build_each(self, names: list[str] | None, device: str, check: bool = False) -> Iterator[BuildOutcome]:
        """Make every cached artifact of the variants (all: None) on the device, one outcome each as it is made;
        with `check`, also load each and compare its logits with FP32's on a few texts."""
        import numpy as np

        from .inputs import padded_batches

        check_batch = reference = None
        if check:
            check_batch = next(padded_batches(self.source.tokenizer, self.dataset.texts[:CHECK_TEXTS], CHECK_TEXTS,
                                              CHECK_TOKENS))
            reference = self.runner(BASELINE, device)(check_batch)
        for _, name in pairs(names, devices=(device,)):
            variant = self.variant(name)
            reason = variant.unavailable_reason(device)
            if reason:
                yield BuildOutcome(name, device, skipped=reason)
                continue
            started = time.perf_counter()
            made = variant.artifact(self.context(device))
            outcome = BuildOutcome(name, device, seconds=time.perf_counter() - started)
            if made is not None:
                folder, manifest = made
                outcome.folder, outcome.first_build_s = folder, manifest["build_seconds"]
                outcome.size_mb = sum(meta["bytes"] for meta in manifest["files"].values()) / 1e6
            if check:
                try:
                    logits = self.runner(name, device)(check_batch)
                except VariantUnavailable as reason:
                    yield BuildOutcome(name, device, skipped=str(reason))
                    continue
                outcome.disagreement = disagreement(logits, reference, variant.recipe.logit_tolerance[0])
                if logits.shape == reference.shape:
                    outcome.max_logit_diff = float(np.abs(logits - reference).max())
                    outcome.same_label = float(np.mean(logits.argmax(-1) == reference.argmax(-1)))
                if name != BASELINE:
                    self.release(name, device)
            yield outcome


@dataclass
class BuildOutcome:
    """What `build` made of one variant: skipped (why), or built or found in the cache, and checked against FP32."""

    variant: str
    device: str
    skipped: str | None = None  # why it cannot run here
    seconds: float = 0.0  # this call: a build, or finding its entry in the cache
    folder: Path | None = None  # its cache entry; None when it is made from the FP32 weights at load
    size_mb: float | None = None
    first_build_s: float | None = None  # what the entry took to build the first time
    max_logit_diff: float | None = None  # with check: the largest |logit - FP32's| on CHECK_TEXTS texts
    same_label: float | None = None  # with check: the share of those texts given FP32's label
    disagreement: str | None = None  # with check: how its logits are past its recipe's tolerance of FP32's, if they are
