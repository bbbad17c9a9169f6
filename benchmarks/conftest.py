"""Fixtures of the latency benchmarks: one token batch per cell, shared by every variant."""

from functools import cache

import pytest

from fastbert_variants.errors import UserError
from fastbert_variants.inputs import exact_length_batch


@pytest.fixture(scope="session")
def cell_batch(workbench):
    """batch(batch_size, seq_len): exactly seq_len real tokens per row; the same arrays for every variant."""

    @cache
    def batch(batch_size: int, seq_len: int):
        try:
            return exact_length_batch(workbench.source.tokenizer, workbench.dataset.texts, seq_len, batch_size,
                                      workbench.source.max_positions)
        except UserError as reason:
            return reason

    return batch


@pytest.fixture(scope="session")
def strategy_batches(workbench, suite_state):
    """batches(strategy, batch_size): the profile's first N texts, in arrival order, batched by the strategy."""
    from fastbert_variants.inputs import strategy_batches as make

    texts = workbench.dataset.texts[: suite_state.profile.batching_texts]
    max_length = min(512, workbench.source.max_positions)
    return cache(lambda strategy, batch_size: make(strategy, workbench.source.tokenizer, texts, batch_size, max_length))


@pytest.fixture(scope="session")
def runner_or_skip(workbench):
    """runner(variant, device), or the test is skipped with the reason the variant cannot run here."""
    from fastbert_variants.workbench import VariantUnavailable

    def runner(name: str, device: str):
        try:
            return workbench.runner(name, device)
        except VariantUnavailable as reason:
            pytest.skip(str(reason))

    return runner


@pytest.fixture(scope="session")
def gemm_peaks(workbench, suite_state):
    """peaks(device): GEMM GFLOP/s per precision with the run's threads, measured once per device per session."""
    from fastbert_variants.roofline import gemm_peaks as measure
    from fastbert_variants.workbench import configure_threads

    def peaks(device: str) -> dict:
        if device not in suite_state.gemm_peaks:
            configure_threads(workbench.threads)
            suite_state.gemm_peaks[device] = measure(device, workbench.threads)
        return suite_state.gemm_peaks[device]

    return peaks
