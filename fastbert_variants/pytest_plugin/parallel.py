"""Timed tests refuse pytest-xdist: parallel workers share the cores and would time each other."""

from __future__ import annotations

import pytest

from ..errors import UserError

TIMED_TESTS = ("test_latency", "test_offline", "test_server")
PARALLEL_REFUSED = ("pytest-xdist (-n/--dist) runs tests in parallel workers that share the cores, so timings "
                    "would measure each other: run the timed tests without -n, or add --benchmark-skip "
                    "(accuracy and unit tests only) or --benchmark-disable (check every variant runs, no timing)")


def refuse_parallel_timing(config) -> None:
    """pytest-benchmark times nothing under xdist, quietly; refused at start when the command names the suite
    (otherwise once the workers report what they collected: refuse_collected_timing)."""
    if config.getoption("dist", "no") != "no" and not timing_off(config) and names_the_suite(config.args):
        raise UserError(PARALLEL_REFUSED)


def refuse_collected_timing(config, ids) -> None:
    """The xdist controller's last chance: the workers collected timed tests of ours, under a bare `pytest -n 2`."""
    if not timing_off(config) and any(i.split("::")[-1].split("[")[0] in TIMED_TESTS for i in ids):
        pytest.exit(PARALLEL_REFUSED, returncode=pytest.ExitCode.USAGE_ERROR)


def timing_off(config) -> bool:
    return bool(getattr(config.option, "benchmark_disable", False) or getattr(config.option, "benchmark_skip", False))


def names_the_suite(args: list[str]) -> bool:
    """Whether the command's paths hold our timed tests: this repository's benchmarks/ or the installed suite."""
    timed_files = tuple(t + ".py" for t in TIMED_TESTS)
    return any(a == "fastbert_variants" or a.startswith("fastbert_variants.testsuite")
               or "fastbert_variants/testsuite" in a or a.split("::")[0].rstrip("/").endswith(("benchmarks", *timed_files))
               for a in args)
