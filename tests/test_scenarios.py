"""The offline and server scenarios' parts: records, the capacity search, the open-loop load, the report."""

import asyncio
import json
import threading
import time

import numpy as np
import pytest

from fastbert_variants import loadgen, plan
from fastbert_variants.inputs import make_traffic
from fastbert_variants.report import Report
from fastbert_variants.results import (
    LatencyResult,
    MalformedResult,
    OfflineResult,
    RatePoint,
    ServerResult,
    Speedup,
    read_result,
)
from fastbert_variants.runs import Run


def offline(variant, batch_size, speedup, texts_per_s, strategy="dynamic", first_pass_s=1.0):
    return OfflineResult(variant, "cpu", batch_size, strategy, 256, texts_per_s,
                         Speedup(speedup, (speedup * 0.95, speedup * 1.05), 8, 4, (speedup,) * 8, 0.05),
                         100.0, first_pass_s, 2, 0.2, 33.0, 2, "default")


def cell(variant, seq_len, speedup):
    return LatencyResult(variant, "cpu", 1, seq_len, 10.0 / speedup,
                         Speedup(speedup, (speedup * 0.95, speedup * 1.05)), threads=2, model="default")


def server(variant, capacity):
    points = (RatePoint(capacity, 400, 400, 0, 20.0, 90.0, capacity), RatePoint(capacity * 1.15, 460, 460, 0, 80, 300, 110))
    return ServerResult(variant, "cpu", 100.0, capacity, 16, 5.0, points, 2, 11, 0.15, "not pinned", 2, "default", 4.0)


def lines_of(report, title: str) -> list[str]:
    """The lines of the report's block whose title starts with `title`."""
    return next(lines for heading, lines in report.blocks() if heading.startswith(title))


@pytest.mark.parametrize("record", [cell("ort-fp32", 128, 1.3), offline("openvino-int8", 8, 2.4, 300.0),
                                    server("openvino-int8", 180.0)])
def test_every_record_reads_back_what_it_wrote(record):
    assert read_result(json.loads(json.dumps(record.to_json()))) == record


def test_a_record_missing_a_needed_field_is_one_line():
    data = offline("openvino-int8", 8, 2.4, 300.0).to_json()
    del data["texts_per_s"]
    with pytest.raises(MalformedResult, match="has no 'texts_per_s'"):
        read_result(data)
    with pytest.raises(MalformedResult, match="kind 'nope'"):
        read_result({"kind": "nope"})


def test_an_old_run_reads_and_its_retired_kinds_are_left_out(tmp_path):
    """A run written before the records (latency results without threads or block ratios, the old batching and
    closed-loop serving kinds) still reads."""
    from fastbert_variants.runs import load_run

    old = {"variant": "ort-fp32", "device": "cpu", "batch_size": 1, "seq_len": 128, "cell": "cpu-b1-s128",
           "median_ms": 8.0, "speedup_vs_fp32": 1.3, "speedup_ci95": [1.2, 1.4], "cpu": "AMD EPYC", "cpu_isa": "avx2"}
    retired = [{"kind": "batching", "variant": "torch-fp32", "device": "cpu", "strategy": "dynamic"},
               {"kind": "serving", "variant": "torch-fp32", "device": "cpu", "mode": "no-batching"}]
    path = tmp_path / "benchmark.json"
    path.write_text(json.dumps({"benchmarks": [{"name": "t", "extra_info": info} for info in [old, *retired]]}))
    run = load_run(path)
    assert [r.cell for r in run.of_kind("latency")] == ["cpu-b1-s128"] and run.of_kind("latency")[0].speedup.ratios == ()
    assert run.machine["cpu"] == "AMD EPYC" and not run.of_kind("offline") and not run.of_kind("server")


def test_the_capacity_search_finds_the_knee_within_one_step_of_a_sweep_and_confirms_it():
    """A server that holds 100 requests/s and no more: the search lands within one step below it, in few loads, and
    the capacity is a rate offered twice and held twice."""

    def load(rate):
        p99 = 20.0 if rate <= 100 else 1000.0
        return RatePoint(rate, int(rate * 4), int(rate * 4), 0, 10.0, p99, rate)

    capacity, points = loadgen.find_capacity(load, 100.0, start_rate=30.0, step=0.1)
    sweep = max(r for r in np.arange(10, 200, 1.0) if load(r).held(100.0))
    assert sweep / 1.1 <= capacity <= sweep and len(points) <= 9
    at = [p for p in points if p.offered_per_s == capacity]
    assert len(at) == 2 and all(p.held(100.0) for p in at)
    assert not load(1.5 * capacity).held(100.0)
    assert loadgen.find_capacity(lambda r: RatePoint(r, 4, 3, 1, 1, 1, r), 100.0, 20.0)[0] == 0.0  # a lost request


