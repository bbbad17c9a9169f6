"""A finished run read back from disk: pytest-benchmark's JSON and the suite's accuracy JSON.

`report` and `compare` take what a run wrote (`--benchmark-json`, `--accuracy-json`), either as
the files themselves or as the folder that holds them as benchmark.json and accuracy.json.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from .errors import UserError

LATENCY_FIELDS = ("variant", "device", "batch_size", "seq_len", "cell", "median_ms", "speedup_vs_fp32", "speedup_ci95")


class NoResults(UserError):
    """The file is a run's JSON, but the run measured nothing (every test skipped)."""


@dataclass
class Run:
    """Latency results (the `extra_info` of each test) and accuracy records keyed `device/variant`."""

    latency: list[dict] = field(default_factory=list)
    batching: list[dict] = field(default_factory=list)
    serving: list[dict] = field(default_factory=list)
    accuracy: dict[str, dict] | None = None  # None: this run did not score accuracy
    sources: list[str] = field(default_factory=list)
    machine: dict = field(default_factory=dict)  # machine_info["fastbert_variants"]: CPU, GPU, versions, GEMM peaks
    commit: dict = field(default_factory=dict)  # pytest-benchmark's commit_info: id, branch, dirty
    datetime: str | None = None

    @property
    def first(self) -> dict:
        return self.latency[0] if self.latency else {}


def _read_json(path: Path) -> object:
    if not path.is_file():
        raise UserError(f"{path} does not exist; give the file that --benchmark-json or --accuracy-json wrote")
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"{path} is not JSON ({exc}); give the file that --benchmark-json or --accuracy-json wrote") from None


def suite_results(data: dict, path: Path) -> dict[str, list[dict]]:
    """The suite's results from pytest-benchmark's JSON by kind (latency, batching, serving); others are ignored."""
    found = {"latency": [], "batching": [], "serving": []}
    for entry in data.get("benchmarks", []):
        info = entry.get("extra_info", {})
        kind = info.get("kind", "latency")
        if kind in found and (kind != "latency" or all(k in info for k in LATENCY_FIELDS)):
            found[kind].append(info)
    if not any(found.values()):
        raise NoResults(f"{path} holds no fastbert-variants results; write one with "
                        "`pytest benchmarks --benchmark-json PATH`")
    return found


def accuracy_records(data: dict, path: Path) -> dict[str, dict]:
    if not all(isinstance(v, dict) and {"variant", "device", "scores", "fp32"} <= v.keys() for v in data.values()):
        raise UserError(f"{path} is not an accuracy JSON; write one with `pytest accuracy --accuracy-json PATH`")
    return data


def load_run(*paths: str | Path) -> Run:
    """Read each path (a benchmark JSON, an accuracy JSON, or a folder holding either) into one Run."""
    run = Run()
    if not paths:
        raise UserError("no run given; give the JSON files or the folder a run wrote")
    for given in paths:
        path = Path(given)
        files = [p for p in (path / "benchmark.json", path / "accuracy.json") if p.is_file()] if path.is_dir() else [path]
        if not files:
            raise UserError(f"{path} holds neither benchmark.json nor accuracy.json; give the files a run wrote")
        for file in files:
            data = _read_json(file)
            if isinstance(data, dict) and "benchmarks" in data:
                for kind, results in suite_results(data, file).items():
                    getattr(run, kind).extend(results)
                run.machine = data.get("machine_info", {}).get("fastbert_variants") or run.machine
                run.commit = data.get("commit_info") or run.commit
                run.datetime = data.get("datetime") or run.datetime
            elif isinstance(data, dict):
                run.accuracy = {**(run.accuracy or {}), **accuracy_records(data, file)}
            else:
                raise UserError(f"{file} is neither a pytest-benchmark JSON nor an accuracy JSON")
            run.sources.append(str(file))
    return run
