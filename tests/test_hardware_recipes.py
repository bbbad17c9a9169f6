"""Instruction sets named right, recipes validated and shared, FLOPs counted as the config says."""

import os

import pytest

from fastbert_variants.hardware import OPTIMUM_ISA, cpu_features, cpu_isa
from fastbert_variants.recipes import Recipe
from fastbert_variants.roofline import flops_per_call
from fastbert_variants.variants import REGISTRY

XEON_207 = frozenset("avx2 avx512f avx512_vnni avx_vnni avx512_bf16 avx512_fp16".split())
SAPPHIRE_RAPIDS = XEON_207 | {"amx_int8", "amx_bf16", "amx_tile"}
EPYC_ZEN3 = frozenset("avx2 fma sse4_2".split())
ALDER_LAKE = frozenset("avx2 avx_vnni".split())


@pytest.mark.parametrize(("flags", "isa"), [(XEON_207, "avx512_vnni"), (SAPPHIRE_RAPIDS, "amx_int8"),
                                           (EPYC_ZEN3, "avx2"), (ALDER_LAKE, "avx_vnni"), (frozenset(), "unknown")])
def test_cpu_isa_names_the_best_int8_instructions(flags, isa):
    assert cpu_isa(flags, machine="x86_64") == isa
    assert isa == "unknown" or isa in OPTIMUM_ISA  # every known ISA maps to one of Optimum's configs


def test_arm64_is_told_by_the_machine_and_its_dot_product_by_the_flags():
    assert cpu_isa(frozenset({"asimd", "asimddp"}), machine="aarch64") == "arm64"
    assert "arm64_dotprod" in cpu_features(frozenset({"asimddp", "bf16"}))
    assert {"avx512_vnni", "avx512_bf16", "avx_vnni"} <= set(cpu_features(XEON_207))


def test_recipes_refuse_what_no_family_understands():
    with pytest.raises(ValueError, match="precision"):
        Recipe("int4")
    with pytest.raises(ValueError, match="keep_float"):
        Recipe("int8", keep_float=("embeddings",))


def test_recipe_is_part_of_every_variants_definition():
    dynamic, every_matmul = REGISTRY["ort-int8-dynamic"], REGISTRY["ort-int8-dynamic-every-matmul"]
    assert dynamic.definition()["recipe"]["keep_float"] == ("ffn-down",)
    assert every_matmul.definition()["recipe"]["keep_float"] == ()
    assert {"description", "library"}.isdisjoint(dynamic.definition())
    # The FFN rule is declared once, as data, by every int8 family that keeps it.
    assert REGISTRY["torch-dynamic-int8"].recipe.keep_float == dynamic.recipe.keep_float


def test_eager_torchao_int8_is_slow_only_without_an_int8_dot_product(monkeypatch):
    import fastbert_variants.variants.base as base

    eager = REGISTRY["torchao-int8-dynamic-eager"]
    monkeypatch.setattr(base, "cpu_features", lambda: cpu_features(EPYC_ZEN3))
    assert eager.runs_slowly("cpu") and "no fast kernel" in eager.slow_reason("cpu")
    monkeypatch.setattr(base, "cpu_features", lambda: cpu_features(XEON_207))
    assert not eager.runs_slowly("cpu") and eager.slow_reason("cpu") is None
    assert "compile-heavy" in REGISTRY["torchao-int8-dynamic"].slow_reason("cpu")


def test_flops_per_call_of_bert_base():
    from types import SimpleNamespace

    bert_base = SimpleNamespace(num_hidden_layers=12, hidden_size=768, intermediate_size=3072, num_labels=2)
    # 12 layers x 2 x 128 tokens x (4 x 768^2 + 2 x 768 x 3072) + 12 x 4 x 128^2 x 768 + the head
    expected = 12 * 2 * 128 * (4 * 768 ** 2 + 2 * 768 * 3072) + 12 * 4 * 128 ** 2 * 768 + 2 * 768 * 770
    assert flops_per_call(bert_base, 1, 128) == expected
    assert 22.0e9 < expected < 22.6e9  # the familiar ~22 GFLOP of BERT-base at 128 tokens
    assert flops_per_call(bert_base, 8, 128) > 7.9 * expected


