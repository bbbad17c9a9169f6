"""Fuzzed inputs (Hypothesis): whatever a dataset file, a run's JSON or a request body holds, the suite ends in a
result or its one-line error (UserError; a 4xx JSON answer from the server), never another exception.

Examples per test are fixed below (`EXAMPLES`), so the run's cost and coverage are stated, not left to a profile.
"""

import asyncio
import json
import threading
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from fastbert_variants.datasets import DatasetSpec, load_labelled_texts
from fastbert_variants.errors import UserError

EXAMPLES = {"dataset files": 150, "run JSON": 200, "run JSON through the CLI": 30, "run JSON into PostgreSQL": 30,
            "request bodies": 200}
ID2LABEL = {0: "negative", 1: "positive"}
# Derandomized, no example database: the same examples on every run, so CI is reproducible (a run with
# `--hypothesis-seed` explores others).
FUZZ = settings(deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

cells = st.one_of(st.text(max_size=12), st.integers(-3, 3).map(str), st.sampled_from(["", "positive", "negative",
                                                                                       "0", "1", "-1", "nan", '"']))


@st.composite
def csv_bytes(draw):
    """Mostly CSV-shaped (a header, then rows of cells), sometimes raw bytes."""
    if draw(st.booleans()):
        return draw(st.binary(max_size=300))
    header = draw(st.sampled_from(["text,label", "label,text", "text", "a,b", "text,label,extra"]))
    rows = draw(st.lists(st.lists(cells, min_size=1, max_size=3), max_size=25))
    return "\n".join([header, *(",".join(row) for row in rows)]).encode("utf-8", "surrogatepass")


json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.integers(), st.integers(-10**400, 10**400),
                         st.floats(allow_nan=True, allow_infinity=True),
                         st.text(max_size=8))
json_values = st.recursive(json_scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                                 st.dictionaries(st.text(max_size=8), inner, max_size=4)),
                           max_leaves=12)


@st.composite
def jsonl_bytes(draw):
    rows = draw(st.lists(st.one_of(json_values, st.fixed_dictionaries({"text": json_values, "label": json_values})),
                         max_size=20))
    return "\n".join(json.dumps(r) for r in rows).encode()


def _load(path):
    try:
        data = load_labelled_texts(DatasetSpec(name=str(path)))
        data.labels_for(ID2LABEL)
    except UserError as exc:
        assert "\n" not in str(exc)


@settings(FUZZ, max_examples=EXAMPLES["dataset files"])
@given(content=csv_bytes())
def test_any_csv_file_loads_or_is_one_line(tmp_path, content):
    path = tmp_path / "fuzz.csv"
    path.write_bytes(content)
    _load(path)


@settings(FUZZ, max_examples=EXAMPLES["dataset files"])
@given(content=st.one_of(jsonl_bytes(), st.binary(max_size=200)))
def test_any_jsonl_file_loads_or_is_one_line(tmp_path, content):
    path = tmp_path / "fuzz.jsonl"
    path.write_bytes(content)
    _load(path)


RUNS = sorted((Path(__file__).parent / "data" / "runs").iterdir())


def _containers(value) -> list:
    """Every dict and list in a JSON value, at any depth."""
    found = [value] if isinstance(value, dict | list) and value else []
    for child in (value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()):
        found += _containers(child)
    return found


def _mutate(draw, document) -> None:
    """Set or delete one field of any dict or list in the document (machine_info, commit_info, stats, params,
    extra_info, a server load, an accuracy record's scores...) to a fuzzed value."""
    containers = _containers(document)
    if not containers:
        return
    target = containers[draw(st.integers(0, len(containers) - 1))]
    field = draw(st.sampled_from(sorted(target) if isinstance(target, dict) else range(len(target))))
    if draw(st.integers(0, 3)) == 0:
        del target[field]
    else:
        target[field] = draw(json_values)