def test_a_rate_whose_loads_disagree_is_not_reported_as_held():
    """A server whose speed drops mid-search (a shared VM): the confirming load goes over where the search held, so
    that rate is over, and the search goes on below it to a rate every load of which held."""
    slow_after = iter(range(100))

    def load(rate):
        limit = 100 if next(slow_after) < 5 else 70  # the machine slows down after five loads
        return RatePoint(rate, 400, 400, 0, 10.0, 20.0 if rate <= limit else 1000.0, rate)

    capacity, points = loadgen.find_capacity(load, 100.0, start_rate=30.0, step=0.1)
    assert 70 / 1.1 <= capacity <= 70
    assert all(p.held(100.0) for p in points if p.offered_per_s == capacity)
    assert any(not p.held(100.0) for p in points if p.offered_per_s > capacity and any(
        q.held(100.0) for q in points if q.offered_per_s == p.offered_per_s))  # the disagreeing rate, kept and shown
    result = ServerResult("openvino-int8", "cpu", 100.0, capacity, 1, 0.0, tuple(points), 1, len(points), 0.1, "-")
    assert result.contradicting and all(p.offered_per_s > capacity for p in result.contradicting)
    run = Run.of(server("torch-fp32", 20.0), result)
    (served,) = lines_of(Report(run), "server")
    assert "UNSTEADY" in served and "held" in served


def test_a_loadgen_verdict_decides_whatever_the_p99_figure_says():
    """LoadGen's INVALID (its early-stopping p99 bound not met for the queries run) is over, even with a p99 figure
    inside the budget; VALID with a shed request (a fast 503, which LoadGen times as fast) is over too."""
    invalid = RatePoint(200.0, 300, 300, 0, 10.0, 60.0, 199.0, valid=False, overlatency=2,
                        early_stopping="* Run unsuccessful. * Would need to run at least 400 more queries")
    shed = RatePoint(200.0, 700, 699, 1, 10.0, 60.0, 199.0, shed=1, valid=True, overlatency=0)
    held = RatePoint(200.0, 700, 700, 0, 10.0, 60.0, 199.0, valid=True, overlatency=0)
    assert not invalid.held(100.0) and not shed.held(100.0) and held.held(100.0)
    assert "LoadGen INVALID" in invalid.p99_words() and "1 errors" in shed.p99_words()
    assert RatePoint.from_json(invalid.to_json()) == invalid


def _serve_in_thread(seconds_per_call: float, max_batch_size: int):
    """A real aiohttp server (the suite's app) over a fake model that takes a fixed time per call."""
    from aiohttp import web

    from fastbert_variants.serving import ServingPolicy, make_app

    def predict(texts):
        time.sleep(seconds_per_call)
        return np.zeros((len(texts), 2), dtype=np.float32)

    policy = ServingPolicy(max_batch_size=max_batch_size, max_wait_ms=2.0, deadline_ms=60_000.0, max_queue_texts=10_000)
    app = make_app(predict, {0: "negative", 1: "positive"}, policy, "fake")  # sheds nothing: the load is what is tested
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app, handler_cancellation=True)  # as `serve` runs it: a client that leaves drops its texts
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    loop.run_until_complete(site.start())
    port = site._server.sockets[0].getsockname()[1]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    return f"http://127.0.0.1:{port}/predict", loop, runner


def test_a_loadgen_load_counts_from_the_schedule_and_claims_only_what_its_queries_prove(tmp_path):
    """5 ms a call, one text a call: 200/s at most. At 50/s LoadGen's early-stopping p99 is within 100 ms (VALID); at
    400/s the queue grows, every query is still answered, and LoadGen says INVALID."""
    from fastbert_variants.mlperf import server_load

    url, loop, runner = _serve_in_thread(0.005, max_batch_size=1)
    try:
        light = server_load(url, ["a text"], 50.0, 1.0, 100.0, tmp_path / "light", min_queries=460)
        heavy = server_load(url, ["a text"], 400.0, 1.0, 100.0, tmp_path / "heavy", min_queries=400)
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
    assert light.valid and light.held(100.0) and light.answered == light.sent >= 460 and light.p99_ms < 100
    assert not heavy.valid and not heavy.held(100.0) and heavy.answered == heavy.sent >= 400 and heavy.lost == 0
    assert heavy.p99_ms > 500 and heavy.overlatency > 3  # a closed loop of a few clients would have shown 20-60 ms
    summary = (tmp_path / "light" / "mlperf_log_summary.txt").read_text()
    assert "Result is : VALID" in summary and "Scenario : Server" in summary


