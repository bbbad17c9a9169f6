"""`pytest --benchmark-compare` judged as `fastbert-variants compare` judges: speedups against the between-run noise.

pytest-benchmark's own `--benchmark-compare-fail` compares absolute times, which move with the runner's speed and load;
two runs of the same code fail it on a shared machine. The run that `--benchmark-compare` loads is a pytest-benchmark
JSON like `--benchmark-json`'s, so the suite reads it as a BASE run and prints its own verdict beside
pytest-benchmark's table: each variant's speedup over FP32 per scenario, judged against the spread between runs
(`--fastbert-noise`, or the package's default), Benjamini-Hochberg over the comparisons. `--fastbert-compare-fail`
turns a regression into exit 1 (and runs that cannot be compared into exit 4, as pytest's usage errors).
"""

from __future__ import annotations

import pytest

from .. import options
from ..errors import UserError
from .options import in_pytest_words

LOADED = pytest.StashKey[list]()  # the runs --benchmark-compare loaded, as pytest-benchmark read them
VERDICT = pytest.StashKey[list]()  # the lines to print at the end of the session


def keep_loaded(config, compared_benchmark: dict) -> None:
    config.stash.setdefault(LOADED, []).append(compared_benchmark)


def judged_by(opt) -> tuple[float, float, tuple[str, ...]]:
    """The gate's options, parsed (at the session's start too: a wrong one is a usage error before minutes of timing)."""
    return (options.parse_percent(opt.max_speedup_loss, "--max-speedup-loss"),
            options.parse_significance(opt.significance), options.parse_allowed(opt.allow_different))


def check_options(config, opt) -> None:
    judged_by(opt)
    if opt.noise:
        from ..noise import read_noise

        read_noise(opt.noise)
    if opt.compare_fail and not config.getoption("benchmark_compare", None):
        raise UserError("--compare-fail judges this run against the one --benchmark-compare loads; add "
                        "--benchmark-compare (and save a base run with --benchmark-autosave first)")


def judge(session, state) -> None:
    """Compare this session's run with the loaded ones; the lines kept for the terminal summary, the exit status set
    where --fastbert-compare-fail asks."""
    loaded = session.config.stash.get(LOADED, [])
    if not loaded or not state.engaged or not state.run.measured:
        return
    fail = state.opt.compare_fail
    try:
        lines, regressed = _verdict(loaded, state)
    except UserError as exc:
        lines, regressed = [f"not compared: {in_pytest_words(str(exc))}"], None
    session.config.stash[VERDICT] = lines
    if fail and session.exitstatus == pytest.ExitCode.OK and (regressed is None or regressed):
        session.exitstatus = pytest.ExitCode.USAGE_ERROR if regressed is None else pytest.ExitCode.TESTS_FAILED


def write(terminalreporter) -> None:
    lines = terminalreporter.config.stash.get(VERDICT, None)
    if lines:
        terminalreporter.write_sep("=", "fastbert-variants: this run against --benchmark-compare's, speedups over FP32")
        terminalreporter.write_line("\n".join(lines))


def _verdict(loaded: list[dict], state) -> tuple[list[str], bool]:
    from .. import noise
    from ..comparable import refuse_if_different
    from ..compare import speedup_changes, verdict_lines
    from ..runs import NoResults, Run, read_into

    bases = []
    for number, data in enumerate(loaded, 1):
        base = Run(sources=[f"--benchmark-compare's run {data.get('datetime') or number}"])
        try:
            read_into(base, data, base.sources[0])
        except NoResults:
            continue  # a saved run of other tests: nothing of the suite's to compare with
        bases.append(base)
    if not bases:
        raise UserError("the run --benchmark-compare loaded holds no fastbert-variants results; save one with "
                        "`pytest benchmarks --benchmark-autosave` on the base first")
    new = state.run
    new.machine = state.machine()
    loss, significance, allowed = judged_by(state.opt)
    for base in bases:
        refuse_if_different(base, new, allowed, f"{base.sources[0]} and this run")
    spread, said = noise.choose(state.opt.noise, bases, new, allowed)
    changes = speedup_changes(bases, new, loss, spread, significance)
    if not changes:
        raise UserError("no speedup over torch-fp32 measured in both runs; time torch-fp32 beside the variants in both")
    changes.sort(key=lambda c: (not c.regressed, -abs(c.change or 0)))
    lines = verdict_lines(changes, bases, new, loss, significance, None, said, allowed)
    return lines, any(c.regressed for c in changes)
