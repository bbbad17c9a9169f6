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