def test_the_load_generator_refuses_a_budget_that_is_not_positive_in_one_line(tmp_path, capsys):
    from fastbert_variants import mlperf

    texts = tmp_path / "texts.json"
    texts.write_text(json.dumps(["a text"]))
    for budget in ("0", "-5", "nan"):
        argv = ["http://127.0.0.1:9/predict", "--texts", str(texts), "--rate", "10", "--seconds", "1",
                "--budget-ms", budget, "--log-dir", str(tmp_path)]
        with pytest.raises(SystemExit) as exited:
            mlperf.main(argv)
        err = capsys.readouterr().err
        assert exited.value.code == 2 and err.count("\n") == 1 and "--budget-ms" in err



def test_offline_traffic_chunks_cover_every_batch_once():
    from transformers import AutoTokenizer

    from fastbert_variants.models import PRESETS_DIR

    tokenizer = AutoTokenizer.from_pretrained(PRESETS_DIR / "tokenizer")  # the shipped WordPiece tokenizer
    texts = [("word " * n).strip() for n in (3, 40, 5, 12, 7, 90, 2, 30, 8, 4)]
    traffic = make_traffic("length-buckets", tokenizer, texts, 4, 128)
    assert traffic.texts == 10 and [len(b["input_ids"]) for b in traffic.batches] == [4, 4, 2]
    assert sorted(i for chunk in traffic.chunks(8) for i in chunk) == [0, 1, 2]
    dynamic = make_traffic("dynamic", tokenizer, texts, 4, 128)
    assert dynamic.padding_waste > traffic.padding_waste  # sorting by length first wastes less
    fixed = make_traffic("dynamic", tokenizer, texts, 4, 128, pad_to_multiple=64)
    assert {b["input_ids"].shape for b in fixed.batches} <= {(4, 64), (4, 128)} and fixed.rows_of(2) == 2


def test_the_report_leads_with_the_scenarios_and_says_where_the_fixed_cell_disagrees():
    run = Run.of(cell("torch-fp32", 16, 1.0), cell("ort-int8-dynamic", 16, 2.5), cell("openvino-int8", 16, 2.0),
                 offline("torch-fp32", 1, 1.0, 70.0), offline("ort-int8-dynamic", 1, 1.6, 112.0, first_pass_s=9.0),
                 offline("openvino-int8", 1, 2.9, 203.0), server("torch-fp32", 60.0), server("openvino-int8", 180.0),
                 machine={"cpu": "AMD EPYC"})
    report = Report(run)
    titles = [title for title, _ in report.blocks()]
    assert [t.split(":")[0] for t in titles] == ["offline", "server", "fixed cells"]
    (line,) = lines_of(report, "offline")
    assert line.startswith("cpu-offline-b1") and ": openvino-int8, 203.0 texts/s, 2.90x" in line
    assert "DISAGREES with the fixed cell cpu-b1-s16, which recommends ort-int8-dynamic" in line
    assert "on this traffic ort-int8-dynamic is 1.60x torch-fp32, against 2.50x in the cell" in line
    assert "first pass over these lengths ran at" in line
    (served,) = lines_of(report, "server")
    assert "openvino-int8, 180.0 requests/s" in served and "(torch-fp32: 60.0/s, 3.00x)" in served
    markdown = report.markdown([])
    assert markdown.index("### Offline") < markdown.index("### Server") < markdown.index("### Fixed cells")
    assert json.loads(json.dumps(report.to_json()))["server"][0]["variant"] == "openvino-int8"


OLD_RUN = __import__("pathlib").Path(__file__).parent / "data" / "runs" / "quick-2026-12-02-before"


