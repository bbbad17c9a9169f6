"""What a session shows and leaves: progress bars while it runs, the Report at its end, machine facts, the accuracy JSON."""

from __future__ import annotations

import json
import os
import sys

import pytest

from .. import progress
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


def write_summary(terminalreporter, state: RunState) -> None:
    """The run's Report (recommendations per scenario, then the tables), rebuilt cache entries and the CPU share."""
    from ..report import Report

    write, section = terminalreporter.write_line, terminalreporter.write_sep
    rebuilt = state.workbench.cache.rebuilt
    if rebuilt:
        section("=", f"fastbert-variants: rebuilt {len(rebuilt)} cache entries found incomplete or corrupt")
        write("\n".join(rebuilt))
    run = state.run
    run.machine = machine_facts()
    for title, text in Report(run).terminal():
        section("=", f"fastbert-variants: {title}")
        write(text)
    if state.session.gemm_peaks:
        write(f"GEMM peaks measured this session: {state.session.gemm_peaks}")
    write(state.cpu_meter.share().line())
    path = state.opt.accuracy_json
    if path and not run.accuracy:
        write(f"--fastbert-accuracy-json {path}: not written, nothing was scored in this run (a file already there is left as "
              "it was)")


def machine_facts() -> dict:
    """CPU model and flags, GPU and library versions: once per run, not per result.

    Facts only: pytest-benchmark compares the saved run's machine_info with this one's as a whole at
    --benchmark-compare and warns on any difference, so the GEMM peaks, measured anew each session,
    stay with the results (each latency result's roofline fields) and the terminal summary.
    """
    from .. import hardware
    from ..variants import installed_versions

    return {**hardware.describe(), "versions": installed_versions()}


def write_accuracy_json(state: RunState) -> None:
    """The accuracy JSON, whole or not at all; a run that scored nothing leaves the previous file as it was."""
    from ..files import write_atomically

    path = state.opt.accuracy_json
    if path and state.run.accuracy:
        write_atomically(path, json.dumps({k: r.to_json() for k, r in state.run.accuracy.items()}, indent=2))
