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