def test_a_run_written_before_the_records_reads_compares_and_reports(tmp_path, capsys):
    """The suite's own quick run of 2 December 2026 (AMD EPYC Zen 4), written before the typed records (its
    batching and serving results of retired kinds included): every result reads, it compares clean with itself,
    and `report` renders it."""
    from fastbert_variants.cli import main
    from fastbert_variants.runs import load_run

    run = load_run(OLD_RUN)
    assert len(run.of_kind("latency")) == 14 and {r.cell for r in run.of_kind("latency")} == {"cpu-b1-s128"}
    assert all(len(r.speedup.ratios) == 12 for r in run.of_kind("latency") if r.variant != "torch-fp32")
    assert run.machine["cpu_isa"] == "avx512_vnni" and len(run.accuracy) == 22
    assert main(["compare", str(OLD_RUN), str(OLD_RUN)]) == 0
    assert "0 regression(s) in 35 comparisons" in capsys.readouterr().out  # 13 groups (cells shown), 22 accuracy
    assert main(["report", str(OLD_RUN), "--out", str(tmp_path)]) == 0
    assert "cpu-b1-s128: openvino-int8, 3.82x" in (tmp_path / "summary.md").read_text()


def test_the_output_check_where_timed_fails_nan_wrong_shape_and_drift():
    from fastbert_variants.metrics import disagreement

    fp32 = np.array([[0.5, -0.5], [1.0, -1.0]], dtype=np.float32)
    assert disagreement(fp32 + 0.01, fp32, 0.05) is None
    assert "non-finite" in disagreement(np.array([[np.nan, 0], [0, 0]]), fp32, 0.05)
    assert "shape" in disagreement(fp32[:, :1], fp32, 0.05)
    assert "differ from FP32's by 0.2000" in disagreement(fp32 + 0.2, fp32, 0.05)
    assert disagreement(np.vstack([fp32[:1], [[9.0, 9.0]]]), fp32[:1].repeat(2, 0), 0.05, rows=1) is None  # filler rows


def test_a_record_of_format_1_is_upgraded_in_one_step_and_a_newer_format_is_refused():
    from fastbert_variants.results import FORMAT, upgrade

    old = {"variant": "ort-fp32", "device": "cpu", "batch_size": 1, "seq_len": 16, "median_ms": 2.0,
           "speedup_vs_fp32": 1.4}  # the oldest runs: no kind, no format, a speedup without interval or blocks
    record = read_result(old)
    assert record.speedup.ci95 == (1.4, 1.4) and record.speedup.order == "ABBA" and record.speedup.settle_calls == 0
    assert upgrade(old)["format"] == FORMAT and "format" not in old  # a copy: the input is left as it was
    written = record.to_json()
    assert written["format"] == FORMAT and read_result(written) == record
    with pytest.raises(MalformedResult, match="format 3, newer than this fastbert-variants reads"):
        read_result({**written, "format": 3})


def test_an_accuracy_record_says_its_text_set_and_makes_its_key():
    from fastbert_variants.results import accuracy_key, read_accuracy

    assert accuracy_key("cpu", "ort-fp32") == "cpu/ort-fp32"
    assert accuracy_key("cpu", "ort-fp32", "long-texts") == "cpu/ort-fp32/long-texts"
    from pathlib import Path

    written = Path(__file__).parent / "data" / "runs" / "quick-2026-12-02-before" / "accuracy.json"  # before text_set
    records = read_accuracy(json.loads(written.read_text()))
    assert {r.text_set for r in records.values()} == {"dataset", "long-texts"}
    for key, record in records.items():
        assert record.key == key and record.text_set in ("dataset", "long-texts")


def test_a_shared_measurement_takes_the_selection_when_no_test_of_its_scenario_was_collected():
    """The server's shortlist asks the offline scenario, whose tests may not be in the session (pytest -k server)."""
    from types import SimpleNamespace

    from fastbert_variants import plan
    from fastbert_variants.scenarios import SCENARIOS, Session

    selection = plan.Selection.parse("quick", "torch-fp32,ort-fp32,torchscript")
    offline = SCENARIOS["offline"]
    alone = Session(None, selection, SimpleNamespace(), Run(), ["cpu"])
    assert alone.variants_in(offline, lambda c: c.batch_size == 8) == ["ort-fp32", "torchscript"]
    planned = Session(None, selection, SimpleNamespace(), Run(), ["cpu"], planned=lambda fixture, keep: ["torchscript"])
    assert planned.variants_in(offline, lambda c: True) == ["torchscript"]
    assert {c.id for c in offline.cases(selection, ["cpu"])} >= {"cpu-offline-b1-dynamic-torch-fp32",
                                                                 "cpu-offline-b32-dynamic-torchscript"}


def test_a_baseline_that_held_no_rate_gives_no_ratio_and_says_so():
    """torch-fp32's search may find no rate that held at every load (a 2-core machine where the verdicts flip):
    the line says so instead of printing 0.0/s and a ratio of nan."""
    (served,) = lines_of(Report(Run.of(server("torch-fp32", 0.0), server("openvino-int8", 180.0))), "server")
    assert "torch-fp32: no rate held at every load offered" in served and "nan" not in served