# What json.dumps cannot write but a file can hold, put in place of one number of the file's text.
HAZARDS = {"nested 3,000 deep": "[" * 3000 + "]" * 3000, "nested 100,000 deep": "[" * 100_000 + "]" * 100_000,
           "an integer of 5,000 digits": "9" * 5000, "an integer of 400 digits": "-" + "7" * 400,
           "NaN": "NaN", "Infinity": "-Infinity"}


@st.composite
def mutated_runs(draw):
    """A real run's files (tests/data/runs) with fields anywhere in them changed, now and then a hazard in the text:
    mostly still readable. Returned as the two files' texts."""
    import re

    folder = draw(st.sampled_from(RUNS))
    benchmark = json.loads((folder / "benchmark.json").read_text())
    accuracy = json.loads((folder / "accuracy.json").read_text())
    for _ in range(draw(st.integers(0, 3))):
        _mutate(draw, benchmark)
    for _ in range(draw(st.integers(0, 2))):
        _mutate(draw, accuracy)
    if draw(st.integers(0, 9)) == 0:
        benchmark = draw(json_values)  # now and then not a run at all
    texts = [json.dumps(benchmark), json.dumps(accuracy)]
    hazard = draw(st.sampled_from([None] * 24 + sorted(HAZARDS)))  # one example in five
    if hazard:
        which = draw(st.integers(0, 1))
        numbers = list(re.finditer(r"(?<=: )-?\d+(\.\d+)?(?=[,}])", texts[which]))
        if numbers:
            number = numbers[draw(st.integers(0, len(numbers) - 1))]
            texts[which] = texts[which][:number.start()] + HAZARDS[hazard] + texts[which][number.end():]
    return texts


def _write_run(folder: Path, files) -> Path:
    folder.mkdir(exist_ok=True)
    (folder / "benchmark.json").write_text(files[0])
    (folder / "accuracy.json").write_text(files[1])
    return folder


@settings(FUZZ, max_examples=EXAMPLES["run JSON"])
@given(files=mutated_runs())
def test_any_run_json_reads_reports_compares_and_is_kept_or_is_one_line(tmp_path, files):
    from fastbert_variants import history
    from fastbert_variants.compare import compare_runs
    from fastbert_variants.noise import DEFAULT_FILE, read_noise
    from fastbert_variants.report import Report
    from fastbert_variants.runs import load_run

    folder = _write_run(tmp_path / "run", files)
    reached = "nothing read"
    try:
        run = load_run(folder)
        reached = "read"
        report = Report(run)
        report.markdown([]), report.terminal(), report.to_json()
        reached = "reported"
        compare_runs(run, run, 0.1, 1.0, read_noise(DEFAULT_FILE))
        reached = "compared"
        engine = history.open_history(f"sqlite:///{tmp_path / 'h.sqlite'}")
        history.add_run(engine, run, branch="main")
        reached = "kept in the history"
    except UserError as exc:
        assert "\n" not in str(exc)
    event(reached)  # --hypothesis-show-statistics: how far the examples got


@settings(FUZZ, max_examples=EXAMPLES["run JSON through the CLI"])
@given(files=mutated_runs())
def test_any_run_json_through_every_command_is_an_answer_or_one_line(tmp_path_factory, capsys, files):
    """The commands a user runs on a run's files, as they run them: report with its plots and HTML page, compare,
    history add and history show with its plot (SQLite). Exit 0 or 1 (a verdict), or 2 with one line and no
    traceback; never another exception."""
    from fastbert_variants.cli import main

    work = tmp_path_factory.mktemp("cli")
    run = str(_write_run(work / "run", files))
    db = f"sqlite:///{work / 'h.sqlite'}"
    for command in (["report", run, "--out", str(work / "out"), "--html"], ["compare", run, run],
                    ["history", "add", run, "--db", db, "--branch", "main"],
                    ["history", "show", "--db", db, "--plot", str(work / "h.png")]):
        capsys.readouterr()
        code = main(command)
        err = capsys.readouterr().err
        assert code in (0, 1) or (code == 2 and err.count("\n") == 1 and err.startswith("fastbert-variants")), \
            (command[:2], code, err[-2000:])
        event(f"{command[0]} {command[1] if command[0] == 'history' else ''}: exit {code}")
        if code == 2 and command[0] != "history":
            break  # a run no reader takes: the history has nothing to add


