"""The pytest plugin, loaded through the `pytest11` entry point: its hooks; options, state, fixtures and summary are
its modules, as pytest-benchmark splits its own.

Installed with the package, so `pytest --pyargs fastbert_variants.testsuite --fastbert-model ./my-model` runs the
suite from any folder, and this repository's benchmarks/ and accuracy/ run the same tests. Every
pytest in the environment loads it, so it stays out of the way until a session asks for one of its
fixtures: nothing heavy is imported, nothing is printed and no machine facts are added before that.
"""

from __future__ import annotations

import pytest

from .. import plan
from ..errors import UserError
from . import compared, summary
from .fixtures import (  # noqa: F401  (pytest finds the fixtures among the plugin's names)
    fastbert,
    long_text_scorer,
    run_state,
    scorer,
    trained_model,
    workbench,
)
from .options import RUN_OPTIONS, add_options, in_pytest_words, refuse_a_moved_rootdir
from .parallel import names_the_suite, refuse_collected_timing, refuse_parallel_timing
from .state import STATE, RunState, machine_facts

__all__ = ["RUN_OPTIONS", "RunState"]


def pytest_addoption(parser):
    add_options(parser)


@pytest.hookimpl(trylast=True)
def pytest_configure(config):
    config.addinivalue_line("markers", "cuda: needs a CUDA GPU (skipped without one)")
    config.addinivalue_line("markers", "slow: compile-heavy or long; left out of the quick profile")
    try:
        refuse_a_moved_rootdir(config)
        refuse_parallel_timing(config)
        config.stash[STATE] = RunState(config)
    except UserError as exc:
        raise pytest.UsageError(in_pytest_words(str(exc))) from None
    summary.enable_progress(config)


def pytest_unconfigure(config):
    summary.disable_progress(config)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node, ids):
    refuse_collected_timing(node.config, ids)


def pytest_generate_tests(metafunc):
    """Each scenario's cases for the test that asks for its case fixture; the accuracy tests' variant cases."""
    if not any(name.endswith("_case") for name in metafunc.fixturenames):
        return  # not one of ours: nothing imported
    from ..scenarios import SCENARIOS

    state: RunState = metafunc.config.stash[STATE]
    selection = state.selection
    cases = {  # each made only for a test that asks for it: state.devices asks torch whether a GPU is there
        **{s.case_fixture: (lambda s=s: s.cases(selection, state.devices)) for s in SCENARIOS},
        "accuracy_case": lambda: plan.variant_cases(selection.variants, state.devices, with_baseline=False),
        "property_case": lambda: plan.variant_cases(selection.variants, state.devices, with_baseline=True),
    }
    for fixture, make in cases.items():
        if fixture in metafunc.fixturenames:
            metafunc.parametrize(fixture, [pytest.param(c, id=c.id, marks=_marks(selection, c)) for c in make()])


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items):
    """The server scenario's tests last: its shortlist then knows the accuracy gates of this session (without them it
    serves the fastest offline variants ungated, and the recommendation excludes one that then fails its gate)."""
    items.sort(key=lambda item: "server_case" in getattr(getattr(item, "callspec", None), "params", {}))


def pytest_collection_finish(session):
    state = session.config.stash.get(STATE, None)
    if state is not None:
        state.items = list(session.items)


def _marks(selection: plan.Selection, case) -> list:
    """cuda on CUDA cases; slow, and skipped with the reason outside the full profile, for a slow variant."""
    marks = [pytest.mark.cuda] * (case.device == "cuda")
    variant = getattr(case, "variant", None)  # a server case names its variant only once the offline scenario ran
    if variant is None:
        return marks
    from ..variants import REGISTRY

    marks += [pytest.mark.slow] * bool(REGISTRY[variant].slow_reason(case.device))
    skip = selection.skip_reason(variant, case.device)
    return marks + [pytest.mark.skip(reason=in_pytest_words(skip or ""))] * bool(skip)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """A variant found unable to run here in the middle of a test (a compile that fails at its first call) skips
    the test with the reason, as one found so at build time does; what the user gave that cannot be judged (a dataset
    with one label) fails the test in one line and stops the run (pytest_runtestloop ends it as a usage error)."""
    state = item.config.stash.get(STATE, None)
    try:
        return (yield)
    except Exception as exc:
        if state is None or not state.engaged:
            raise
        from ..scenarios import NotMeasured
        from ..variants import VariantUnavailable

        if isinstance(exc, VariantUnavailable | NotMeasured):
            pytest.skip(in_pytest_words(str(exc)))
        if not isinstance(exc, UserError):
            raise
        state.stopped_by = f"fastbert-variants: {in_pytest_words(str(exc))}"
    item.session.shouldstop = state.stopped_by
    pytest.fail(state.stopped_by, pytrace=False)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtestloop(session):
    """Bad input ends the run as pytest's own usage errors do (`ERROR: ...` on stderr, exit 4), not as pytest.exit's
    `! _pytest.outcomes.Exit: ... !`: the model, dataset and lengths are resolved before the first test, and a
    UserError found by a test (a dataset with one label) stops the loop and is said the same way."""
    state = session.config.stash.get(STATE, None)
    ours = state is not None and not session.config.option.collectonly and any(
        "run_state" in getattr(item, "fixturenames", ()) and not item.get_closest_marker("skip")
        for item in session.items)
    try:
        if ours:
            _ = state.workbench
        return (yield)
    except UserError as exc:
        raise pytest.UsageError(f"fastbert-variants: {in_pytest_words(str(exc))}") from None
    except session.Interrupted:
        if state is not None and state.stopped_by:
            raise pytest.UsageError(state.stopped_by) from None
        raise


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter, config):
    """After pytest-benchmark's tables: the report, the comparison with --benchmark-compare's run, the verdict last."""
    state = config.stash.get(STATE, None)
    if state is not None and state.engaged:
        report = summary.write_summary(terminalreporter, state)
        compared.write(terminalreporter)
        summary.write_verdict(terminalreporter, state, report)


def pytest_benchmark_update_machine_info(config, machine_info):
    """Our facts where the suite runs: after it ran, or at --benchmark-compare's start (config time) when the command
    names the suite, so that the saved and the current machine_info are alike."""
    state = config.stash.get(STATE, None)
    if state is not None and (state.engaged or names_the_suite(config.args)):
        machine_info["fastbert_variants"] = state.machine() if state.engaged else machine_facts()


@pytest.hookimpl(optionalhook=True)
def pytest_benchmark_compare_machine_info(config, compared_benchmark):
    """The run --benchmark-compare loaded, kept to be judged as `compare` judges (compared.py)."""
    compared.keep_loaded(config, compared_benchmark)


def pytest_sessionfinish(session):
    state = session.config.stash.get(STATE, None)
    if state is not None:
        summary.write_accuracy_json(state)
        compared.judge(session, state)
