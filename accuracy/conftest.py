"""Fixtures of the accuracy gates: one Scorer per session, so FP32 is scored once."""

import pytest


@pytest.fixture(scope="session")
def scorer(workbench):
    from fastbert_variants.accuracy import Scorer

    return Scorer(workbench)


@pytest.fixture
def trained_model(workbench):
    if not workbench.source.trained:
        pytest.skip(f"{workbench.model_spec} has random weights: accuracy means nothing for it")