def test_the_quick_profile_serves_the_offline_scenarios_best_alone_and_says_there_is_no_ratio():
    """torch-fp32's loads last 12-23 s on 2 cores and its search held no rate at every load in the main jobs of
    5 December: the quick profile serves the best offline variant only, and its line says there is no ratio."""
    from fastbert_variants.scenarios.server import SCENARIO as SERVER

    quick, full = (plan.Selection.parse(p, "all", "cpu") for p in ("quick", "full"))
    quick_ids, full_ids = ([c.id for c in SERVER.cases(s, ["cpu"])] for s in (quick, full))
    assert "cpu-torch-fp32" not in quick_ids and "cpu-openvino-int8" in quick_ids  # a case per variant, named by it
    assert full_ids[0] == "cpu-torch-fp32" and set(full_ids) == set(quick_ids) | {"cpu-torch-fp32"}
    asked = plan.Selection.parse("quick", "all", "cpu", server_baseline="on")  # --fastbert-server-baseline on
    assert [c.id for c in SERVER.cases(asked, ["cpu"])] == full_ids and asked.profile.offline_texts == 192
    (served,) = lines_of(Report(Run.of(server("openvino-int8", 233.0))), "server")
    assert "openvino-int8, 233.0 requests/s" in served and "torch-fp32 not served in this run: no ratio to it" in served


def test_a_server_that_failed_requests_is_started_afresh_and_warmed_before_the_next_load():
    """After an overload (requests shed or expired) the same server process was slower for its next load: the search
    meets a fresh one, warmed up; after a load that failed nothing, it only waits for the backlog to drain."""
    calls = []

    class Fake(loadgen.ServerProcess):
        def __init__(self):
            pass

        def __enter__(self):
            calls.append("start")
            return self

        def __exit__(self, *exc):
            calls.append("stop")

        def wait_idle(self, timeout_s=30.0, quiet_s=0.5):
            calls.append("drain")
            return 0.0

    served = Fake()
    served.recover(lambda: calls.append("warm-up"))
    served.last_load_failed_requests = True
    served.recover(lambda: calls.append("warm-up"))
    served.recover(lambda: calls.append("warm-up"))
    assert calls == ["drain", "stop", "start", "warm-up", "drain"]


def test_after_a_confirmation_went_over_the_search_steps_down_until_a_rate_holds_at_every_load():
    """The machine slows from 100/s to 70/s mid-search: the confirming loads go over and the first step down too;
    the search goes on down a step at a time (it once gave up there and reported no capacity) to a rate held twice."""
    count = iter(range(100))

    def load(rate):
        limit = 100 if next(count) < 4 else 70
        return RatePoint(rate, 400, 400, 0, 10.0, 20.0 if rate <= limit else 1000.0, rate)

    capacity, points = loadgen.find_capacity(load, 100.0, start_rate=90.0, step=0.2)
    assert 70 / 1.2 <= capacity <= 70 and len([p for p in points if p.offered_per_s == capacity]) == 2
    assert sum(not p.held(100.0) for p in points if p.offered_per_s < 90) >= 1  # the first step down went over


def test_two_searches_stepped_in_turn_keep_their_ratio_when_the_machine_slows_down():
    """The machine slows by 30% after its tenth load, whichever search runs it. One search after the other, the
    second meets the slow machine alone and the ratio of the two capacities is wrong by far more than the search's
    step; stepped in turn (`alternating`), both meet it, and the ratio is that of the two servers to a step or two."""

    def machine():
        loads = iter(range(1000))

        def serving(holds_per_s):
            def load(rate):
                limit = holds_per_s * (1.0 if next(loads) < 10 else 0.7)
                return RatePoint(rate, 400, 400, 0, 10.0, 20.0 if rate <= limit else 1000.0, rate)
            return load
        return {"fast": serving(200.0), "baseline": serving(100.0)}

    one_after_the_other = machine()
    fast = loadgen.find_capacity(one_after_the_other["fast"], 100.0, 100.0, step=0.1)[0]
    baseline = loadgen.find_capacity(one_after_the_other["baseline"], 100.0, 50.0, step=0.1)[0]
    assert fast / baseline > 2 * 1.1 ** 2 or fast / baseline < 2 / 1.1 ** 2

    found = loadgen.alternating(machine(), 100.0, {"fast": 100.0, "baseline": 50.0}, step=0.1)
    fast, baseline = found["fast"][0], found["baseline"][0]
    assert fast and baseline and 2 / 1.1 ** 2 <= fast / baseline <= 2 * 1.1 ** 2
    for capacity, points in found.values():  # each still a rate held at every load offered at it
        assert all(p.held(100.0) for p in points if p.offered_per_s == capacity)


