"""The parts of the CUDA half that need no GPU: built, run and checked here on the CPU."""

import subprocess
import sys
import types

import numpy as np
import pytest

from fastbert_variants.inputs import padded_batches
from fastbert_variants.variants import REGISTRY
from fastbert_variants.variants.base import VariantUnavailable
from fastbert_variants.variants.torch_common import SDPA_KERNELS, CompiledTorchRunner


def test_scoring_pads_to_a_multiple_for_a_per_shape_compiler_and_the_logits_do_not_move(default_bench):
    """Scoring a compiled-per-shape variant meets a few lengths, not every one, and the padding is masked out."""
    from fastbert_variants.metrics import predict_logits

    tokenizer, texts = default_bench.source.tokenizer, default_bench.dataset.texts[:96]
    padded = list(padded_batches(tokenizer, texts, 32, 100, pad_to_multiple=64))
    plain = list(padded_batches(tokenizer, texts, 32, 100))
    assert all(b["input_ids"].shape[1] in (64, 100) for b in padded)  # rounded up, never past max_length
    assert [b["attention_mask"].sum() for b in padded] == [b["attention_mask"].sum() for b in plain]
    fp32 = default_bench.runner("torch-fp32", "cpu")
    texts = default_bench.dataset.texts[:90]  # the last batch of 32 is short: filled up, its extra logits dropped
    reference = predict_logits(fp32, tokenizer, texts, 100)
    shapes = []
    real_run = fp32.run
    fp32.pad_to_multiple, fp32.run = 64, lambda prepared: shapes.append(tuple(prepared["input_ids"].shape)) or real_run(prepared)
    try:
        np.testing.assert_allclose(predict_logits(fp32, tokenizer, texts, 100), reference, atol=1e-4)
    finally:
        fp32.pad_to_multiple, fp32.run = None, real_run
    assert set(shapes) <= {(32, 64), (32, 100)}, shapes


def test_kernel_report_names_the_attention_kernel_sdpa_chose(default_bench):
    runner = default_bench.runner("torch-fp32", "cpu")
    batch = next(padded_batches(default_bench.source.tokenizer, ["a fine day", "an awful, awful day"], 2, 32))
    report = runner.kernel_report(runner.prepare(batch))
    assert report["attention_kernel"] in SDPA_KERNELS.values(), report


def _failing_compiled_runner(calls):
    def forward(**inputs):
        calls.append(inputs["input_ids"].shape)
        raise RuntimeError("backend compiler failed with mat2.size(1) not a multiple of 8\nwhile lowering ...")

    return CompiledTorchRunner(variant="torch-compile", device="cpu", size_bytes=1, build_seconds=0.0,
                               forward=forward, input_names=("input_ids",))


def test_a_compile_that_fails_is_unavailable_with_its_first_line_and_not_tried_again():
    import torch

    calls = []
    runner = _failing_compiled_runner(calls)
    with pytest.raises(VariantUnavailable) as failed:
        runner.run({"input_ids": torch.ones(1, 8, dtype=torch.int64)})
    message = str(failed.value)
    assert message.startswith("torch-compile on cpu: torch.compile failed on the first call of shape [1, 8]")
    assert "RuntimeError: backend compiler failed with mat2.size(1) not a multiple of 8" in message
    assert "while lowering" not in message
    with pytest.raises(VariantUnavailable, match="shape \\[1, 8\\]"):
        runner.run({"input_ids": torch.ones(1, 16, dtype=torch.int64)})
    assert calls == [(1, 8)]  # the second shape was not compiled again


def test_a_compile_failing_on_a_cache_from_an_earlier_run_discards_it_and_compiles_again(tmp_path):
    """inductor's on-disk cache is written outside the store's entries; a run killed while writing it leaves torn
    files, and every later compile that reads them fails: discarded once, then compiled from scratch."""
    import os

    import torch

    import fastbert_variants.variants.torch_common as torch_common

    cache = tmp_path / "inductor"
    (cache / "fxgraph").mkdir(parents=True)
    torn = cache / "fxgraph" / "entry"
    torn.write_bytes(b"\x80torn")
    os.utime(torn, (torch_common.PROCESS_STARTED - 60,) * 2)  # written by an earlier run
    calls = []

    def forward(**inputs):
        calls.append(tuple(inputs["input_ids"].shape))
        if torn.exists():
            raise RuntimeError("could not load a cached graph: pickle data was truncated")
        return torch.zeros(1, 2)

    runner = CompiledTorchRunner(variant="torch-compile", device="cpu", size_bytes=1, build_seconds=0.0,
                                 forward=forward, input_names=("input_ids",), inductor_cache=cache)
    logits = runner.run({"input_ids": torch.ones(1, 8, dtype=torch.int64)})
    assert logits.shape == (1, 2) and calls == [(1, 8), (1, 8)] and not cache.exists()
    assert (1, 8) in runner.compile_seconds
    # A failure with a cache this process wrote itself (or none) is the compile's own: unavailable, not retried.
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    (fresh / "kernel.so").write_bytes(b"")
    failing = _failing_compiled_runner(calls := [])
    failing.inductor_cache = fresh
    with pytest.raises(VariantUnavailable):
        failing.run({"input_ids": torch.ones(1, 8, dtype=torch.int64)})
    assert len(calls) == 1 and fresh.exists()


