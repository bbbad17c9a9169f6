"""What a session shows and leaves: progress bars while it runs, the Report at its end, machine facts, the accuracy JSON."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from .. import progress
from .options import in_pytest_words
from .state import RunState

TERMINAL_FD = pytest.StashKey[int]()


def enable_progress(config) -> None:
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


def disable_progress(config) -> None:
    fd = config.stash.get(TERMINAL_FD, None)
    if fd is not None:
        progress.disable()
        os.close(fd)


def write_summary(terminalreporter, state: RunState):
    """The run's Report (recommendations per scenario, then the tables), rebuilt cache entries and the CPU share;
    returns the Report, whose recommendations the verdict reads."""
    from ..report import Report

    write, section = terminalreporter.write_line, terminalreporter.write_sep
    rebuilt = state.workbench.cache.rebuilt
    if rebuilt:
        section("=", f"fastbert-variants: rebuilt {len(rebuilt)} cache entries found incomplete or corrupt")
        write("\n".join(rebuilt))
    run = state.run
    run.machine = state.machine()
    report = Report(run)
    for title, text in report.terminal():
        section("=", f"fastbert-variants: {title}")
        write(text)
    if state.session.gemm_peaks:
        write(f"GEMM peaks measured this session: {state.session.gemm_peaks}")
    write(state.cpu_meter.share().line())
    path = state.opt.accuracy_json
    if path and not run.accuracy:
        write(f"--fastbert-accuracy-json {path}: not written, nothing was scored in this run (a file already there is left as "
              "it was)")
    return report


def write_verdict(terminalreporter, state: RunState, report) -> None:
    """The verdict, last (after pytest-benchmark's tables and ours), from the report just written; recommendation.json
    beside --benchmark-json; the step summary of a GitHub Actions job."""
    from .. import verdict

    if not state.run.measured:
        return
    found = verdict.verdict_of(report, not_measured(state))
    terminalreporter.write_sep("=", f"fastbert-variants: verdict ({found.machine or 'this machine'})")
    terminalreporter.write_line("\n".join(verdict.lines(found)))
    saved = getattr(state.config.option, "benchmark_json", None)  # a Path (pytest-benchmark 4+), or an open file
    if saved is not None:
        saved = Path(saved if isinstance(saved, str | os.PathLike) else saved.name)
        written = verdict.write_json(found, saved.with_name("recommendation.json"))
        terminalreporter.write_line(f"the verdict as JSON: {written}")
    step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if step_summary:
        with open(step_summary, "a", encoding="utf-8") as out:
            out.write(verdict.markdown(found) + "\n")


def not_measured(state: RunState) -> dict[str, str]:
    """Each chosen variant that no timed scenario measured in this run, and why (as far as the session knows)."""
    from .. import plan
    from ..variants import REGISTRY

    timed = {r.variant for records in state.run.records.values() for r in records}
    missing = {}
    for case in plan.variant_cases(state.selection.variants, state.devices, with_baseline=False):
        if case.variant in timed or case.variant in missing:
            continue
        why = state.selection.skip_reason(case.variant, case.device)
        if why is None:
            try:
                why = REGISTRY[case.variant].unavailable_reason(case.device)
            except Exception as exc:  # a third party's check that fails says so, it does not stop the summary
                why = f"its availability check failed: {type(exc).__name__}"
        missing[case.variant] = in_pytest_words(why.split(";")[0]) if why else "not timed in this session"
    return missing


def write_accuracy_json(state: RunState) -> None:
    """The accuracy JSON, whole or not at all; a run that scored nothing leaves the previous file as it was."""
    from ..files import write_atomically

    path = state.opt.accuracy_json
    if path and state.run.accuracy:
        write_atomically(path, json.dumps({k: r.to_json() for k, r in state.run.accuracy.items()}, indent=2))
