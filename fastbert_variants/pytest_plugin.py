"""The pytest plugin: options, session fixtures and the run's summary, loaded through the `pytest11` entry point.

Installed with the package, so `pytest --pyargs fastbert_variants.testsuite --model ./my-model` runs the
suite from any folder, and this repository's benchmarks/ and accuracy/ run the same tests. Every
pytest in the environment loads it, so it stays out of the way until a session asks for one of its
fixtures: nothing heavy is imported, nothing is printed and no machine facts are added before that.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from functools import cache, cached_property
from typing import TYPE_CHECKING

import pytest

from . import options, progress, suite
from .errors import UserError

if TYPE_CHECKING:
    from .results import AccuracyResult

RUN_OPTIONS = [
    (("--variants",), dict(default="all", help="comma-separated variant names, or all")),
    (("--devices",), dict(default=None, help="cpu,cuda (default: cpu, plus cuda when a GPU is present)")),
    (("--suite-profile",), dict(default="full", choices=sorted(suite.PROFILES),
     help="quick: lengths 16,128,512, batch 1, fewer rounds, no compile-heavy variants; full: the whole matrix")),
    (("--seq-lens",), dict(default=None, help="override the profile's sequence lengths, e.g. 16,128")),
    (("--batch-sizes",), dict(default=None, help="override the profile's batch sizes, e.g. 1,8")),
    (("--max-accuracy-drop",), dict(type=float, default=1.0, help="largest accuracy drop from FP32, in points")),
    (("--max-relative-drop",), dict(type=float, default=1.0, help="largest accuracy drop from FP32, in percent of FP32")),
    (("--p99-budget-ms",), dict(type=float, default=100.0, metavar="MS",
     help="the server scenario's latency budget: capacity is the highest Poisson rate whose p99 stays within it "
          "(default 100)")),
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
# Old names kept for one release; each is added only where no other plugin owns it (pytest-profiling: --profile).
DEPRECATED_ALIASES = {"--profile": ("--suite-profile", "pytest_profiling")}
TIMED_TESTS = ("test_latency", "test_offline", "test_server")
STATE = pytest.StashKey["SuiteState"]()
TERMINAL_FD = pytest.StashKey[int]()


class DeprecatedOptionWarning(pytest.PytestWarning):
    """An option of ours renamed to leave room for another plugin's."""


