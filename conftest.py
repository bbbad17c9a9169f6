"""pytest options and session fixtures for fastbert-variants' benchmarks/ and accuracy/ suites."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import pytest

from fastbert_variants import options, suite
from fastbert_variants.cli import quiet_libraries
from fastbert_variants.errors import UserError

quiet_libraries()

RUN_OPTIONS = [
    (("--variants",), dict(default="all", help="comma-separated variant names, or all")),
    (("--devices",), dict(default=None, help="cpu,cuda (default: cpu, plus cuda when a GPU is present)")),
    (("--profile",), dict(default="full", choices=sorted(suite.PROFILES),
                          help="quick: lengths 16,128,512, batch 1, fewer rounds, no compile-heavy variants; full: the whole matrix")),
    (("--seq-lens",), dict(default=None, help="override the profile's sequence lengths, e.g. 16,128")),
    (("--batch-sizes",), dict(default=None, help="override the profile's batch sizes, e.g. 1,8")),
    (("--max-accuracy-drop",), dict(type=float, default=1.0, help="largest accuracy drop from FP32, in points")),
    (("--max-relative-drop",), dict(type=float, default=1.0, help="largest accuracy drop from FP32, in percent of FP32")),
    (("--serve-variant",), dict(default="torch-fp32", help="the variant the serving benchmark serves")),
    (("--slow-variant-rows",), dict(type=int, default=1500, metavar="N",
     help="rows a variant that runs many times slower than FP32 here (torchao int8 dynamic without VNNI) is gated "
          "on: a fixed sample, FP32 on the same rows (default 1500; 0 = all)")),
    (("--accuracy-max-length",), dict(type=int, default=None, metavar="TOKENS",
     help="score texts up to this many tokens (default: the model's maximum, 512 for BERT; dynamic padding, so "
          "short texts cost nothing extra)")),
    (("--long-texts",), dict(default="auto", choices=("auto", "off"),
     help="also gate each variant on the long-text set (held-out tweets joined into 256-512 tokens) when the "
          "dataset is the default (auto), or not (off)")),
    (("--accuracy-json",), dict(default=None, metavar="PATH", help="write every variant's scores here")),
]
STATE = pytest.StashKey["SuiteState"]()


def pytest_addoption(parser):
    group = parser.getgroup("fastbert-variants")
    options.add_options(group.addoption, options.MODEL_OPTIONS + options.DATASET_OPTIONS + RUN_OPTIONS)
    parser.addini("accuracy_thresholds", type="linelist", default=[],
                  help="per-variant accuracy gates: `VARIANT = POINTS RELATIVE_PERCENT` per line")


@dataclass
class SuiteState:
    """Parsed options plus what the session accumulates (one Workbench, the results)."""

    config: pytest.Config
    latency_results: list = field(default_factory=list)
    batching_results: list = field(default_factory=list)
    serving_results: list = field(default_factory=list)
    accuracy_results: dict = field(default_factory=dict)
    gemm_peaks: dict = field(default_factory=dict)  # device -> GFLOP/s per precision, measured once per session

    def __post_init__(self):
        opt = self.config.option
        self.profile = suite.profile(opt.profile)
        self.variant_names = suite.variant_names(opt.variants)
        suite.variant_names(opt.serve_variant)  # an unknown name stops the session here, in one line
        self.seq_lens = options.parse_list(opt.seq_lens, int, "--seq-lens") if opt.seq_lens else self.profile.seq_lens
        self.batch_sizes = (options.parse_list(opt.batch_sizes, int, "--batch-sizes") if opt.batch_sizes
                            else self.profile.batch_sizes)
        if any(n < 1 for n in (*self.seq_lens, *self.batch_sizes)):
            raise UserError("--seq-lens and --batch-sizes must be positive integers")
        if opt.accuracy_max_length is not None and opt.accuracy_max_length < 8:
            raise UserError(f"--accuracy-max-length must be at least 8 tokens, got {opt.accuracy_max_length}")
        if opt.slow_variant_rows < 0:
            raise UserError(f"--slow-variant-rows must be 0 (every row) or a positive count, got {opt.slow_variant_rows}")
        self.devices = options.parse_list(opt.devices, option="--devices") if opt.devices else self._default_devices()
        bad = [d for d in self.devices if d not in ("cpu", "cuda")]
        if bad:
            raise UserError(f"--devices: unknown {bad}; use cpu and/or cuda")
        self.gates = suite.Gates.parse(suite.Gate(opt.max_accuracy_drop, opt.max_relative_drop),
                                       self.config.getini("accuracy_thresholds"))

    @staticmethod
    def _default_devices():
        from fastbert_variants.hardware import cuda_available

        return ["cpu", "cuda"] if cuda_available() else ["cpu"]

    @cached_property
    def workbench(self):
        from fastbert_variants.workbench import Workbench

        opt = self.config.option
        try:
            bench = Workbench(opt.model, options.dataset_spec(opt), options.cache_dir(opt), options.threads(opt),
                              opt.trust_remote_code)
            _ = bench.source.config  # resolve now: a bad --model stops the session with one line
            return bench
        except UserError as exc:
            pytest.exit(f"fastbert-variants: {exc}", returncode=2)


def pytest_configure(config):
    try:
        refuse_parallel_timing(config)
        config.stash[STATE] = SuiteState(config)
    except UserError as exc:
        raise pytest.UsageError(str(exc)) from None


def refuse_parallel_timing(config) -> None:
    """pytest-xdist workers share the cores and would time each other; pytest-benchmark then times nothing, quietly."""
    opt = config.option
    parallel = config.getoption("dist", "no") != "no"
    if parallel and not (getattr(opt, "benchmark_disable", False) or getattr(opt, "benchmark_skip", False)):
        raise UserError("pytest-xdist (-n/--dist) runs tests in parallel workers that share the cores, so timings "
                        "would measure each other: run the timed tests without -n, or add --benchmark-skip "
                        "(accuracy and unit tests only) or --benchmark-disable (check every variant runs, no timing)")


def pytest_generate_tests(metafunc):
    state = metafunc.config.stash[STATE]
    if "latency_case" in metafunc.fixturenames:
        cases = suite.latency_cases(state.variant_names, state.devices, state.batch_sizes, state.seq_lens)
        metafunc.parametrize("latency_case", [pytest.param(c, id=c.id, marks=_marks(state, c.device, c.variant))
                                              for c in cases])
    if "serving_case" in metafunc.fixturenames:
        variant = metafunc.config.option.serve_variant
        cases = [(device, variant, mode) for device in state.devices for mode in ("no-batching", "dynamic-batching")
                 if device in suite.REGISTRY[variant].devices]
        metafunc.parametrize("serving_case", [pytest.param(c, id="-".join(c), marks=_marks(state, c[0], variant))
                                              for c in cases])
    if "batching_case" in metafunc.fixturenames:
        from fastbert_variants.inputs import PADDING_STRATEGIES

        cases = suite.batching_cases(state.variant_names, state.devices, list(PADDING_STRATEGIES))
        metafunc.parametrize("batching_case", [pytest.param(c, id=c.id, marks=_marks(state, c.device, c.variant))
                                               for c in cases])
    for fixture, with_baseline in (("accuracy_case", False), ("property_case", True)):
        if fixture in metafunc.fixturenames:
            cases = suite.variant_cases(state.variant_names, state.devices, with_baseline)
            metafunc.parametrize(fixture, [pytest.param(c, id=f"{c[0]}-{c[1]}", marks=_marks(state, *c))
                                           for c in cases])


def _marks(state: SuiteState, device: str, variant: str) -> list:
    from fastbert_variants.variants import REGISTRY

    marks = [pytest.mark.cuda] * (device == "cuda") + [pytest.mark.slow] * bool(REGISTRY[variant].slow_reason(device))
    skip = suite.quick_profile_skip(variant, device, state.config.option.profile, bool(state.variant_names))
    return marks + [pytest.mark.skip(reason=skip)] * bool(skip)


@pytest.fixture(scope="session")
def suite_state(request) -> SuiteState:
    return request.config.stash[STATE]


@pytest.fixture(scope="session")
def workbench(suite_state):
    return suite_state.workbench


def pytest_terminal_summary(terminalreporter, config):
    from fastbert_variants.report import (
        accuracy_rows,
        batching_rows,
        build_rows,
        recommend,
        recommendation_lines,
        roofline_rows,
        serving_rows,
        speedup_table,
        text_table,
    )

    state = config.stash.get(STATE, None)
    rebuilt = state.workbench.cache.rebuilt if state and "workbench" in state.__dict__ else []
    if rebuilt:
        terminalreporter.write_sep("=", f"fastbert-variants: rebuilt {len(rebuilt)} cache entries found incomplete "
                                        "or corrupt")
        terminalreporter.write_line("\n".join(rebuilt))
    if state and state.latency_results:
        terminalreporter.write_sep("=", "fastbert-variants: speedup over torch-fp32 (interleaved median, same run)")
        terminalreporter.write_line(speedup_table(state.latency_results))
        terminalreporter.write_sep("=", "fastbert-variants: recommended variant per cell (fastest beyond noise, "
                                        "within its accuracy gate)")
        for line in recommendation_lines(recommend(state.latency_results, state.accuracy_results or None)):
            terminalreporter.write_line(line)
        terminalreporter.write_sep("=", "fastbert-variants: roofline (achieved GFLOP/s, share of this machine's GEMM peak "
                                        "for the variant's precision)")
        terminalreporter.write_line(text_table(roofline_rows(state.latency_results)))
        terminalreporter.write_line(f"GEMM peaks measured this session: {state.gemm_peaks}")
        terminalreporter.write_sep("=", "fastbert-variants: build and compile seconds (a second run on the same cache "
                                        "builds nothing; compiled variants retrace, reusing inductor's C++ kernels)")
        terminalreporter.write_line(text_table(build_rows(state.latency_results)))
    if state and state.accuracy_results:
        terminalreporter.write_sep("=", "fastbert-variants: accuracy against torch-fp32 on the same rows (gated: the drop)")
        terminalreporter.write_line(text_table(accuracy_rows(state.accuracy_results)))
    if state and state.batching_results:
        terminalreporter.write_sep("=", "fastbert-variants: real traffic, padding strategies (samples/s)")
        terminalreporter.write_line(text_table(batching_rows(state.batching_results)))
    if state and state.serving_results:
        terminalreporter.write_sep("=", "fastbert-variants: serving, dynamic batching off and on")
        terminalreporter.write_line(text_table(serving_rows(state.serving_results)))


def pytest_benchmark_update_machine_info(config, machine_info):
    """Machine facts once per run (CPU features, GEMM peaks, GPU, library versions), not in every result."""
    from fastbert_variants import hardware
    from fastbert_variants.cache import library_versions

    state = config.stash.get(STATE, None)
    machine_info["fastbert_variants"] = {**hardware.describe(), "gemm_peaks_gflops": state.gemm_peaks if state else {},
                                         "versions": library_versions()}


def pytest_sessionfinish(session):
    state = session.config.stash.get(STATE, None)
    path = session.config.option.accuracy_json
    if state and path:  # written even when nothing was scored, so a report can say so rather than fail
        Path(path).write_text(json.dumps(state.accuracy_results, indent=2))