@settings(FUZZ, max_examples=EXAMPLES["run JSON into PostgreSQL"])
@given(files=mutated_runs())
def test_any_run_json_kept_in_postgresql_or_one_line(postgres_url, tmp_path_factory, capsys, files):
    """PostgreSQL refuses what SQLite keeps (NaN in JSON, strings past a column's length) and raised DataError
    tracebacks: the same fuzzed runs added to and shown from a PostgreSQL history."""
    from fastbert_variants.cli import main

    run = str(_write_run(tmp_path_factory.mktemp("pg") / "run", files))
    for command in (["history", "add", run, "--db", postgres_url, "--branch", "fuzz"],
                    ["history", "show", "--db", postgres_url, "--branch", "fuzz", "--last", "3"]):
        capsys.readouterr()
        code = main(command)
        err = capsys.readouterr().err
        assert code == 0 or (code == 2 and err.count("\n") == 1 and "Traceback" not in err), (command[:2], code, err)
        event(f"history {command[1]}: exit {code}")


@pytest.fixture(scope="module")
def server_url(default_bench):
    """The real app served from a thread, so each example is one plain HTTP request; its model's place is taken by
    the real tokenizer (where a lone surrogate once failed a whole batch) and a stand-in for the forward pass."""
    from aiohttp import web

    from fastbert_variants.serving import ServingPolicy, make_app

    tokenizer = default_bench.source.tokenizer

    def predict(texts):
        tokens = tokenizer(texts, truncation=True, max_length=64, padding=True, return_tensors="np")
        return np.zeros((len(tokens["input_ids"]), 2), dtype=np.float32)

    loop, ready = asyncio.new_event_loop(), threading.Event()
    runner = web.AppRunner(make_app(predict, ID2LABEL, ServingPolicy(max_texts=8, max_chars=50, max_body_bytes=2048),
                                    "stand-in"))
    holder = {}

    def serve():
        asyncio.set_event_loop(loop)
        loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", 0)
        loop.run_until_complete(site.start())
        holder["port"] = site._server.sockets[0].getsockname()[1]
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    ready.wait(10)
    yield f"http://127.0.0.1:{holder['port']}/predict"
    asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)


# st.text() makes no lone surrogates (valid JSON as "\\udc80", no valid UTF-8): they are mixed in by hand.
texts_with_surrogates = st.text(alphabet=st.one_of(st.characters(), st.sampled_from(["\ud800", "\udc80", "\udfff"])),
                                max_size=60)
bodies = st.one_of(st.binary(max_size=300), json_values.map(lambda v: json.dumps(v).encode()),
                   st.fixed_dictionaries({"texts": json_values}).map(lambda v: json.dumps(v).encode()),
                   st.lists(texts_with_surrogates, max_size=10).map(lambda t: json.dumps({"texts": t}).encode()),
                   st.integers(1, 200_000).map(lambda n: b'{"texts": ' + b"[" * n + b"]" * n + b"}"),  # deep
                   st.integers(1000, 9000).map(lambda n: json.dumps({"texts": ["word " * (n // 5)]}).encode()),  # long
                   st.integers(2000, 300_000).map(lambda n: b'{"texts": ["' + b"x" * n + b'"]}'),  # past the body cap
                   st.integers(4300, 6000).map(lambda n: b'{"texts": ["a"], "n": ' + b"9" * n + b"}"))


@settings(FUZZ, max_examples=EXAMPLES["request bodies"])
@given(body=bodies, content_type=st.sampled_from(["application/json", "application/json; charset=latin-1",
                                                  "text/plain", "application/json; charset=nonsense"]))
def test_any_request_body_gets_a_json_answer_200_or_4xx(server_url, body, content_type):
    request = urllib.request.Request(server_url, data=body, headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status, answer = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, answer = error.code, error.read()
    assert status == 200 or 400 <= status < 500, (status, answer[:200])
    assert isinstance(json.loads(answer), dict)