def _owned_elsewhere(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def pytest_addoption(parser):
    group = parser.getgroup("fastbert-variants")
    options.add_options(group.addoption, options.MODEL_OPTIONS + options.DATASET_OPTIONS + RUN_OPTIONS)
    for old, (new, owner) in DEPRECATED_ALIASES.items():
        if not _owned_elsewhere(owner):
            group.addoption(old, dest=f"deprecated_{old.lstrip('-').replace('-', '_')}", default=None,
                            help=f"deprecated: use {new} ({owner} owns {old})")
    parser.addini("accuracy_thresholds", type="linelist", default=list(suite.DEFAULT_THRESHOLDS),
                  help="per-variant accuracy gates: `VARIANT = POINTS RELATIVE_PERCENT` per line "
                       f"(default: {'; '.join(suite.DEFAULT_THRESHOLDS)})")


@dataclass
class SuiteState:
    """Parsed options plus what the session accumulates (one Workbench, the results)."""

    config: pytest.Config
    latency_results: list = field(default_factory=list)  # LatencyResult, OfflineResult, ServerResult records
    offline_results: list = field(default_factory=list)
    server_results: list = field(default_factory=list)
    offline_warm: set = field(default_factory=set)  # (device, batch, strategy, padding) FP32 has had its first pass on
    offline_fp32_pass_s: dict = field(default_factory=dict)  # (device, batch, strategy) -> FP32's steady pass
    accuracy_results: dict[str, AccuracyResult] = field(default_factory=dict)
    gemm_peaks: dict = field(default_factory=dict)  # device -> GFLOP/s per precision, measured once per session

    def __post_init__(self):
        opt = self.config.option
        self.profile_name = opt.suite_profile
        self.profile = suite.profile(opt.suite_profile)
        self.variant_names = suite.variant_names(opt.variants)
        if not opt.p99_budget_ms > 0:
            raise UserError(f"--p99-budget-ms must be a positive number of milliseconds, got {opt.p99_budget_ms}")
        self.seq_lens = options.parse_list(opt.seq_lens, int, "--seq-lens") if opt.seq_lens else self.profile.seq_lens
        self.batch_sizes = (options.parse_list(opt.batch_sizes, int, "--batch-sizes") if opt.batch_sizes
                            else self.profile.batch_sizes)
        if any(n < 1 for n in (*self.seq_lens, *self.batch_sizes)):
            raise UserError("--seq-lens and --batch-sizes must be positive integers")
        if opt.accuracy_max_length is not None and opt.accuracy_max_length < 8:
            raise UserError(f"--accuracy-max-length must be at least 8 tokens, got {opt.accuracy_max_length}")
        if opt.slow_variant_rows < 0:
            raise UserError(f"--slow-variant-rows must be 0 (every row) or a positive count, got {opt.slow_variant_rows}")
        self.devices_given = options.parse_list(opt.devices, option="--devices") if opt.devices else None
        bad = [d for d in self.devices_given or [] if d not in ("cpu", "cuda")]
        if bad:
            raise UserError(f"--devices: unknown {bad}; use cpu and/or cuda")
        self.gates = suite.Gates.parse(suite.Gate(opt.max_accuracy_drop, opt.max_relative_drop),
                                       self.config.getini("accuracy_thresholds"))

    @cached_property
    def devices(self) -> list[str]:
        """The given devices, or cpu plus cuda when torch sees a GPU (asked only once the suite runs: torch is slow
        to import, and a pytest that runs none of our tests should not pay for it)."""
        from .hardware import cuda_available

        return self.devices_given or (["cpu", "cuda"] if cuda_available() else ["cpu"])

    @property
    def engaged(self) -> bool:
        """Whether this session ran any of the suite (built its workbench)."""
        return "workbench" in self.__dict__

    @cached_property
    def workbench(self):
        from .cli import quiet_libraries
        from .contention import CpuMeter
        from .workbench import Workbench

        self.cpu_meter = CpuMeter()  # from the suite's first work on: who else used the cores

        quiet_libraries()
        opt = self.config.option
        try:
            bench = Workbench(opt.model, options.dataset_spec(opt), options.cache_dir(opt), options.threads(opt),
                              opt.trust_remote_code)
            _ = bench.source.config, bench.dataset  # resolve now: a bad --model or --dataset stops it with one line
            return bench
        except UserError as exc:
            pytest.exit(f"fastbert-variants: {exc}", returncode=2)


@pytest.hookimpl(trylast=True)
def pytest_configure(config):
    config.addinivalue_line("markers", "cuda: needs a CUDA GPU (skipped without one)")
    config.addinivalue_line("markers", "slow: compile-heavy or long; left out of the quick profile")
    try:
        _apply_deprecated_aliases(config)
        refuse_parallel_timing(config)
        config.stash[STATE] = SuiteState(config)
    except UserError as exc:
        raise pytest.UsageError(str(exc)) from None
    _enable_progress(config)


def _apply_deprecated_aliases(config) -> None:
    for old, (new, owner) in DEPRECATED_ALIASES.items():
        value = getattr(config.option, f"deprecated_{old.lstrip('-').replace('-', '_')}", None)
        if value is None:
            continue
        if new in config.invocation_params.args or any(a.startswith(new + "=") for a in config.invocation_params.args):
            raise UserError(f"give {new} alone: {old} is its deprecated old name")
        setattr(config.option, new.lstrip("-").replace("-", "_"), value)
        config.issue_config_time_warning(DeprecatedOptionWarning(
            f"{old} is deprecated and will be removed in the next release: use {new} ({owner} owns {old})"), stacklevel=2)


def _enable_progress(config) -> None:
    """Progress bars on the terminal's own descriptor, duplicated now, before any test captures output."""
    if (config.option.verbose < 0 or hasattr(config, "workerinput") or not sys.stdout.isatty()
            or not os.isatty(2) or os.environ.get("TERM") == "dumb" or os.environ.get("CI")):
        return
    writer = config.get_terminal_writer()
    fd = os.dup(2)
    config.stash[TERMINAL_FD] = fd

    def column() -> int:
        writer.flush()
        return writer.width_of_current_line

    progress.enable(fd, column)


def pytest_unconfigure(config):
    fd = config.stash.get(TERMINAL_FD, None)
    if fd is not None:
        progress.disable()
        os.close(fd)


def refuse_parallel_timing(config) -> None:
    """pytest-xdist workers share the cores and would time each other; pytest-benchmark then times nothing, quietly.

    Refused at start when the command names the suite; otherwise once the workers report what they collected.
    """
    if config.getoption("dist", "no") != "no" and not _timing_off(config) and _names_the_suite(config.args):
        raise UserError(PARALLEL_REFUSED)


PARALLEL_REFUSED = ("pytest-xdist (-n/--dist) runs tests in parallel workers that share the cores, so timings "
                    "would measure each other: run the timed tests without -n, or add --benchmark-skip "
                    "(accuracy and unit tests only) or --benchmark-disable (check every variant runs, no timing)")


def _timing_off(config) -> bool:
    return bool(getattr(config.option, "benchmark_disable", False) or getattr(config.option, "benchmark_skip", False))


def _names_the_suite(args: list[str]) -> bool:
    """Whether the command's paths hold our timed tests: this repository's benchmarks/ or the installed suite."""
    timed_files = tuple(t + ".py" for t in TIMED_TESTS)
    return any(a == "fastbert_variants" or a.startswith("fastbert_variants.testsuite")
               or "fastbert_variants/testsuite" in a or a.split("::")[0].rstrip("/").endswith(("benchmarks", *timed_files))
               for a in args)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node, ids):
    """The xdist controller's last chance: the workers collected timed tests of ours, under a bare `pytest -n 2`."""
    if not _timing_off(node.config) and any(i.split("::")[-1].split("[")[0] in TIMED_TESTS for i in ids):
        pytest.exit(PARALLEL_REFUSED, returncode=pytest.ExitCode.USAGE_ERROR)