def test_roofline_shares_are_against_the_variants_own_precision():
    from types import SimpleNamespace

    from fastbert_variants.roofline import roofline

    config = SimpleNamespace(num_hidden_layers=6, hidden_size=384, intermediate_size=1536, num_labels=2)
    peaks = {"fp32": 100.0, "int8": 250.0, "int8_kernels": {"onnxruntime": 250.0}}
    gflop = flops_per_call(config, 8, 128) / 1e9
    fp32 = roofline(config, 8, 128, gflop / 50, "fp32", peaks)  # a call at 50 GFLOP/s
    int8 = roofline(config, 8, 128, gflop / 50, "int8", peaks)
    assert fp32.achieved_gflops == 50.0 and fp32.share_of_peak == 0.5 and int8.share_of_peak == 0.2
    assert roofline(config, 8, 128, 1.0, "bf16", peaks).share_of_peak is None  # no bf16 peak measured


@pytest.mark.parametrize(("files", "cgroup", "expected"), [
    ({"cpu.max": "200000 100000"}, "0::/\n", 2.0),
    ({"cpu.max": "max 100000"}, "0::/\n", None),
    ({"docker/abc/cpu.max": "150000 100000"}, "0::/docker/abc\n", 1.5),
    ({"cpu/cpu.cfs_quota_us": "300000", "cpu/cpu.cfs_period_us": "100000"}, "4:cpu,cpuacct:/\n", 3.0),
    ({"cpu/cpu.cfs_quota_us": "-1", "cpu/cpu.cfs_period_us": "100000"}, "4:cpu,cpuacct:/\n", None),
    ({}, "", None),
])
def test_cgroup_cpu_quota_v1_and_v2(tmp_path, files, cgroup, expected):
    from fastbert_variants.hardware import cgroup_cpu_limit

    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    proc = tmp_path / "proc-self-cgroup"
    proc.write_text(cgroup)
    assert cgroup_cpu_limit(tmp_path, proc) == expected


def test_threads_follow_a_cgroup_quota_below_the_cores(monkeypatch):
    """A container limited to 2 CPUs on a 64-core host: 2 threads, not 64."""
    import psutil

    from fastbert_variants import hardware

    monkeypatch.setattr(psutil, "cpu_count", lambda logical=True: 64)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(64)))
    monkeypatch.setattr(hardware, "cgroup_cpu_limit", lambda: 2.0)
    assert hardware.physical_cores() == 2
    monkeypatch.setattr(hardware, "cgroup_cpu_limit", lambda: 0.5)
    assert hardware.physical_cores() == 1
    monkeypatch.setattr(hardware, "cgroup_cpu_limit", lambda: None)
    assert hardware.physical_cores() == 64


@pytest.mark.parametrize("name", ["torch-bf16", "openvino-bf16"])
def test_bf16_variants_skip_on_a_cpu_without_native_bf16(monkeypatch, name):
    import fastbert_variants.families.openvino as openvino_family
    import fastbert_variants.families.torch_eager as eager_family

    for family in (openvino_family, eager_family):
        monkeypatch.setattr(family, "cpu_has_native_bf16", lambda: False)
    assert "no native bf16" in REGISTRY[name].backend_reason("cpu")
    for family in (openvino_family, eager_family):
        monkeypatch.setattr(family, "cpu_has_native_bf16", lambda: True)
    assert REGISTRY[name].backend_reason("cpu") is None


def test_the_fp32_and_int8_peaks_are_the_best_library_s(monkeypatch):
    """MKL's sgemm runs at half of MLAS's on AMD CPUs: a torch-only FP32 peak put ORT FP32 at 195% of "the peak"."""
    from fastbert_variants import roofline

    monkeypatch.setattr(roofline, "PEAK_SIZE", 128)
    roofline.gemm_peaks.cache_clear()
    try:
        peaks = roofline.gemm_peaks("cpu", threads=-1)
    finally:
        roofline.gemm_peaks.cache_clear()
    for precision in ("fp32", "int8"):
        kernels = peaks[f"{precision}_kernels"]
        assert "onnxruntime" in kernels and peaks[precision] == max(kernels.values()) > 0
    assert "torch.mm" in peaks["fp32_kernels"] and "torch._int_mm" in peaks["int8_kernels"]
