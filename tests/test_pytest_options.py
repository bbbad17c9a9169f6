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


def test_benchmark_compare_is_judged_against_the_noise_between_runs_and_fails_a_real_slowdown(unit_cache_dir, tmp_path):
    """`pytest --benchmark-compare --fastbert-compare-fail`: the suite's own verdict (speedups over FP32, the between-run
    spread), not pytest-benchmark's absolute times: the same code passes, a variant made 3x slower fails with exit 1."""
    family = os.path.join(REPO, "tests", "data", "slowed_family")
    args = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", os.path.join(REPO, "benchmarks", "test_latency.py"),
            "--fastbert-model", "random:tinybert-4l", "--fastbert-variants", "torch-fp32,slowed-ort-int8-dynamic",
            "--fastbert-seq-lens", "16", "--fastbert-batch-sizes", "1", "--fastbert-threads", "1",
            f"--fastbert-cache-dir={unit_cache_dir}"]

    def run(*more, slowed="0"):
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [family, os.environ.get("PYTHONPATH")])),
               "FASTBERT_SLOWED_FRACTION": slowed}
        return subprocess.run([*args, *more], capture_output=True, text=True, timeout=600, cwd=tmp_path, env=env)

    saved = run("--benchmark-autosave")
    assert saved.returncode == 0, saved.stdout[-3000:]
    same = run("--benchmark-compare", "--fastbert-compare-fail")
    assert same.returncode == 0, same.stdout[-3000:]
    assert "this run against --benchmark-compare's" in same.stdout and "0 regression(s) in 1 comparisons" in same.stdout
    slower = run("--benchmark-compare=0001", "--fastbert-compare-fail", slowed="2")
    assert slower.returncode == 1, slower.stdout[-3000:]
    assert "REGRESSED  speedup  cells cpu slowed-ort-int8-dynamic" in slower.stdout
    assert "1 regression(s) in 1 comparisons" in slower.stdout and "package's default" in slower.stdout
    shown = run("--benchmark-compare=0001", slowed="2")  # without --fastbert-compare-fail: shown, not failed
    assert shown.returncode == 0 and "1 regression(s)" in shown.stdout


def test_compare_fail_without_a_compared_run_is_a_usage_error(tmp_path):
    result = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--co", "-q",
                             os.path.join(REPO, "benchmarks", "test_latency.py"), "--fastbert-compare-fail"],
                            capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert result.returncode == 4 and "Traceback" not in result.stderr
    assert "--fastbert-compare-fail judges this run against the one --benchmark-compare loads" in result.stderr