def pytest_generate_tests(metafunc):
    state = metafunc.config.stash[STATE]
    if "latency_case" in metafunc.fixturenames:
        cases = suite.latency_cases(state.variant_names, state.devices, state.batch_sizes, state.seq_lens)
        metafunc.parametrize("latency_case", [pytest.param(c, id=c.id, marks=_marks(state, c.device, c.variant))
                                              for c in cases])
    if "server_case" in metafunc.fixturenames:
        cases = suite.server_cases(state.devices, state.profile.server_shortlist)
        metafunc.parametrize("server_case", [pytest.param(c, id=c.id, marks=[pytest.mark.cuda] * (c.device == "cuda"))
                                             for c in cases])
    if "offline_case" in metafunc.fixturenames:
        cases = suite.offline_cases(state.variant_names, state.devices, state.profile.offline_strategies)
        metafunc.parametrize("offline_case", [pytest.param(c, id=c.id, marks=_marks(state, c.device, c.variant))
                                              for c in cases])
    for fixture, with_baseline in (("accuracy_case", False), ("property_case", True)):
        if fixture in metafunc.fixturenames:
            cases = suite.variant_cases(state.variant_names, state.devices, with_baseline)
            metafunc.parametrize(fixture, [pytest.param(c, id=f"{c[0]}-{c[1]}", marks=_marks(state, *c))
                                           for c in cases])


def _marks(state: SuiteState, device: str, variant: str) -> list:
    from .variants import REGISTRY

    marks = [pytest.mark.cuda] * (device == "cuda") + [pytest.mark.slow] * bool(REGISTRY[variant].slow_reason(device))
    skip = suite.quick_profile_skip(variant, device, state.profile_name, bool(state.variant_names))
    return marks + [pytest.mark.skip(reason=skip)] * bool(skip)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """A variant found unable to run here in the middle of a test (a compile that fails at its first call) skips
    the test with the reason, as one found so at build time does."""
    try:
        return (yield)
    except Exception as exc:
        state = item.config.stash.get(STATE, None)
        if state is not None and state.engaged:
            from .variants.base import VariantUnavailable

            if isinstance(exc, VariantUnavailable):
                pytest.skip(str(exc))
            if isinstance(exc, UserError):  # what the user gave cannot be judged (one label, say): one line, exit 2
                pytest.exit(f"fastbert-variants: {exc}", returncode=2)
        raise


# --- session fixtures: every test of the suite shares one workbench, so each variant is built once ---

@pytest.fixture(scope="session")
def suite_state(request) -> SuiteState:
    return request.config.stash[STATE]


@pytest.fixture(scope="session")
def workbench(suite_state):
    return suite_state.workbench


@pytest.fixture(scope="session")
def runner_or_skip(workbench):
    """runner(variant, device), or the test is skipped with the reason the variant cannot run here."""
    from .workbench import VariantUnavailable

    def runner(name: str, device: str):
        try:
            return workbench.runner(name, device)
        except VariantUnavailable as reason:
            pytest.skip(str(reason))

    return runner


