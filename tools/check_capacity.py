"""Check the server scenario's capacity: the search repeated on one variant, and the server past the capacity.

    python tools/check_capacity.py --variant openvino-int8-nncf-default --max-batch-size 1 --max-wait-ms 0 \
        --searches 5 --out docs/results/capacity.json

Serves the variant (`fastbert-variants serve`, one process, its default queue bound and deadline) and runs the
suite's search (loadgen.find_capacity over MLPerf LoadGen loads) `--searches` times. It passes when every
capacity found was held by every load offered at it, the capacities lie within 15% of their median, and at
1.5x their median LoadGen judges the p99 over the budget with every query answered (none lost).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

from tabulate import tabulate

from fastbert_variants import loadgen
from fastbert_variants.files import write_atomically
from fastbert_variants.workbench import Workbench


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variant", default="torch-fp32")
    parser.add_argument("--max-batch-size", type=int, default=1)
    parser.add_argument("--max-wait-ms", type=float, default=0.0)
    parser.add_argument("--p99-budget-ms", type=float, default=100.0)
    parser.add_argument("--seconds-per-load", type=float, default=2.5, help="the quick profile's")
    parser.add_argument("--step", type=float, default=0.2, help="the quick profile's")
    parser.add_argument("--min-queries", type=int, default=460, help="queries in each load at least (the quick profile's)")
    parser.add_argument("--start-rate", type=float, default=100.0)
    parser.add_argument("--searches", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--cache-dir", default=os.environ.get("FASTBERT_VARIANTS_CACHE", "~/.cache/fastbert-variants"))
    parser.add_argument("--out", help="write every load as JSON here, and LoadGen's logs beside it")
    args = parser.parse_args()

    bench = Workbench("default", cache_dir=args.cache_dir, threads=args.threads)
    bench.runner(args.variant, "cpu")  # built into the cache here, so the server only loads it
    scratch = Path(tempfile.mkdtemp())
    logs = Path(args.out).with_suffix("") if args.out else scratch / "loadgen"
    texts = scratch / "texts.json"
    texts.write_text(json.dumps(bench.dataset.texts[:2000]))
    server_cores, load_cores, pinning = loadgen.placement(args.threads)
    loads = iter(range(1000))

    def load(rate: float, url: str):
        n = next(loads)
        server.recover(lambda: loadgen.run_load(url, str(texts), args.start_rate / 2, 1.0, load_cores,
                                                args.p99_budget_ms, logs / f"warm-up-{n:03d}", seed=999, min_queries=50))
        point = loadgen.run_load(url, str(texts), rate, args.seconds_per_load, load_cores, args.p99_budget_ms,
                                 logs / f"load-{n:03d}", seed=n, min_queries=args.min_queries)
        server.last_load_failed_requests = point.errors > 0  # as the suite's search: a fresh server after an overload
        return point

    searches = []
    with loadgen.ServerProcess(["--cache-dir", str(bench.cache.root)], args.variant, "cpu", args.threads,
                               args.max_batch_size, args.max_wait_ms, server_cores) as server:
        url = f"{server.url}/predict"  # `load` above reads `server`
        loadgen.run_load(url, str(texts), args.start_rate / 2, 1.0, load_cores, args.p99_budget_ms, logs / "warm-up",
                         seed=999, min_queries=50)
        for _ in range(args.searches):
            searches.append(loadgen.find_capacity(lambda rate: load(rate, url), args.p99_budget_ms, args.start_rate,
                                                  step=args.step))
        median = statistics.median(c for c, _ in searches)
        past = load(1.5 * median, url)
    rows, failures = [], []
    for number, (capacity, points) in enumerate(searches, 1):
        at = [p for p in points if p.offered_per_s == capacity]
        rows.append([number, f"{capacity:.1f}", f"{capacity / median:.3f}", len(points),
                     "; ".join(p.p99_words() for p in at) or "-"])
        if not at or not all(p.held(args.p99_budget_ms) for p in at):
            failures.append(f"search {number}: a load at its capacity {capacity:.1f}/s did not hold")
        if abs(capacity / median - 1) > 0.15:
            failures.append(f"search {number}: {capacity:.1f}/s is {100 * (capacity / median - 1):+.0f}% from the median")
    if past.held(args.p99_budget_ms) or past.lost or past.answered + past.errors != past.sent:
        failures.append(f"at 1.5x the median ({past.offered_per_s:.1f}/s): {past.p99_words()}, {past.lost} lost")
    print(tabulate(rows, ["search", "capacity /s", "over median", "loads", "every load at the capacity"]))
    print(f"{args.variant}, batch {args.max_batch_size}, wait {args.max_wait_ms:g} ms, p99 budget "
          f"{args.p99_budget_ms:g} ms, loads of {args.seconds_per_load:g} s and {args.min_queries} queries at least; "
          f"{pinning}")
    print(f"median capacity {median:.1f}/s, range {min(c for c, _ in searches):.1f}-{max(c for c, _ in searches):.1f}; "
          f"at 1.5x ({past.offered_per_s:.1f}/s): {past.p99_words()}, {past.sent} sent, {past.answered} answered, "
          f"{past.shed} shed, {past.expired} past the deadline, {past.lost} lost")
    print("\n".join(failures) or "passed: every capacity held at every load, all within 15% of the median, over at 1.5x")
    if args.out:
        write_atomically(args.out, json.dumps({"variant": args.variant, "pinning": pinning, "args": vars(args),
                                              "searches": [{"capacity": c, "points": [p.to_json() for p in ps]}
                                                           for c, ps in searches],
                                              "median": median, "past": past.to_json(), "failures": failures}, indent=1))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
