"""The verdict: one short line per scenario's answer, what was not measured, recommendation.json and its schema."""

import json
import os
import subprocess
import sys

import pytest
from test_scenarios import cell, offline, server

from fastbert_variants import verdict
from fastbert_variants.report import Report
from fastbert_variants.runs import Run

jsonschema = pytest.importorskip("jsonschema", reason="jsonschema is not installed (pip install jsonschema; tox has it)")
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCHEMA = json.loads(verdict.SCHEMA_FILE.read_text())
MACHINE = {"cpu": "AMD EPYC", "cpu_isa": "avx512_vnni", "versions": {"torch": "2.13.0", "onnxruntime": "1.24.1"}}


def full_run() -> Run:
    records = [cell("torch-fp32", s, 1.0) for s in (16, 128, 512)]
    records += [cell("ort-int8-dynamic-every-matmul", s, 3.1) for s in (16, 128, 512)]
    records += [offline("torch-fp32", b, 1.0, 100.0) for b in (1, 8, 32)]
    records += [offline("openvino-int8-nncf-default", b, 3.47, 300.0) for b in (1, 8, 32)]
    return Run.of(*records, server("openvino-int8-nncf-default", 233.0), machine=MACHINE)


def test_the_verdict_is_short_narrow_and_says_what_was_not_measured():
    found = verdict.verdict_of(Report(full_run()), {"torch-compile": "left out of --fastbert-profile quick: compile-heavy",
                                                    "zentorch-fp32": "left out of --fastbert-profile quick: compile-heavy"})
    shown = verdict.lines(found)
    assert len(shown) <= 16 and all(len(line) <= verdict.WIDTH for line in shown), shown
    assert len(found.picks) == 7  # 3 fixed cells, 3 offline batch sizes, 1 server budget
    offline_b8 = next(line for line in shown if line.startswith("cpu-offline-b8"))
    assert "openvino-int8-nncf-default" in offline_b8 and "3.47x [3.30-3.64]" in offline_b8
    served = next(line for line in shown if line.startswith("cpu-server-p99-100ms"))
    assert "233 requests/s at p99 100 ms" in served and "x torch-fp32" not in served  # no FP32 served: no ratio
    assert any("not measured" in line and "torch-compile, zentorch-fp32 (left out of" in line for line in shown)


def test_recommendation_json_meets_its_schema_and_reads_back():
    found = verdict.verdict_of(Report(full_run()), {"torch-compile": "left out"})
    data = json.loads(json.dumps(found.to_json()))
    jsonschema.validate(data, SCHEMA)
    assert verdict.Verdict.from_json(data) == found
    served = next(p for p in data["picks"] if p["scenario"] == "server")
    assert served["speedup_vs_fp32"] is None and served["ci95"] is None  # NaN never reaches the JSON
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**data, "format": 2}, SCHEMA)


def test_the_step_summary_is_a_markdown_table():
    text = verdict.markdown(verdict.verdict_of(Report(full_run()), {"torch-compile": "left out"}))
    assert "| cpu-offline-b1 | `openvino-int8-nncf-default` | 3.47x [3.30-3.64] | accuracy not scored |" in text
    assert "- `torch-compile`: left out" in text


def test_a_run_ends_with_the_verdict_writes_recommendation_json_and_the_step_summary(unit_cache_dir, tmp_path):
    """The real plugin, a small run: the verdict is the last block of ours (after pytest-benchmark's table),
    recommendation.json lands beside --benchmark-json and validates, the step summary gets the Markdown."""
    summary = tmp_path / "step-summary.md"
    (tmp_path / "out").mkdir()
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", os.path.join(REPO, "benchmarks", "test_latency.py"),
         "--fastbert-model", "random:tinybert-4l", "--fastbert-variants", "torch-fp32,ort-fp32,openvino-fp32", "-k",
         "not openvino", "--fastbert-seq-lens",
         "16", "--fastbert-batch-sizes", "1", "--fastbert-threads", "1", f"--fastbert-cache-dir={unit_cache_dir}",
         "--benchmark-json", str(tmp_path / "out" / "benchmark.json")],  # not the working directory: written beside it
        capture_output=True, text=True, timeout=600, cwd=tmp_path, env={**os.environ, "GITHUB_STEP_SUMMARY": str(summary)})
    assert result.returncode == 0, result.stdout[-3000:]
    out = result.stdout
    assert out.index("benchmark 'cpu-b1-s16'") < out.index("fastbert-variants: recommended") < out.index(
        "fastbert-variants: verdict")
    block = out[out.index("fastbert-variants: verdict"):].splitlines()[1:]
    assert block[1].startswith("cpu-b1-s16") and "ort-fp32" in block[1] and "accuracy not scored" in block[1]
    assert "not measured, so not among the answers: openvino-fp32 (not timed in this session)" in out  # deselected
    assert not (tmp_path / "recommendation.json").exists()
    data = json.loads((tmp_path / "out" / "recommendation.json").read_text())
    jsonschema.validate(data, SCHEMA)
    assert [p["where"] for p in data["picks"]] == ["cpu-b1-s16"] and list(data["not_measured"]) == ["openvino-fp32"]
    assert "| cpu-b1-s16 |" in summary.read_text()