def test_a_variant_found_unavailable_inside_a_test_skips_it_with_the_reason():
    """The plugin's call hook: VariantUnavailable from a first call becomes pytest's skip; other errors stay errors."""
    from fastbert_variants.pytest_plugin import STATE, pytest_runtest_call

    item = types.SimpleNamespace(config=types.SimpleNamespace(stash={STATE: types.SimpleNamespace(engaged=True)}))
    hook = pytest_runtest_call(item)
    next(hook)
    with pytest.raises(pytest.skip.Exception, match="torch.compile failed"):
        hook.throw(VariantUnavailable("torch-compile-cudagraphs on cuda: torch.compile failed: ..."))
    hook = pytest_runtest_call(item)
    next(hook)
    with pytest.raises(AssertionError):
        hook.throw(AssertionError("a real failure"))


def test_compiled_variants_are_slow_on_cpu_only():
    assert REGISTRY["torch-compile"].slow_reason("cpu").startswith("compile-heavy")
    assert REGISTRY["torch-compile"].slow_reason("cuda") is None
    assert REGISTRY["torch-compile-cudagraphs"].slow_reason("cuda") is None


def test_torchao_configs_are_torchaos_recipes_without_its_global_inductor_settings():
    pytest.importorskip("torchao")
    import torchao.quantization as tq

    float8 = REGISTRY["torchao-float8-dynamic"].config()
    assert isinstance(float8, tq.Float8DynamicActivationFloat8WeightConfig)
    granularity = float8.granularity if isinstance(float8.granularity, list) else [float8.granularity]
    assert all(isinstance(g, tq.PerRow) for g in granularity) and float8.set_inductor_config is False
    assert REGISTRY["torchao-int8-dynamic"].config().set_inductor_config is False
    assert REGISTRY["torchao-float8-dynamic"].recipe.precision == "fp8"
    assert REGISTRY["torchao-float8-dynamic"].devices == ("cuda",)


def test_float8_needs_compute_capability_8_9(monkeypatch):
    import torch

    variant = REGISTRY["torchao-float8-dynamic"]
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda *_: (8, 0))
    assert "compute capability 8.9 or newer; this GPU is 8.0" in variant.backend_reason("cuda")
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda *_: (9, 0))
    assert variant.backend_reason("cuda") is None


def test_a_session_that_fell_back_to_another_provider_is_unavailable():
    from fastbert_variants.variants.ort_session import check_providers

    check_providers("CUDAExecutionProvider", ["CUDAExecutionProvider", "CPUExecutionProvider"])
    with pytest.raises(VariantUnavailable, match="could not start TensorrtExecutionProvider .*CUDAExecutionProvider"):
        check_providers("TensorrtExecutionProvider", ["CUDAExecutionProvider", "CPUExecutionProvider"])


def test_missing_cuda_providers_name_the_extra_that_installs_them():
    pytest.importorskip("onnxruntime")
    import onnxruntime as ort

    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("this onnxruntime has the CUDA provider")
    reason = REGISTRY["ort-cuda-fp16"].backend_reason("cuda")
    assert "has no CUDAExecutionProvider" in reason and "fastbert-variants[cuda]" in reason


def test_ort_cuda_fp16_graph_builds_without_a_gpu_and_runs_io_bound_on_the_cpu_provider(default_bench):
    """ort-cuda-fp16's O4 graph (fused, FP16 weights) made here as on a GPU machine, then run with the CUDA variants'
    IO binding on the CPU provider: everything but the CUDA provider itself."""
    pytest.importorskip("optimum.onnxruntime")
    import onnxruntime as ort

    from fastbert_variants.variants.ort_session import IoBoundOrtRunner, graph_file, session_options

    folder, manifest = REGISTRY["ort-cuda-fp16"].artifact(default_bench.context("cuda"))
    assert manifest["info"]["optimization_level"] == "O4" and manifest["info"]["fused_ops"]["Attention"] == 6
    session = ort.InferenceSession(str(graph_file(folder)), session_options(2), providers=["CPUExecutionProvider"])
    runner = IoBoundOrtRunner(variant="ort-cuda-fp16", device="cpu", size_bytes=1, build_seconds=0.0, session=session,
                              device_type="cpu")
    batch = next(padded_batches(default_bench.source.tokenizer, default_bench.dataset.texts[:16], 16, 128))
    diff = np.abs(runner(batch) - default_bench.runner("torch-fp32", "cpu")(batch))
    largest, mean = REGISTRY["ort-cuda-fp16"].recipe.logit_tolerance
    assert 0 < diff.max() <= largest and diff.mean() <= mean  # FP16 arithmetic (not 0), within FP16's tolerance