def test_the_served_variants_searches_run_in_turn_and_the_ratio_is_to_fp32_at_the_same_setting(monkeypatch, tmp_path):
    """Where the profile serves torch-fp32, its search and the variant's are stepped in turn, one load each, at each
    batcher setting; the variant's record keeps torch-fp32's capacity at its own best setting, and the verdict's
    ratio is that one, measured in the same stretch of time, not torch-fp32's best at another setting."""
    import dataclasses
    from types import SimpleNamespace

    from fastbert_variants.scenarios import server as scenario

    holds = {("torch-fp32", 1): 30.0, ("torch-fp32", 8): 50.0, ("openvino-int8", 1): 150.0, ("openvino-int8", 8): 120.0}
    order = {1: [], 8: []}  # per setting, the variant of each load in the order run

    class Served:
        def __init__(self, argv, variant, device, threads, max_batch, max_wait, cores):
            self.key, self.url = (variant, max_batch), f"http://{variant}/{max_batch}"
            assert argv[-2:] == ["--warm-up-texts", "texts.json"]  # every shape of the loads' texts called first

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            pass

        def recover(self, warm_up):
            pass

    def run_load(url, texts, rate, seconds, cores, budget, log_dir, seed=0, min_queries=660):
        _, variant, max_batch = url.removesuffix("/predict").rsplit("/", 2)
        if "warm-up" not in log_dir.name:
            order[int(max_batch)].append(variant)
        held = rate <= holds[(variant, int(max_batch))]
        return RatePoint(rate, 500, 500, 0, 10.0, 20.0 if held else 900.0, rate)

    monkeypatch.setattr(loadgen, "ServerProcess", Served)
    monkeypatch.setattr(loadgen, "run_load", run_load)
    profile = dataclasses.replace(plan.PROFILES["quick"], server_baseline=True, server_settings=((1, 0.0), (8, 2.0)))
    session = SimpleNamespace(
        profile=profile, opt=SimpleNamespace(p99_budget_ms=100.0),
        workbench=SimpleNamespace(runner=lambda v, d: None, threads=2, cache=SimpleNamespace(root=tmp_path)),
        run=Run.of(offline("torch-fp32", 8, 1.0, 60.0), offline("openvino-int8", 8, 3.0, 200.0)),
        once=lambda key, make: make(), scratch_dir=lambda: tmp_path)
    monkeypatch.setattr(scenario, "_server_argv", lambda session: [])
    monkeypatch.setattr(scenario, "_texts_file", lambda session: "texts.json")
    searches = scenario._search_in_turn(session, "cpu", ["torch-fp32", "openvino-int8"], ("x", None, [True]))
    for loads in order.values():  # A, B, A, B... until the shorter search ends
        both = 2 * min(loads.count("torch-fp32"), loads.count("openvino-int8"))
        assert loads[:both] == ["torch-fp32", "openvino-int8"] * (both // 2)
    (fp32_b1, *_), (fp32_b8, *_) = searches["torch-fp32"]
    (ov_b1, *_), (ov_b8, *_) = searches["openvino-int8"]
    assert 30 / 1.1 <= fp32_b1 <= 30 and 50 / 1.1 <= fp32_b8 <= 50 and 150 / 1.1 <= ov_b1 <= 150

    paired = dataclasses.replace(server("openvino-int8", ov_b1), baseline_capacity_per_s=fp32_b1)
    (line,) = lines_of(Report(Run.of(server("torch-fp32", fp32_b8), paired)), "server")
    assert f"{ov_b1 / fp32_b1:.2f}x" in line and "stepped in turn" in line
    assert read_result({**paired.to_json()}).baseline_capacity_per_s == fp32_b1
    # torch-fp32's search starts below its capacity as the variant's does, from its offline throughput, which a run
    # that measured offline only for the server's shortlist has as the variant's over its speedup (it started at 20/s)
    session.run = Run.of(offline("openvino-int8", 8, 3.0, 200.0))
    assert scenario._start_rate(session, "cpu", "torch-fp32", 8) == pytest.approx(0.5 * 200.0 / 3.0)
