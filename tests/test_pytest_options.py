"""pytest-benchmark's own options and pytest-xdist, run on the real suite in a child pytest."""

import json
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def pytest_run(*args, cache_dir):
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *args,
                           f"--fastbert-cache-dir={cache_dir}"], capture_output=True, text=True, timeout=900, cwd=REPO)


def test_benchmark_disable_still_runs_every_variant_and_checks_it_against_fp32(unit_cache_dir):
    """With timing off, pytest-benchmark leaves no stats: the latency test must not read them, and still checks."""
    result = pytest_run("benchmarks/test_latency.py", "--benchmark-disable", "--fastbert-variants", "torch-fp32,ort-int8-dynamic",
                        "--fastbert-seq-lens", "16", "--fastbert-batch-sizes", "1", cache_dir=unit_cache_dir)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "2 passed" in result.stdout


def test_parallel_workers_are_refused_for_timed_tests_in_one_line(unit_cache_dir):
    pytest.importorskip("xdist", reason="pytest-xdist is not installed (pip install pytest-xdist)")
    result = pytest_run("benchmarks/test_latency.py", "-n", "2", cache_dir=unit_cache_dir)
    assert result.returncode == 4  # pytest's usage error
    assert "pytest-xdist (-n/--dist) runs tests in parallel workers" in result.stderr
    assert "Traceback" not in result.stderr


def test_benchmark_autosave_then_compare_prints_the_comparison_without_a_machine_warning(unit_cache_dir, tmp_path):
    """pytest-benchmark's own storage: the saved machine_info holds our facts and the current one the same facts, so
    --benchmark-compare compares without warning that the machine changed (measured GEMM peaks stay out of it)."""
    test = os.path.join(REPO, "benchmarks", "test_latency.py")
    args = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", test, "--fastbert-variants", "torch-fp32", "--fastbert-seq-lens",
            "16", "--fastbert-batch-sizes", "1", f"--fastbert-cache-dir={unit_cache_dir}"]
    saved = subprocess.run([*args, "--benchmark-autosave"], capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert saved.returncode == 0, saved.stdout[-3000:]
    (stored,) = (tmp_path / ".benchmarks").rglob("*.json")
    facts = json.loads(stored.read_text())["machine_info"]["fastbert_variants"]
    assert {"cpu", "cpu_isa", "versions"} <= facts.keys() and "gemm_peaks_gflops" not in facts
    # No --benchmark-compare-fail: absolute times on a shared machine move by far more than any fair bound (a
    # run beside other work measured 15x), and what is checked here is that the comparison is made and printed.
    compared = subprocess.run([*args, "--benchmark-compare"],
                              capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert compared.returncode == 0, compared.stdout[-3000:]
    assert "Comparing against benchmarks from" in compared.stderr and "(0001_" in compared.stdout
    assert "machine_info is different" not in compared.stdout + compared.stderr


def test_an_option_value_that_would_move_pytests_rootdir_is_refused_with_the_fix(tmp_path):
    """pytest finds its rootdir and config before it loads plugins: `--cache-dir DIR` (DIR existing, outside the
    project) moved the rootdir to DIR, the project's testpaths and markers were lost and pytest collected tests/."""
    cache = tmp_path / "cache"
    cache.mkdir()
    args = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--co", "-q", "--fastbert-profile", "quick",
            "--fastbert-devices", "cpu"]
    moved = subprocess.run([*args, "--fastbert-cache-dir", str(cache)], capture_output=True, text=True, timeout=300, cwd=REPO)
    assert moved.returncode == 4 and "Traceback" not in moved.stderr
    assert f"--fastbert-cache-dir {cache}: pytest took {cache} for a test path" in moved.stderr
    assert f"write --fastbert-cache-dir={cache}" in moved.stderr
    fixed = subprocess.run([*args, f"--fastbert-cache-dir={cache}"], capture_output=True, text=True, timeout=300, cwd=REPO)
    assert fixed.returncode == 0, fixed.stdout[-2000:]
    assert "benchmarks/test_latency.py::" in fixed.stdout and "tests/" not in fixed.stdout