def test_export_model_in_fp16_loads_back_to_fp32_with_the_same_predictions(default_bench, tmp_path):
    """What carries the default model to a GPU machine: half the bytes, the same labels."""
    out = tmp_path / "default-fp16"
    cli = [sys.executable, "-m", "fastbert_variants.cli", "export-model", "--cache-dir", str(default_bench.cache.root),
           "--dtype", "fp16", "--out", str(out)]
    done = subprocess.run(cli, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"use it with --model {out}" in done.stdout
    assert (out / "model.safetensors").stat().st_size < 0.55 * default_bench.source.weights_bytes
    again = subprocess.run(cli, capture_output=True, text=True, timeout=300)
    assert again.returncode == 2 and again.stderr.count("\n") == 1 and "not an empty folder" in again.stderr

    from fastbert_variants.workbench import Workbench

    exported = Workbench(str(out), cache_dir=default_bench.cache.root, threads=2)
    batch = next(padded_batches(default_bench.source.tokenizer, default_bench.dataset.texts[:64], 64, 128))
    logits = exported.runner("torch-fp32", "cpu")(batch)
    reference = default_bench.runner("torch-fp32", "cpu")(batch)
    assert np.abs(logits - reference).max() < 0.05
    assert (logits.argmax(-1) == reference.argmax(-1)).mean() >= 0.98


def test_a_missing_onnxruntime_names_the_build_for_the_device(monkeypatch):
    import importlib.util

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None if name == "onnxruntime" else real_find_spec(name))
    assert REGISTRY["ort-fp32"].unavailable_reason("cpu").endswith("pip install 'fastbert-variants[cpu]'")
    assert REGISTRY["ort-cuda-fp16"].unavailable_reason("cuda").endswith("pip install 'fastbert-variants[cuda]'")


def test_a_torn_tensorrt_engine_is_removed_and_rebuilt_not_failed_on_every_run(default_bench, monkeypatch):
    """TensorRT keeps its engines beside the build cache, outside any manifest: one torn by a killed run made every
    later session start fail. Here the session refuses to start while an engine file is there (as a torn one does),
    and the build removes the engines once and starts again."""
    pytest.importorskip("optimum.onnxruntime")
    import onnxruntime as ort

    variant = REGISTRY["ort-tensorrt-fp16"]
    context = default_bench.context("cuda")
    folder, _ = variant.artifact(context)
    engines = variant.engines_folder(context, folder)
    engines.mkdir(parents=True, exist_ok=True)
    (engines / "model_ctx.engine").write_bytes(b"torn")
    starts = []

    class Session:
        def __init__(self, path, sess_options=None, providers=None):
            starts.append(path)
            if any(engines.glob("*.engine")):
                raise RuntimeError("[ONNXRuntimeError] : 1 : FAIL : TensorRT EP could not deserialize engine")

        def get_providers(self):
            return ["TensorrtExecutionProvider", "CUDAExecutionProvider"]

    monkeypatch.setattr(ort, "InferenceSession", Session)
    runner = variant.build(context)
    assert len(starts) == 2 and not any(engines.glob("*")) and runner.session is not None
    with pytest.raises(RuntimeError, match="could not deserialize"):  # with nothing to remove, the error stands
        (engines / "model_ctx.engine").write_bytes(b"torn")
        monkeypatch.setattr(variant.__class__, "discard_runtime_cache", lambda *a: False)
        variant.build(context)


def test_a_torn_engine_met_at_the_first_run_of_a_shape_is_discarded_and_the_run_tried_once_more():
    """TensorRT loads (or builds) its engine at the first run of each input shape, after the session started: a torn
    engine from a killed run fails there. The runner asks for a new session without the earlier runs' engines."""
    from fastbert_variants.variants.ort_session import OrtRunner

    class Session:
        def __init__(self, torn: bool):
            self.torn, self.runs = torn, 0

        def run(self, _outputs, feed):
            self.runs += 1
            if self.torn:
                raise RuntimeError("[TensorRT EP] could not deserialize engine from cache")
            return [np.zeros((len(feed["input_ids"]), 2), dtype=np.float32)]

    reopened = []

    def reopen(error):
        reopened.append(str(error))
        return Session(torn=False)

    runner = OrtRunner(variant="ort-tensorrt-fp16", device="cuda", size_bytes=1, build_seconds=0.0,
                       session=Session(torn=True), reopen=reopen)
    feed = {"input_ids": np.ones((2, 8), dtype=np.int64)}
    assert runner.run(feed).shape == (2, 2) and len(reopened) == 1 and "deserialize" in reopened[0]
    assert runner.run(feed).shape == (2, 2) and runner.session.runs == 2 and runner.reopen is None
    # Nothing to discard (no cached engines): the provider's own error stands.
    failing = OrtRunner(variant="ort-tensorrt-fp16", device="cuda", size_bytes=1, build_seconds=0.0,
                        session=Session(torn=True), reopen=lambda error: None)
    with pytest.raises(RuntimeError, match="deserialize"):
        failing.run(feed)
