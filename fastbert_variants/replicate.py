"""K runs of the same code in fresh processes: how far each figure moves between runs on this machine.

Within one run the interleaved blocks see the noise of seconds; between runs the machine's state moves
runtimes unequally (docs/measurements/), which no test on one run's blocks can see. Replicate runs
measure it: `noise.py` turns them into the between-run spread that `compare` gates with.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from .errors import UserError

# The timed tests of the quick profile, as shipped: the fixed cells and the offline scenario on the CPU.
DEFAULT_PYTEST_ARGS = ("--pyargs", "fastbert_variants.testsuite.benchmarks.test_latency",
                       "fastbert_variants.testsuite.benchmarks.test_offline", "--fastbert-profile", "quick",
                       "--fastbert-devices", "cpu")


def replicate(runs: int, out: Path, pytest_args: list[str] | tuple[str, ...] = DEFAULT_PYTEST_ARGS,
              say: Callable[[str], None] = print) -> list[Path]:
    """Run pytest `runs` times, one fresh process each, into OUT/run-01/benchmark.json ...; the files written."""
    if runs < 2:
        raise UserError(f"--runs must be 2 or more to see a spread between runs, got {runs}")
    if any(a.startswith("--benchmark-json") for a in pytest_args):
        raise UserError("leave --benchmark-json out of the pytest arguments: replicate writes one per run under --out")
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for number in range(1, runs + 1):
        folder = out / f"run-{number:02d}"
        folder.mkdir(exist_ok=True)
        command = [sys.executable, "-m", "pytest", *pytest_args, "-p", "no:cacheprovider", "-q",
                   "--benchmark-json", str(folder / "benchmark.json")]
        started = time.perf_counter()
        with open(folder / "pytest.log", "w") as log:
            code = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, check=False).returncode
        seconds = time.perf_counter() - started
        if not (folder / "benchmark.json").is_file():
            raise UserError(f"run {number} wrote no benchmark JSON (pytest exit {code}); see {folder / 'pytest.log'}")
        say(f"run {number}/{runs}: pytest exit {code}, {seconds:.0f} s -> {folder / 'benchmark.json'}")
        written.append(folder / "benchmark.json")
    return written