@pytest.fixture(scope="session")
def cell_batch(workbench):
    """batch(batch_size, seq_len): exactly seq_len real tokens per row; the same arrays for every variant."""
    from .inputs import exact_length_batch

    @cache
    def batch(batch_size: int, seq_len: int):
        try:
            return exact_length_batch(workbench.source.tokenizer, workbench.dataset.texts, seq_len, batch_size,
                                      workbench.source.max_positions)
        except UserError as reason:
            return reason

    return batch


@pytest.fixture(scope="session")
def offline_traffic(workbench, suite_state):
    """traffic(strategy, batch_size, pad_to_multiple): the profile's first N texts of the dataset, batched."""
    from .inputs import make_traffic

    texts = workbench.dataset.texts[: suite_state.profile.offline_texts]
    max_length = min(512, workbench.source.max_positions)
    return cache(lambda strategy, batch_size, pad_to_multiple=None: make_traffic(
        strategy, workbench.source.tokenizer, texts, batch_size, max_length, pad_to_multiple))


@pytest.fixture(scope="session")
def gemm_peaks(workbench, suite_state):
    """peaks(device): GEMM GFLOP/s per precision with the run's threads, measured once per device per session."""
    from .roofline import gemm_peaks as measure
    from .workbench import configure_threads

    def peaks(device: str) -> dict:
        if device not in suite_state.gemm_peaks:
            configure_threads(workbench.threads)
            with progress.activity(f"measuring {device} GEMM peaks"):
                suite_state.gemm_peaks[device] = measure(device, workbench.threads)
        return suite_state.gemm_peaks[device]

    return peaks


@pytest.fixture(scope="session")
def scorer(workbench, suite_state):
    """One Scorer per session, so FP32 is scored once."""
    from .accuracy import Scorer

    return Scorer(workbench, max_length=suite_state.config.option.accuracy_max_length)


@pytest.fixture(scope="session")
def long_text_scorer(workbench, suite_state):
    """A Scorer on the long-text set (held-out tweets joined into 256-512 tokens), scored up to 512 tokens."""
    from .accuracy import Scorer
    from .datasets import LONG_TEXT_TOKENS, long_tweets

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


# --- the run's summary and what it leaves on disk ---

def pytest_terminal_summary(terminalreporter, config):
    state = config.stash.get(STATE, None)
    if state is None or not state.engaged:
        return
    from .report import Report
    from .runs import Run

    write, section = terminalreporter.write_line, terminalreporter.write_sep
    rebuilt = state.workbench.cache.rebuilt
    if rebuilt:
        section("=", f"fastbert-variants: rebuilt {len(rebuilt)} cache entries found incomplete or corrupt")
        write("\n".join(rebuilt))
    run = Run(latency=state.latency_results, offline=state.offline_results, server=state.server_results,
              accuracy=state.accuracy_results or None, machine=machine_facts(config))
    for title, text in Report(run).terminal():
        section("=", f"fastbert-variants: {title}")
        write(text)
    if state.latency_results:
        write(f"GEMM peaks measured this session: {state.gemm_peaks}")
    write(state.cpu_meter.share().line())
    if config.option.accuracy_json and not state.accuracy_results:
        write(f"--accuracy-json {config.option.accuracy_json}: not written, nothing was scored in this run (a file "
              "already there is left as it was)")


def machine_facts(config) -> dict:
    """CPU model and flags, GPU and library versions: once per run, not per result.

    Facts only: pytest-benchmark compares the saved run's machine_info with this one's as a whole at
    --benchmark-compare and warns on any difference, so the GEMM peaks, measured anew each session,
    stay with the results (each latency result's roofline fields) and the terminal summary.
    """
    from . import hardware
    from .cache import library_versions

    return {**hardware.describe(), "versions": library_versions()}


def pytest_benchmark_update_machine_info(config, machine_info):
    """Our facts where the suite runs: after it ran, or at --benchmark-compare's start (config time) when the command
    names the suite, so that the saved and the current machine_info are alike."""
    state = config.stash.get(STATE, None)
    if state is not None and (state.engaged or _names_the_suite(config.args)):
        machine_info["fastbert_variants"] = machine_facts(config)
        if state.engaged:
            machine_info["fastbert_variants"]["cpu_share"] = state.cpu_meter.share().to_json()


def pytest_sessionfinish(session):
    """The accuracy JSON, whole or not at all; a run that scored nothing leaves the previous file as it was."""
    from .files import write_atomically

    state = session.config.stash.get(STATE, None)
    path = session.config.option.accuracy_json
    if state and path and state.accuracy_results:
        write_atomically(path, json.dumps({k: r.to_json() for k, r in state.accuracy_results.items()}, indent=2))
