"""Every variant available here gives logits close to torch-fp32, within what its precision allows."""

import numpy as np
import pytest

from fastbert_variants.inputs import padded_batches
from fastbert_variants.variants import BASELINE, REGISTRY, pairs
from fastbert_variants.workbench import VariantUnavailable

SURE_ROWS = 16  # labels must match on the rows FP32 is surest of, whatever the precision


def test_registry_names_every_variant_of_the_issue():
    expected = {"torch-fp32", "torchscript", "torch-compile", "torch-dynamic-int8", "torchao-int8-dynamic",
                "torchao-int8-weight-only", "torchao-int8-dynamic-eager", "torch-pt2e-int8-static", "torch-bf16",
                "ort-fp32", "ort-optimized", "ort-int8-dynamic", "ort-int8-dynamic-every-matmul", "ort-int8-static",
                "openvino-fp32", "openvino-bf16", "openvino-int8", "openvino-int8-nncf-default", "torch-fp16", "torchao-float8-dynamic", "torch-compile-cudagraphs", "ort-cuda-fp16", "ort-tensorrt-fp16", "zentorch-fp32",
                "zentorch-bf16"}
    assert expected <= set(REGISTRY)
    assert all(name == name.lower() and " " not in name for name in REGISTRY)


def test_unavailable_variants_say_why(monkeypatch):
    import importlib.util

    assert "runs on cuda only" in REGISTRY["torch-fp16"].unavailable_reason("cpu")
    assert "unknown device" in REGISTRY["torch-fp32"].unavailable_reason("tpu")
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None if name in ("openvino", "nncf") else real_find_spec(name))
    reason = REGISTRY["openvino-int8"].unavailable_reason("cpu")
    assert reason == "needs the Python package(s) openvino, nncf, not installed: pip install 'fastbert-variants[openvino]'"


@pytest.fixture(scope="module")
def fixed_batch(default_bench):
    """The first 64 held-out tweets, padded to their longest."""
    texts = default_bench.dataset.texts[:64]
    return next(padded_batches(default_bench.source.tokenizer, texts, len(texts), 128))


@pytest.fixture(scope="module")
def fp32_logits(default_bench, fixed_batch):
    return default_bench.runner(BASELINE, "cpu")(fixed_batch)


@pytest.mark.parametrize(("device", "name"), pairs(devices=("cpu",)), ids=lambda v: v)
def test_variant_matches_fp32(default_bench, fixed_batch, fp32_logits, device, name):
    try:
        runner = default_bench.runner(name, device)
    except VariantUnavailable as reason:
        pytest.skip(str(reason))
    logits = runner(fixed_batch)
    assert logits.shape == fp32_logits.shape and logits.dtype == np.float32
    diff = np.abs(logits - fp32_logits)
    largest, mean = REGISTRY[name].recipe.logit_tolerance
    assert diff.max() <= largest and diff.mean() <= mean, (
        f"{name}: logit difference from FP32 max {diff.max():.4f} (allowed {largest}), mean {diff.mean():.4f} (allowed {mean})")
    margin = np.abs(fp32_logits[:, 1] - fp32_logits[:, 0])
    sure = np.argsort(-margin)[:SURE_ROWS]
    flipped = sure[logits[sure].argmax(-1) != fp32_logits[sure].argmax(-1)]
    assert not flipped.size, f"{name} flips rows FP32 is sure of (FP32 margins {margin[flipped].round(2).tolist()})"
    assert runner.size_bytes > 0 and runner.info["threads"] == 2
    default_bench.release(name, device)


def test_io_binding_runner_gives_the_same_logits_with_the_cpu_provider(default_bench):
    """The CUDA variants' IO binding (inputs on the device before timing, logits left there), on the CPU provider."""
    from fastbert_variants.variants.ort_session import IoBoundOrtRunner

    plain = default_bench.runner("ort-fp32", "cpu")
    bound = IoBoundOrtRunner(variant=plain.variant, device="cpu", size_bytes=plain.size_bytes,
                             build_seconds=plain.build_seconds, session=plain.session, device_type="cpu")
    batch = next(padded_batches(default_bench.source.tokenizer, ["the car drives itself", "i hate this"], 2, 32))
    prepared = bound.prepare(batch)
    assert all(type(v).__name__ == "OrtValue" and v.device_name().lower() == "cpu" for v in prepared.values())
    logits = bound.run(prepared)
    assert type(logits).__name__ == "OrtValue"  # left where the provider put it, not copied back inside run
    np.testing.assert_allclose(bound.to_numpy(logits), plain(batch), rtol=0, atol=1e-5)


def test_a_variants_own_libraries_key_its_cache_and_its_extra_names_the_install(monkeypatch):
    """A family's library is keyed by what the variant declares it requires, not by a hand-kept list in cache.py."""
    import dataclasses

    import fastbert_variants.variants.base as base

    variant = REGISTRY["openvino-int8"]
    assert "openvino" in variant.definition()["required_versions"]
    moved = {**base.required_versions(variant.requires), "openvino": "9999.0"}
    monkeypatch.setattr(base, "required_versions", lambda modules: moved)
    assert variant.definition()["required_versions"]["openvino"] == "9999.0"  # an upgrade changes the key
    missing = dataclasses.replace(variant, requires=("no_such_module_here",))
    assert "pip install 'fastbert-variants[openvino]'" in missing.unavailable_reason("cpu")
    assert REGISTRY["ort-fp32"].extra_for("cpu") == "cpu" and REGISTRY["ort-cuda-fp16"].extra_for("cuda") == "cuda"


def test_zentorch_skips_with_its_reason_off_amd_cpus_and_without_the_package(monkeypatch):
    import dataclasses
    import importlib.util

    import fastbert_variants.families.zentorch as zentorch_family

    monkeypatch.setattr(zentorch_family, "cpu_vendor", lambda: "GenuineIntel")
    assert REGISTRY["zentorch-fp32"].unavailable_reason("cpu") == (
        "zentorch is AMD's ZenDNN plugin for EPYC CPUs; this CPU is GenuineIntel")
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None if name == "zentorch" else real_find_spec(name))
    # off AMD the CPU is the reason whether or not the package is there (tox installs zentorch on AMD CPUs only)
    assert REGISTRY["zentorch-fp32"].unavailable_reason("cpu").startswith("zentorch is AMD's ZenDNN plugin")
    monkeypatch.setattr(zentorch_family, "cpu_vendor", lambda: "AuthenticAMD")
    assert REGISTRY["zentorch-bf16"].unavailable_reason("cpu") == (
        "needs the Python package(s) zentorch, not installed: pip install 'fastbert-variants[zentorch]'")
    assert "cuda" not in dataclasses.asdict(REGISTRY["zentorch-fp32"])["devices"]
