"""Check the server scenario's capacity: the search repeated on one variant, and the server past the capacity.

    python tools/check_capacity.py --variant openvino-int8-nncf-default --max-batch-size 1 --max-wait-ms 0 \
        --searches 5 --out docs/results/capacity.json

Serves the variant (`fastbert-variants serve`, one process, its default queue bound and deadline) and runs the
suite's search (loadgen.find_capacity over MLPerf LoadGen loads) `--searches` times. It passes when every
capacity found was held by every load offered at it, the capacities lie within 15% of their median, and at
1.5x their median LoadGen judges the p99 over the budget with every query answered (none lost).

With `--baseline torch-fp32` a second server serves the baseline with the same batcher setting, and each search
is a pair stepped in turn (loadgen.alternating: one load of the variant, one of the baseline, ...), as the server
scenario does where the profile serves torch-fp32. Then the figure checked is the ratio of the two capacities:
the five ratios within 15% of their median, where the machine's speed moved the capacities themselves further.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from itertools import count
from pathlib import Path

from tabulate import tabulate

from fastbert_variants import loadgen
from fastbert_variants.files import write_atomically
from fastbert_variants.workbench import Workbench

WITHIN = 0.15


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variant", default="torch-fp32")
    parser.add_argument("--baseline", help="serve this variant too and step its searches in turn with the variant's")
    parser.add_argument("--max-batch-size", type=int, default=1)
    parser.add_argument("--max-wait-ms", type=float, default=0.0)
    parser.add_argument("--p99-budget-ms", type=float, default=100.0)
    parser.add_argument("--seconds-per-load", type=float, default=2.5, help="the quick profile's")
    parser.add_argument("--step", type=float, default=0.2, help="the quick profile's")
    parser.add_argument("--min-queries", type=int, default=460, help="queries in each load at least (the quick profile's)")
    parser.add_argument("--start-rate", type=float, default=100.0)
    parser.add_argument("--baseline-start-rate", type=float, default=20.0)
    parser.add_argument("--searches", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--cache-dir", default=os.environ.get("FASTBERT_VARIANTS_CACHE", "~/.cache/fastbert-variants"))
    parser.add_argument("--cold", action="store_true", help="serve without calling every input shape first (as "
                        "the suite did before 6 December 2026)")
    parser.add_argument("--out", help="write every load as JSON here, and LoadGen's logs beside it")
    args = parser.parse_args()

    bench = Workbench("default", cache_dir=args.cache_dir, threads=args.threads)
    starts = {args.variant: args.start_rate, **({args.baseline: args.baseline_start_rate} if args.baseline else {})}
    for variant in starts:
        bench.runner(variant, "cpu")  # built into the cache here, so the server only loads it
    scratch = Path(tempfile.mkdtemp())
    logs = Path(args.out).with_suffix("") if args.out else scratch / "loadgen"
    texts = scratch / "texts.json"
    texts.write_text(json.dumps(bench.dataset.texts[:2000]))
    server_cores, load_cores, pinning = loadgen.placement(args.threads)
    numbers = count()

    def loader(server, start_rate):
        url = f"{server.url}/predict"

        def load(rate: float):
            n = next(numbers)
            server.recover(lambda: loadgen.run_load(url, str(texts), start_rate / 2, 1.0, load_cores,
                                                    args.p99_budget_ms, logs / f"warm-up-{n:03d}", seed=999,
                                                    min_queries=50))
            point = loadgen.run_load(url, str(texts), rate, args.seconds_per_load, load_cores, args.p99_budget_ms,
                                     logs / f"load-{n:03d}", seed=n, min_queries=args.min_queries)
            server.last_load_failed_requests = point.errors > 0  # as the suite's search: a fresh server after overload
            return point
        return load

    argv = ["--cache-dir", str(bench.cache.root)] + ["--warm-up-texts", str(texts)] * (not args.cold)
    servers = {variant: loadgen.ServerProcess(argv, variant, "cpu", args.threads,
                                              args.max_batch_size, args.max_wait_ms, server_cores) for variant in starts}
    searches = []  # per search: {variant: (capacity, points)}
    try:
        for server in servers.values():
            server.__enter__()
        loads = {variant: loader(server, starts[variant]) for variant, server in servers.items()}
        for variant, server in servers.items():
            loadgen.run_load(f"{server.url}/predict", str(texts), starts[variant] / 2, 1.0, load_cores,
                             args.p99_budget_ms, logs / f"warm-up-{variant}", seed=999, min_queries=50)
        for _ in range(args.searches):
            searches.append(loadgen.alternating(loads, args.p99_budget_ms, starts, step=args.step))
        median = statistics.median(s[args.variant][0] for s in searches)
        past = loads[args.variant](1.5 * median)
    finally:
        for server in servers.values():
            server.__exit__()

    rows, failures = [], []
    for number, found in enumerate(searches, 1):
        row = [number]
        for variant, (capacity, points) in found.items():
            at = [p for p in points if p.offered_per_s == capacity]
            row += [f"{capacity:.1f}", len(points), "; ".join(p.p99_words() for p in at) or "-"]
            if not at or not all(p.held(args.p99_budget_ms) for p in at):
                failures.append(f"search {number}: a load of {variant} at its capacity {capacity:.1f}/s did not hold")
        rows.append(row)
    figures = [s[args.variant][0] / (s[args.baseline][0] or float("nan")) if args.baseline else s[args.variant][0]
               for s in searches]
    what = f"capacity ratio {args.variant} / {args.baseline}" if args.baseline else f"{args.variant} capacity /s"
    middle = statistics.median(figures)
    for number, figure in enumerate(figures, 1):
        if not abs(figure / middle - 1) <= WITHIN:
            failures.append(f"search {number}: {what} {figure:.3f} is {100 * (figure / middle - 1):+.0f}% from the median")
    if past.held(args.p99_budget_ms) or past.lost or past.answered + past.errors != past.sent:
        failures.append(f"at 1.5x the median ({past.offered_per_s:.1f}/s): {past.p99_words()}, {past.lost} lost")
    headers = ["search"] + [f"{v} {h}" for v in starts for h in ("capacity /s", "loads", "every load at the capacity")]
    print(tabulate([[*row, f"{figure:.3f}"] for row, figure in zip(rows, figures, strict=True)], [*headers, what]))
    print(f"batch {args.max_batch_size}, wait {args.max_wait_ms:g} ms, p99 budget {args.p99_budget_ms:g} ms, loads of "
          f"{args.seconds_per_load:g} s and {args.min_queries} queries at least, step {args.step:g}; {pinning}")
    for variant in starts:
        capacities = [s[variant][0] for s in searches]
        print(f"{variant}: capacity median {statistics.median(capacities):.1f}/s, range "
              f"{min(capacities):.1f}-{max(capacities):.1f}")
    if args.baseline:
        print(f"{what}: median {middle:.3f}, range {min(figures):.3f}-{max(figures):.3f}")
    print(f"{args.variant} at 1.5x its median ({past.offered_per_s:.1f}/s): {past.p99_words()}, {past.sent} sent, "
          f"{past.answered} answered, {past.shed} shed, {past.expired} past the deadline, {past.lost} lost")
    print("\n".join(failures) or f"passed: every capacity held at every load, every {what.split(' ')[0]} figure within "
          f"{100 * WITHIN:.0f}% of the median, over at 1.5x")
    if args.out:
        write_atomically(args.out, json.dumps({
            "variant": args.variant, "baseline": args.baseline, "pinning": pinning, "args": vars(args),
            "searches": [{v: {"capacity": c, "points": [p.to_json() for p in ps]} for v, (c, ps) in s.items()}
                         for s in searches],
            "figures": figures, "figure": what, "median": middle, "past": past.to_json(), "failures": failures}, indent=1))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
