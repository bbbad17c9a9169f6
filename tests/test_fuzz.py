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

EXAMPLES = {"dataset files": 150, "run JSON": 200, "request bodies": 200}
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


json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.floats(allow_nan=True, allow_infinity=True),
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


def _mutate(draw, record: dict, mutations: int) -> None:
    """Set or delete `mutations` fields of a record (or of a dict one level down), each to a fuzzed value."""
    for _ in range(mutations):
        target = record
        if draw(st.booleans()):
            nested = [k for k, v in target.items() if isinstance(v, dict) and v]
            target = target[draw(st.sampled_from(nested))] if nested else target
        if not target:
            return
        field = draw(st.sampled_from(sorted(target)))
        if draw(st.integers(0, 3)) == 0:
            del target[field]
        else:
            target[field] = draw(json_values)


@st.composite
def mutated_runs(draw):
    """A real run's files (tests/data/runs), with a few results and records changed: mostly still readable."""
    folder = draw(st.sampled_from(RUNS))
    benchmark = json.loads((folder / "benchmark.json").read_text())
    accuracy = json.loads((folder / "accuracy.json").read_text())
    entries = benchmark["benchmarks"]
    for _ in range(draw(st.integers(0, 3))):
        entry = entries[draw(st.integers(0, len(entries) - 1))]
        _mutate(draw, entry["extra_info"], draw(st.integers(1, 2)))
    keys = sorted(accuracy)
    for _ in range(draw(st.integers(0, 2))):
        _mutate(draw, accuracy[draw(st.sampled_from(keys))], 1)
    if draw(st.integers(0, 9)) == 0:
        benchmark = draw(json_values)  # now and then not a run at all
    return benchmark, accuracy


@settings(FUZZ, max_examples=EXAMPLES["run JSON"])
@given(files=mutated_runs())
def test_any_run_json_reads_reports_compares_and_is_kept_or_is_one_line(tmp_path, files):
    from fastbert_variants import history
    from fastbert_variants.compare import compare_runs
    from fastbert_variants.noise import DEFAULT_FILE, read_noise
    from fastbert_variants.report import Report
    from fastbert_variants.runs import load_run

    benchmark, accuracy = files
    folder = tmp_path / "run"
    folder.mkdir(exist_ok=True)
    (folder / "benchmark.json").write_text(json.dumps(benchmark))
    (folder / "accuracy.json").write_text(json.dumps(accuracy))
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


@pytest.fixture(scope="module")
def server_url():
    """The real app on a stand-in model, served from a thread, so each example is one plain HTTP request."""
    from aiohttp import web

    from fastbert_variants.serving import ServingPolicy, make_app

    def predict(texts):
        return np.zeros((len(texts), 2), dtype=np.float32)

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


bodies = st.one_of(st.binary(max_size=300), json_values.map(lambda v: json.dumps(v).encode()),
                   st.fixed_dictionaries({"texts": json_values}).map(lambda v: json.dumps(v).encode()),
                   st.lists(st.text(max_size=60), max_size=10).map(lambda t: json.dumps({"texts": t}).encode()))


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
