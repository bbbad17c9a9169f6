"""One load of the server scenario, driven by MLPerf LoadGen (PyPI `mlcommons-loadgen`).

LoadGen is the reference load generator of inference benchmarking: in its Server scenario it issues queries
at Poisson arrivals of the target rate, measures each one's latency from its scheduled issue time, and judges
the run VALID only if its early-stopping estimate of the percentile, for the number of queries actually run,
is within the target latency: a p99 resting on a handful of queries is not claimed. Each query here is one
dataset text POSTed to `fastbert-variants serve`; an answer other than 200 is an error, and a load with any
error does not hold, whatever its latency (LoadGen counts a fast 503 as a fast answer).

Run as `python -m fastbert_variants.mlperf URL --texts FILE --rate R --seconds T --budget-ms B --log-dir DIR` in its
own process (pinned away from the server's cores where the machine has cores to spare); it prints one JSON
RatePoint, and leaves LoadGen's logs in DIR (mlperf_log_summary.txt: the run's summary, kept with the result).
"""

from __future__ import annotations

import asyncio
import gc
import json
import sys
import threading
import time
from pathlib import Path

from .options import OneLineParser, integer, number
from .results import RatePoint

# LoadGen's early stopping for the 99th percentile: with no query over the target, 459 queries are the fewest
# that let it claim the p99 (its own "would need to run at least N more queries"); a few more, so that one query
# over the target does not already make a load unprovable.
MIN_QUERIES = 660


def summary_fields(detail_log: Path) -> dict:
    """LoadGen's results, by key, from its detail log (one `:::MLLOG {json}` per line)."""
    found = {}
    for line in detail_log.read_text().splitlines():
        if line.startswith(":::MLLOG "):
            entry = json.loads(line[len(":::MLLOG "):])
            found[entry.get("key")] = entry.get("value")
    return found


def server_load(url: str, texts: list[str], rate: float, seconds: float, budget_ms: float, log_dir: Path,
                seed: int = 0, min_queries: int = MIN_QUERIES, timeout_s: float = 30.0) -> RatePoint:
    """One LoadGen Server-scenario run at `rate` queries/s for at least `seconds` and `min_queries` queries."""
    import aiohttp
    import mlperf_loadgen as lg

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    statuses: dict[object, int] = {}
    lock = threading.Lock()

    async def open_session():
        return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0),
                                     timeout=aiohttp.ClientTimeout(total=timeout_s))

    session = asyncio.run_coroutine_threadsafe(open_session(), loop).result()

    async def one(query_id: int, index: int) -> None:
        try:
            async with session.post(url, json={"texts": [texts[index % len(texts)]]}) as response:
                await response.read()
                status = response.status
        except (aiohttp.ClientError, asyncio.TimeoutError):
            status = "lost"
        with lock:
            statuses[status] = statuses.get(status, 0) + 1
        lg.QuerySamplesComplete([lg.QuerySampleResponse(query_id, 0, 0)])

    def issue(samples) -> None:
        for sample in samples:
            loop.call_soon_threadsafe(lambda s=sample: loop.create_task(one(s.id, s.index)))

    settings = lg.TestSettings()
    settings.scenario, settings.mode = lg.TestScenario.Server, lg.TestMode.PerformanceOnly
    settings.server_target_qps = rate
    settings.server_target_latency_ns = int(budget_ms * 1e6)
    settings.server_target_latency_percentile = 0.99
    settings.min_duration_ms = int(seconds * 1000)
    settings.min_query_count = min_queries
    settings.schedule_rng_seed = settings.sample_index_rng_seed = settings.qsl_rng_seed = seed
    log = lg.LogSettings()
    log_dir.mkdir(parents=True, exist_ok=True)
    log.log_output.outdir, log.log_output.copy_summary_to_stdout, log.enable_trace = str(log_dir), False, False
    gc.freeze()  # the modules loaded so far out of the collector's reach: no full collection stalls the client's loop
    sut = lg.ConstructSUT(issue, lambda: None)
    count = min(len(texts), 1024)
    qsl = lg.ConstructQSL(len(texts), count, lambda _: None, lambda _: None)
    started = time.perf_counter()
    try:
        lg.StartTestWithLogSettings(sut, qsl, settings, log)
    finally:
        lg.DestroyQSL(qsl)
        lg.DestroySUT(sut)
        asyncio.run_coroutine_threadsafe(session.close(), loop).result()
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
    elapsed = time.perf_counter() - started
    found = summary_fields(log_dir / "mlperf_log_detail.txt")
    sent = int(found.get("result_query_count") or sum(statuses.values()))
    answered = statuses.get(200, 0)
    early = " ".join(str(found.get("early_stopping_result") or "").split())
    return RatePoint(offered_per_s=rate, sent=sent, answered=answered, errors=sent - answered,
                     p50_ms=float(found.get("result_50.00_percentile_latency_ns", 0)) / 1e6,
                     p99_ms=float(found.get("result_99.00_percentile_latency_ns", 0)) / 1e6,
                     achieved_per_s=answered / elapsed, shed=statuses.get(503, 0), expired=statuses.get(504, 0),
                     lost=statuses.get("lost", 0), valid=found.get("result_validity") == "VALID",
                     scheduled_per_s=found.get("result_scheduled_samples_per_sec"),
                     overlatency=found.get("result_overlatency_query_count"), early_stopping=early or None)


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(prog="python -m fastbert_variants.mlperf", description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--texts", required=True, help="a JSON file holding a list of texts to send")
    parser.add_argument("--rate", type=number(0, above=True), required=True, help="target queries per second")
    parser.add_argument("--seconds", type=number(0, above=True), required=True, help="the load's least duration")
    parser.add_argument("--budget-ms", type=number(0, above=True), required=True, help="the p99 target")
    parser.add_argument("--min-queries", type=integer(1), default=MIN_QUERIES)
    parser.add_argument("--log-dir", required=True, help="where LoadGen writes its logs")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        texts = json.loads(Path(args.texts).read_text())
    except (OSError, ValueError) as exc:
        print(f"fastbert-variants mlperf: error: --texts {args.texts}: {exc}; give a JSON file holding a list of texts",
              file=sys.stderr)
        return 2
    if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
        print(f"fastbert-variants mlperf: error: --texts {args.texts} must hold a non-empty JSON list of texts",
              file=sys.stderr)
        return 2
    point = server_load(args.url, texts, args.rate, args.seconds, args.budget_ms, Path(args.log_dir), args.seed,
                        args.min_queries)
    print(json.dumps(point.to_json()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
