"""Check the server scenario's capacity search against a brute-force sweep, and the server past that capacity.

    python tools/check_capacity.py --variant torch-fp32 --max-batch-size 16 --max-wait-ms 5 --out docs/results/x.json

Serves the variant (`fastbert-variants serve`, one process, its default queue bound and deadline), runs
the search the suite runs, then offers every rate on a grid one search step apart around what it found
(the sweep; its loads, like the search's, stop once their p99 is sure to be over the budget), then 1.5x
the capacity for the whole load (its p99 must be over the budget), then 2x for longer (overload: the
server must shed, 503 or 504, and the p99 of what it accepted stay within its deadline). Every request
sent must get an answer: none lost.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from tabulate import tabulate

from fastbert_variants import loadgen
from fastbert_variants.files import write_atomically
from fastbert_variants.results.server import contradicting
from fastbert_variants.workbench import Workbench


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variant", default="torch-fp32")
    parser.add_argument("--max-batch-size", type=int, default=16)
    parser.add_argument("--max-wait-ms", type=float, default=5.0)
    parser.add_argument("--p99-budget-ms", type=float, default=100.0)
    parser.add_argument("--seconds-per-load", type=float, default=3.0)
    parser.add_argument("--step", type=float, default=0.15)
    parser.add_argument("--start-rate", type=float, default=40.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--cache-dir", default=os.environ.get("FASTBERT_VARIANTS_CACHE", "~/.cache/fastbert-variants"))
    parser.add_argument("--overload-seconds", type=float, default=12.0, help="how long 2x the capacity is offered")
    parser.add_argument("--deadline-ms", type=float, default=1000.0, help="the server's --deadline-ms")
    parser.add_argument("--out", help="write the points here as JSON")
    args = parser.parse_args()

    bench = Workbench("default", cache_dir=args.cache_dir, threads=args.threads)
    bench.runner(args.variant, "cpu")  # built into the cache here, so the server only loads it
    texts = Path(tempfile.mkdtemp()) / "texts.json"
    texts.write_text(json.dumps(bench.dataset.texts[:2000]))
    server_cores, load_cores, pinning = loadgen.placement(args.threads)
    with loadgen.ServerProcess(["--cache-dir", str(bench.cache.root), "--deadline-ms", str(args.deadline_ms)], args.variant, "cpu", args.threads,
                               args.max_batch_size, args.max_wait_ms, server_cores) as server:
        url = f"{server.url}/predict"

        def load(rate: float, seed: int = 0, stop: bool = True) -> loadgen.RatePoint:  # stops once over, as the suite's
            return loadgen.run_load(url, str(texts), rate, args.seconds_per_load, load_cores, seed,
                                    stop_over_budget_ms=args.p99_budget_ms if stop else None)

        load(args.start_rate / 2, seed=99)  # warm-up, as the suite's
        seeds = iter(range(100, 200))  # the suite's search: new arrivals each load, the capacity confirmed
        capacity, searched = loadgen.find_capacity(lambda rate: load(rate, seed=next(seeds)), args.p99_budget_ms,
                                                   args.start_rate, step=args.step, confirm=True)
        grid = [capacity * (1 + args.step) ** k for k in range(-3, 4)]
        swept = [load(rate, seed=k + 10) for k, rate in enumerate(grid)]
        past = load(1.5 * capacity, seed=7, stop=False)  # its whole length: every request must be answered
        overload = loadgen.run_load(url, str(texts), 2 * capacity, args.overload_seconds, load_cores, seed=8)
        health = server.health()
    held = [p.offered_per_s for p in swept if p.held(args.p99_budget_ms)]
    sweep_capacity = max(held) if held else 0.0
    def row(what, p):
        return [what, f"{p.offered_per_s:.1f}", p.sent, p.answered, p.shed, p.expired, p.lost, p.cut,
                f"{p.p50_ms:.1f}", f"{p.p99_ms:.1f}", f"{p.send_lag_p99_ms:.1f}",
                "held" if p.held(args.p99_budget_ms) else "over" + (f" (stopped at {p.stopped_at_s:.1f} s)"
                                                                   if p.stopped_at_s is not None else "")]

    rows = [row("search", p) for p in searched] + [row("sweep", p) for p in swept]
    rows += [row("1.5x capacity", past), row("2x capacity", overload)]
    print(tabulate(rows, ["load", "offered/s", "sent", "answered 200", "shed 503", "expired 504", "lost",
                          "let go once over", "p50 ms",
                          "p99 ms (of 200s)", "load generator's send lag p99 ms", "verdict"]))
    steps_apart = abs(sweep_capacity - capacity) / max(capacity, 1e-9)
    contradicted = contradicting(searched + swept, capacity, args.p99_budget_ms)
    print(f"{args.variant}, batch {args.max_batch_size}, wait {args.max_wait_ms:g} ms, p99 budget {args.p99_budget_ms:g} "
          f"ms, {args.seconds_per_load:g} s per load; {pinning}")
    print(f"search: {capacity:.1f}/s in {len(searched)} loads; sweep: {sweep_capacity:.1f}/s "
          f"({steps_apart / args.step:.2f} search steps apart); at 1.5x: p99 {past.p99_ms:.1f} ms, "
          f"{past.lost} of {past.sent} lost; {len(contradicted)} of {len(searched) + len(swept)} loads' verdicts "
          f"contradict the capacity found (a rate at or below it over budget, or one above it held)")
    print(f"at 2x ({overload.offered_per_s:.1f}/s for {args.overload_seconds:g} s): {overload.sent} sent, "
          f"{overload.answered} answered, {overload.shed} shed (503), {overload.expired} past the deadline (504), "
          f"{overload.lost} lost; p99 of the answered {overload.p99_ms:.1f} ms against a {args.deadline_ms:g} ms deadline "
          f"(the load generator's own send lag, inside those latencies: p99 {overload.send_lag_p99_ms:.1f} ms); "
          f"server: {health['dropped_texts']} texts dropped uncomputed")
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        write_atomically(args.out, json.dumps({"variant": args.variant, "capacity": capacity, "sweep_capacity": sweep_capacity,
                                              "search": [p.to_json() for p in searched],
                                              "contradicting_rates": [p.offered_per_s for p in contradicted],
                                              "sweep": [p.to_json() for p in swept], "past": past.to_json(),
                                              "overload": overload.to_json(), "server_health": health,
                                              "pinning": pinning, "args": vars(args)}, indent=1))
    ok = steps_apart <= args.step * 1.0001 and not past.held(args.p99_budget_ms) and past.lost == 0 and \
        overload.lost == 0 and overload.p99_ms <= args.deadline_ms
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
