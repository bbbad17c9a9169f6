"""pytest-benchmark's own options and pytest-xdist, run on the real suite in a child pytest."""

import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def pytest_run(*args, cache_dir):
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *args,
                           "--cache-dir", str(cache_dir)], capture_output=True, text=True, timeout=900, cwd=REPO)


def test_benchmark_disable_still_runs_every_variant_and_checks_it_against_fp32(unit_cache_dir):
    """With timing off, pytest-benchmark leaves no stats: the latency test must not read them, and still checks."""
    result = pytest_run("benchmarks/test_latency.py", "--benchmark-disable", "--variants", "torch-fp32,ort-int8-dynamic",
                        "--seq-lens", "16", "--batch-sizes", "1", cache_dir=unit_cache_dir)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "2 passed" in result.stdout


def test_parallel_workers_are_refused_for_timed_tests_in_one_line(unit_cache_dir):
    pytest.importorskip("xdist", reason="pytest-xdist is not installed (pip install pytest-xdist)")
    result = pytest_run("benchmarks/test_latency.py", "-n", "2", cache_dir=unit_cache_dir)
    assert result.returncode == 4  # pytest's usage error
    assert "pytest-xdist (-n/--dist) runs tests in parallel workers" in result.stderr
    assert "Traceback" not in result.stderr
