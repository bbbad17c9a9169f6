"""Properties every variant must keep, searched by hypothesis over real and odd texts.

Predictions must not depend on padding, on what else is in the batch, or on the call; odd
texts (empty, whitespace, emoji, mixed scripts, past the model's length) must give finite
logits. Logits are compared within the largest difference its recipe allows (`Recipe.logit_tolerance`, the
one table the output checks and tests/test_variants.py use too); a predicted label must hold wherever FP32's
margin exceeds it.
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fastbert_variants.inputs import padded_batches
from fastbert_variants.variants import BASELINE
from fastbert_variants.workbench import VariantUnavailable

ODD_TEXTS = st.sampled_from(["", "   ", "\n\t", "😀🚗💨🔥", "driverless 車 автомобиль سيارة 🚕", "?!" * 40])
WORDS = st.lists(st.sampled_from("the car drives itself i love hate this so much never again great awful bus "
                                 "safe scary future today #selfdriving @google lol".split()), min_size=1, max_size=40)
TEXTS = st.one_of(WORDS.map(" ".join), ODD_TEXTS, st.text(max_size=200))
SETTINGS = settings(max_examples=12, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def tolerance_of(name: str) -> float:
    from fastbert_variants.variants import REGISTRY

    return REGISTRY[name].recipe.logit_tolerance[0]  # fp8 included, which a table of its own here had left out


def encode(workbench, texts, padding="longest"):
    source = workbench.source
    return next(padded_batches(source.tokenizer, texts, len(texts), source.max_positions, padding))


@pytest.fixture
def property_runner(workbench, property_case):
    device, name = property_case.device, property_case.variant
    try:
        return workbench.runner(name, device), tolerance_of(name)
    except VariantUnavailable as reason:
        pytest.skip(str(reason))


def assert_same_prediction(alone, in_batch, reference, tolerance, what):
    assert np.abs(alone - in_batch).max() <= tolerance, f"{what}: logits moved by {np.abs(alone - in_batch).max():.4f}"
    margin = np.abs(reference[..., 1] - reference[..., 0]) if reference.shape[-1] == 2 else np.inf
    decided = margin > 2 * tolerance
    assert (alone.argmax(-1)[decided] == in_batch.argmax(-1)[decided]).all(), f"{what}: a clear prediction flipped"


@given(text=TEXTS, longer=st.lists(WORDS.map(lambda w: " ".join(w * 4)), min_size=1, max_size=3))
@SETTINGS
def test_padding_and_batch_do_not_change_predictions(workbench, property_runner, text, longer):
    runner, tolerance = property_runner
    alone = runner(encode(workbench, [text]))
    batched = runner(encode(workbench, [text, *longer]))[:1]
    assert_same_prediction(alone, batched, workbench.runner(BASELINE, runner.device)(encode(workbench, [text])),
                           tolerance, "padded in a batch with longer texts")


@given(text=TEXTS)
@SETTINGS
def test_odd_texts_give_finite_deterministic_logits(workbench, property_runner, text):
    runner, _ = property_runner
    batch = encode(workbench, [text])
    first, second = runner(batch), runner(batch)
    assert np.isfinite(first).all(), f"non-finite logits for {text!r}"
    np.testing.assert_array_equal(first, second, err_msg=f"two calls on {text!r} differ")


def test_texts_past_the_maximum_are_truncated(workbench, property_runner):
    runner, _ = property_runner
    very_long = "the self driving car is great " * 400
    batch = encode(workbench, [very_long])
    assert batch["input_ids"].shape[1] == workbench.source.max_positions
    assert np.isfinite(runner(batch)).all()
