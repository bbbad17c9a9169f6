"""The suite's session fixtures: every test shares one Run and one measuring Session, so each variant is built once."""

from __future__ import annotations

import pytest

from .state import STATE, RunState


@pytest.fixture(scope="session")
def run_state(request) -> RunState:
    return request.config.stash[STATE]


@pytest.fixture(scope="session")
def workbench(run_state):
    return run_state.workbench


@pytest.fixture(scope="session")
def fastbert(run_state, tmp_path_factory):
    """The measuring Session: `fastbert.measure(case, benchmark)` measures a case of any scenario."""
    session = run_state.session
    session.once("scratch", lambda: tmp_path_factory.mktemp("fastbert"))
    return session


@pytest.fixture(scope="session")
def scorer(workbench, run_state):
    """One Scorer per session, so FP32 is scored once."""
    from ..accuracy import Scorer

    return Scorer(workbench, max_length=run_state.opt.accuracy_max_length)


@pytest.fixture(scope="session")
def long_text_scorer(workbench, run_state):
    """A Scorer on the long-text set (held-out tweets joined into 256-512 tokens), scored up to 512 tokens."""
    from ..accuracy import Scorer
    from ..datasets import LONG_TEXT_TOKENS, long_tweets

    if run_state.opt.long_texts == "off":
        pytest.skip("--fastbert-long-texts off")
    if workbench.dataset_spec.name != "default":
        pytest.skip(f"the long-text set is made of the default dataset's tweets, labelled negative/positive; "
                    f"{workbench.dataset_spec.name}'s own long texts are gated above, up to --fastbert-accuracy-max-length")
    if workbench.source.max_positions < LONG_TEXT_TOKENS[1]:
        pytest.skip(f"{workbench.model_spec} takes at most {workbench.source.max_positions} tokens")
    return Scorer(workbench, long_tweets(workbench.source.tokenizer), max_length=LONG_TEXT_TOKENS[1])


@pytest.fixture
def trained_model(workbench):
    if not workbench.source.trained:
        pytest.skip(f"{workbench.model_spec} has random weights: accuracy means nothing for it")
