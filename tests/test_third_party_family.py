"""A variant family from outside the package, found as a third party's is (an installed distribution's entry point):
listed, built into the cache once, and timed against FP32 by the shipped benchmarks."""

import json
import subprocess
import sys

import pytest

# What a third party writes: one module, and one entry point in its own distribution's metadata.
FAMILY = '''
"""FP32 weights saved once into the suite's cache as safetensors, and loaded back from there."""

import time
from dataclasses import dataclass

from fastbert_variants.variants import Variant, register
from fastbert_variants.variants.torch_common import torch_runner


@dataclass(frozen=True)
class SavedFp32(Variant):
    def artifact(self, context):
        def save(folder):
            context.source.load_model().save_pretrained(folder)
            return {"format": "safetensors"}

        key = context.cache.key(model=context.source.fingerprint, variant=self.definition())
        return context.cache.get_or_build(self.name, key, save)

    def build(self, context):
        from transformers import AutoModelForSequenceClassification

        started = time.perf_counter()
        folder, _ = self.artifact(context)
        model = AutoModelForSequenceClassification.from_pretrained(folder, use_safetensors=True).eval()
        return torch_runner(self.name, context, model, started, folder=str(folder))


register(SavedFp32("toy-saved-fp32", ("cpu",), "toy-family", "FP32 saved to the cache and loaded back", ("torch",)))
'''
MODEL = "random:tinybert-4l"  # seeded random weights: nothing to download, seconds to build


@pytest.fixture(scope="module")
def third_party(install_family):
    """A folder on PYTHONPATH holding the family's module and its distribution's metadata, and the environment."""
    return install_family("toy_family", FAMILY, entry_point="toy")


def run(args, env, cwd, timeout=300):
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout)


def test_it_is_listed_with_its_library(third_party):
    site, env, _ = third_party
    listed = run(["-m", "fastbert_variants.cli", "list", "--devices", "cpu"], env, site)
    assert listed.returncode == 0, listed.stderr
    line = next(line for line in listed.stdout.splitlines() if line.startswith("toy-saved-fp32"))
    assert "toy-family" in line and "yes" in line
    assert "toy (from toy-family)" in listed.stdout and "zentorch (from fastbert-variants)" in listed.stdout


def test_it_is_built_once_into_the_cache(third_party):
    site, env, cache = third_party
    argv = ["-m", "fastbert_variants.cli", "build", "--variants", "toy-saved-fp32", "--model", MODEL,
            "--cache-dir", str(cache)]
    first = run(argv, env, site)
    assert first.returncode == 0, first.stderr
    assert "toy-saved-fp32" in first.stdout and "cached (first build" in first.stdout, first.stdout
    entries = cache / "builds" / "toy-saved-fp32"
    (entry,) = [p for p in entries.iterdir() if p.is_dir()]  # beside it, its lock file
    manifest = json.loads((entry / "fastbert-manifest.json").read_text())
    assert "model.safetensors" in manifest["files"] and manifest["info"] == {"format": "safetensors"}
    sealed = (entry / "fastbert-manifest.json").stat().st_mtime_ns
    second = run(argv, env, site)  # a cache hit: the same entry, not built again
    assert second.returncode == 0, second.stderr
    assert [p for p in entries.iterdir() if p.is_dir()] == [entry]
    assert (entry / "fastbert-manifest.json").stat().st_mtime_ns == sealed


def test_it_is_timed_against_fp32_by_the_shipped_benchmarks(third_party, tmp_path):
    site, env, cache = third_party
    out = tmp_path / "benchmark.json"
    timed = run(["-m", "pytest", "--pyargs", "fastbert_variants.testsuite.benchmarks.test_latency", "-p",
                 "no:cacheprovider", "--fastbert-model", MODEL, "--fastbert-variants", "torch-fp32,toy-saved-fp32", "--fastbert-seq-lens", "16",
                 "--fastbert-batch-sizes", "1", "--fastbert-profile", "quick", f"--fastbert-cache-dir={cache}", "--fastbert-threads", "1",
                 "--benchmark-json", str(out)], env, tmp_path, timeout=600)
    assert timed.returncode == 0, timed.stdout[-3000:]
    results = {b["extra_info"]["variant"]: b["extra_info"] for b in json.loads(out.read_text())["benchmarks"]}
    assert set(results) == {"torch-fp32", "toy-saved-fp32"}
    toy = results["toy-saved-fp32"]
    assert toy["speedup_vs_fp32"] > 0 and toy["speedup_blocks"] > 0 and toy["median_ms"] > 0
    assert toy["runner_info"]["folder"].startswith(str(cache))  # it ran from its cache entry
