"""Fixtures of the accuracy gates: one Scorer per session, so FP32 is scored once."""

import pytest


@pytest.fixture(scope="session")
def scorer(workbench, suite_state):
    from fastbert_variants.accuracy import Scorer

    return Scorer(workbench, max_length=suite_state.config.option.accuracy_max_length)


@pytest.fixture(scope="session")
def long_text_scorer(workbench, suite_state):
    """A Scorer on the long-text set (held-out tweets joined into 256-512 tokens), scored up to 512 tokens."""
    from fastbert_variants.accuracy import Scorer
    from fastbert_variants.datasets import LONG_TEXT_TOKENS, long_tweets

    if suite_state.config.option.long_texts == "off":
        pytest.skip("--long-texts off")
    if workbench.dataset_spec.name != "default":
        pytest.skip(f"the long-text set is made of the default dataset's tweets, labelled negative/positive; "
                    f"{workbench.dataset_spec.name}'s own long texts are gated above, up to --accuracy-max-length")
    if workbench.source.max_positions < LONG_TEXT_TOKENS[1]:
        pytest.skip(f"{workbench.model_spec} takes at most {workbench.source.max_positions} tokens")
    return Scorer(workbench, long_tweets(workbench.source.tokenizer), max_length=LONG_TEXT_TOKENS[1])


@pytest.fixture
def trained_model(workbench):
    if not workbench.source.trained:
        pytest.skip(f"{workbench.model_spec} has random weights: accuracy means nothing for it")
