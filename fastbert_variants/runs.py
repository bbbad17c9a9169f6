"""A run: one container from the first test to the report, the JSON and the history.

The pytest session fills one `Run` as its tests measure; `report`, `compare` and `history` read one back
from what a run wrote (`--benchmark-json`, `--fastbert-accuracy-json`), either as the files themselves or
as the folder that holds them as benchmark.json and accuracy.json.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from .errors import UserError
from .results import AccuracyResult, MalformedResult, read_accuracy, read_result
from .results.upgrade import upgrade_run
from .scenarios import SCENARIOS


class NoResults(UserError):
    """The file is a run's JSON, but the run measured nothing (every test skipped)."""


@dataclass
class Run:
    """Every scenario's records by kind (in the order measured) and the accuracy records by their key."""

    records: dict[str, list] = field(default_factory=dict)  # kind (a record's KIND) -> its records
    accuracy: dict[str, AccuracyResult] | None = None  # None: this run did not score accuracy
    sources: list[str] = field(default_factory=list)
    machine: dict = field(default_factory=dict)  # machine_info["fastbert_variants"]: CPU, GPU, versions, CPU share
    commit: dict = field(default_factory=dict)  # pytest-benchmark's commit_info: id, branch, dirty
    datetime: str | None = None

    @classmethod
    def of(cls, *records, accuracy: list[AccuracyResult] | dict | None = None, **facts) -> Run:
        run = cls(**facts)
        for record in records:
            run.add(record)
        for record in (accuracy.values() if isinstance(accuracy, dict) else accuracy or ()):
            run.add_accuracy(record)
        return run

    def add(self, record) -> None:
        self.records.setdefault(record.KIND, []).append(record)

    def add_accuracy(self, record: AccuracyResult) -> None:
        self.accuracy = {**(self.accuracy or {}), record.key: record}

    def of_kind(self, kind: str) -> list:
        return self.records.get(kind, [])

    @property
    def first(self):
        return next((r for records in self.records.values() for r in records), None)

    @property
    def measured(self) -> bool:
        return any(self.records.values())

    @property
    def model(self) -> str | None:
        return getattr(self.first, "model", None) or next((r.model for r in (self.accuracy or {}).values()), None)

    @property
    def threads(self) -> int | None:
        return getattr(self.first, "threads", None)

    @property
    def others_share(self) -> float | None:
        """The share of the machine other processes took while the run measured (the plugin's cpu_share)."""
        share = (self.machine.get("cpu_share") or {}).get("others")
        return float(share) if isinstance(share, int | float) and not isinstance(share, bool) else None

    @property
    def hardware(self) -> str:
        """What makes two runs' speedups comparable: the CPU, its instruction set and the GPU (threads apart)."""
        return self._kind()

    @property
    def machine_kind(self) -> str:
        """The machine and the threads: what the history groups runs by."""
        return self._kind(f", {self.threads or '?'} threads")

    def _kind(self, threads: str = "") -> str:
        facts = self.machine
        gpu = f", {facts['gpu']}" if facts.get("gpu") else ""
        return f"{facts.get('cpu') or 'unknown CPU'} ({facts.get('cpu_isa') or '?'}){threads}{gpu}"


def _read_json(path: Path) -> object:
    if not path.is_file():
        raise UserError(f"{path} does not exist; give the file that --benchmark-json or --fastbert-accuracy-json wrote")
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"{path} is not JSON ({exc}); give the file that --benchmark-json or --fastbert-accuracy-json wrote") from None
    except (RecursionError, ValueError) as exc:  # nested thousands deep; an integer of thousands of digits
        raise UserError(f"{path} is not a run's JSON ({type(exc).__name__}: {str(exc)[:80]}); give the file that "
                        "--benchmark-json or --fastbert-accuracy-json wrote") from None


def suite_results(data: dict, path: Path) -> list:
    """The suite's results from pytest-benchmark's JSON, as records; other tests' entries are ignored."""
    found = []
    benchmarks = data.get("benchmarks")
    if not isinstance(benchmarks, list):
        raise UserError(f"{path}: 'benchmarks' is {type(benchmarks).__name__}, not a list; give the file that "
                        "--benchmark-json wrote")
    for entry in benchmarks:
        info = entry.get("extra_info") if isinstance(entry, dict) else None
        if not isinstance(info, dict) or not {"variant", "device"} <= info.keys():
            continue  # another plugin's or test's benchmark
        try:
            record = read_result(info)
        except MalformedResult as exc:
            raise UserError(f"{path}: {entry.get('name', 'a benchmark')}: {exc}") from None
        found.append(record)
    if not found:
        raise NoResults(f"{path} holds no fastbert-variants results; write one with "
                        "`pytest benchmarks --benchmark-json PATH`")
    return found


def accuracy_records(data: dict, path: Path) -> dict[str, AccuracyResult]:
    """What --fastbert-accuracy-json wrote: each record under its key (AccuracyResult.key)."""
    if not data:
        raise NoResults(f"{path} holds no accuracy records; write them with `pytest accuracy --fastbert-accuracy-json PATH`")
    try:
        return read_accuracy(data)
    except MalformedResult as exc:
        raise UserError(f"{path}: {exc}") from None


def load_run(*paths: str | Path) -> Run:
    """Read each path (a benchmark JSON, an accuracy JSON, or a folder holding either) into one Run."""
    run = Run()
    SCENARIOS.load()  # every installed scenario's record kind can be read
    if not paths:
        raise UserError("no run given; give the JSON files or the folder a run wrote")
    for given in paths:
        path = Path(given)
        files = [p for p in (path / "benchmark.json", path / "accuracy.json") if p.is_file()] if path.is_dir() else [path]
        if not files:
            raise UserError(f"{path} holds neither benchmark.json nor accuracy.json; give the files a run wrote")
        for file in files:
            data = _read_json(file)
            try:
                read_into(run, data, file)
            except NoResults:
                if len(files) == 1:
                    raise  # a folder's other file may hold what this one lacks
            run.sources.append(str(file))
    if not run.measured and not run.accuracy:
        raise NoResults(f"{', '.join(str(p) for p in paths)} hold no fastbert-variants results; give the files "
                        "of a run that measured or scored something")
    return run


def read_into(run: Run, data, file: Path | str) -> None:
    """One file's parsed JSON (a run's, or its accuracy records) into `run`; `file` names it in messages."""
    if isinstance(data, dict) and "benchmarks" in data:
        data = upgrade_run(data)  # an older run's JSON, as the readers expect it
        for record in suite_results(data, file):
            run.add(record)
        run.machine = data["machine_info"].get("fastbert_variants") or run.machine
        run.commit = data.get("commit_info") or run.commit
        run.datetime = data.get("datetime") or run.datetime
    elif isinstance(data, dict):
        run.accuracy = {**(run.accuracy or {}), **accuracy_records(data, file)}
    else:
        raise UserError(f"{file} is neither a pytest-benchmark JSON nor an accuracy JSON")
