"""The server scenario's load: open-loop Poisson arrivals, and the search for the capacity at a p99 budget.

A closed loop (N clients, each waiting for its answer before sending again) slows its own arrivals
when the server slows, so its tail says little about a server under a real arrival rate
(coordinated omission). Here every request has a send time drawn in advance from a Poisson process
at the offered rate, is sent then whatever happened before, and its latency counts from that
scheduled time. Every request sent is accounted for: answered, failed, or timed out. A capacity search's
load stops as soon as its verdict is settled (`stop_over_budget_ms`: more than 1% of its scheduled requests
past the budget), as an over-budget load's remaining seconds would only say so again.

Run as `python -m fastbert_variants.loadgen URL --rate R --seconds T`, in its own process (pinned
away from the server's cores where the machine has cores to spare); it prints one JSON RatePoint.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Callable

import numpy as np

from .options import OneLineParser, number
from .results import RatePoint


async def open_loop(url: str, texts: list[str], rate: float, seconds: float, seed: int = 0,
                    timeout_s: float = 30.0, stop_over_budget_ms: float | None = None) -> RatePoint:
    """POST one text per request at Poisson arrivals of `rate` per second for `seconds`; latency from the schedule.

    With `stop_over_budget_ms`, the load stops once more than 1% of its scheduled requests (and one more, for the
    percentile's interpolation) have come back past that budget or not 200: the p99 is then over it, whatever the
    rest would do. What is still in flight is let go (`cut`)."""
    import aiohttp

    gaps = np.random.default_rng(seed).exponential(1.0 / rate, size=int(rate * seconds * 1.5) + 16)
    schedule = np.cumsum(gaps)
    schedule = schedule[schedule < seconds]
    latencies, statuses, lags = [], {}, []
    settled_after = int(0.01 * len(schedule)) + 2
    late = 0
    settled = asyncio.Event()

    async def one(session, index: int, at: float, started: float) -> None:
        nonlocal late
        lags.append((time.perf_counter() - started - at) * 1e3)  # the generator's own lag behind its schedule
        try:
            async with session.post(url, json={"texts": [texts[index % len(texts)]]},
                                    timeout=aiohttp.ClientTimeout(total=timeout_s)) as response:
                await response.read()
                status = response.status
        except (aiohttp.ClientError, asyncio.TimeoutError):
            status = "lost"
        statuses[status] = statuses.get(status, 0) + 1
        latency = (time.perf_counter() - started - at) * 1e3
        if status == 200:
            latencies.append(latency)
        if stop_over_budget_ms is not None and (status != 200 or latency > stop_over_budget_ms):
            late += 1
            if late >= settled_after:
                settled.set()

    connector = aiohttp.TCPConnector(limit=0)  # no client-side queue: the server sees the arrivals as offered
    async with aiohttp.ClientSession(connector=connector) as session:
        started = time.perf_counter()
        tasks = []
        for index, at in enumerate(schedule):
            delay = started + at - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            if settled.is_set():
                break
            tasks.append(asyncio.create_task(one(session, index, float(at), started)))
        answered_all = asyncio.gather(*tasks, return_exceptions=True)
        verdict = asyncio.create_task(settled.wait())
        await asyncio.wait({answered_all, verdict}, return_when=asyncio.FIRST_COMPLETED)
        stopped_at = time.perf_counter() - started if settled.is_set() else None
        for task in tasks:  # once settled: what is still in flight is let go
            task.cancel()
        await answered_all
        verdict.cancel()
        elapsed = time.perf_counter() - started
    p50, p99 = (np.percentile(latencies, [50, 99]) if latencies else (math.inf, math.inf))
    sent = len(tasks)
    return RatePoint(offered_per_s=rate, sent=sent, answered=len(latencies),
                     errors=sent - len(latencies), p50_ms=float(p50), p99_ms=float(p99),
                     achieved_per_s=len(latencies) / elapsed, shed=statuses.get(503, 0), expired=statuses.get(504, 0),
                     lost=statuses.get("lost", 0), send_lag_p99_ms=float(np.percentile(lags, 99)) if lags else None,
                     cut=sent - sum(statuses.values()), stopped_at_s=stopped_at)


def placement(server_threads: int) -> tuple[set[int] | None, set[int] | None, str]:
    """(server cores, load generator cores, what was done): apart where the machine has cores to spare."""
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else list(range(os.cpu_count() or 1))
    if len(cores) > server_threads:
        server, load = set(cores[:server_threads]), set(cores[server_threads:])
        return server, load, f"server pinned to cores {sorted(server)}, load generator to {sorted(load)}"
    return None, None, (f"not pinned: the machine gives this process {len(cores)} cores and the server uses "
                        f"{server_threads} threads, so the load generator shares the server's cores")


def run_load(url: str, texts_file: str, rate: float, seconds: float, cores: set[int] | None, seed: int = 0,
             stop_over_budget_ms: float | None = None) -> RatePoint:
    """One open-loop load, in its own process."""
    argv = [sys.executable, "-m", "fastbert_variants.loadgen", url, "--texts", texts_file, "--rate", str(rate),
            "--seconds", str(seconds), "--seed", str(seed)]
    argv += ["--stop-over-budget-ms", str(stop_over_budget_ms)] * (stop_over_budget_ms is not None)

    def pin():
        if cores:
            os.sched_setaffinity(0, cores)

    done = subprocess.run(argv, capture_output=True, text=True, preexec_fn=pin, timeout=seconds + 120, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"the load generator failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    return RatePoint.from_json(json.loads(done.stdout))


def find_capacity(load: Callable[[float], RatePoint], budget_ms: float, start_rate: float, step: float = 0.1,
                  max_loads: int = 14, floor_rate: float = 0.5, confirm: bool = False) -> tuple[float, list[RatePoint]]:
    """The highest offered rate whose load `held` within the budget, to a relative `step`.

    Brackets from `start_rate` (doubling up, or halving down), then bisects geometrically until the rate that
    held and the one that did not are within a factor 1 + step. With `confirm`, each verdict is seen twice
    where it matters: a rate that went over is offered again at once (new arrivals) and counts as over only if
    it goes over again, so one stall of a shared machine does not end the search far below the capacity (a
    load stopped once over costs a second or less); and the capacity found is offered once more at the end. A
    second verdict that differs (`ServerResult.contradicting`) shows the machine's speed moved under the
    search. Returns (capacity or 0.0, every point run).
    """
    points: list[RatePoint] = []

    def ok(rate: float) -> bool:
        points.append(load(rate))
        if not points[-1].held(budget_ms) and confirm and len(points) < max_loads:
            points.append(load(rate))
        return points[-1].held(budget_ms)

    rate = start_rate
    if ok(rate):
        low, high = rate, None
        while high is None and len(points) < max_loads:
            rate *= 2
            low, high = (rate, None) if ok(rate) else (low, rate)
    else:
        low, high = None, rate
        while low is None and rate / 2 >= floor_rate and len(points) < max_loads:
            rate /= 2
            low, high = (rate, high) if ok(rate) else (None, rate)
    if low is None:
        return 0.0, points
    while high is not None and high / low > 1 + step and len(points) < max_loads:
        middle = math.sqrt(low * high)
        low, high = (middle, high) if ok(middle) else (low, middle)
    if confirm:
        points.append(load(low))
    return low, points


class ServerProcess:
    """`fastbert-variants serve` in a process of its own on 127.0.0.1, with a batcher setting; stopped on exit."""

    def __init__(self, argv_options: list[str], variant: str, device: str, threads: int, max_batch_size: int,
                 max_wait_ms: float, cores: set[int] | None, start_timeout_s: float = 300.0):
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.argv = [sys.executable, "-m", "fastbert_variants.cli", "serve", "--variant", variant, "--device", device,
                     "--port", str(self.port), "--threads", str(threads), "--max-batch-size", str(max_batch_size),
                     "--max-wait-ms", str(max_wait_ms), *argv_options]
        self.cores, self.start_timeout_s = cores, start_timeout_s
        self.url = f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ServerProcess:
        import urllib.request

        cores = self.cores
        self.process = subprocess.Popen(self.argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                        preexec_fn=(lambda: os.sched_setaffinity(0, cores)) if cores else None)
        deadline = time.monotonic() + self.start_timeout_s  # a first build of the variant may happen in the server
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited with {self.process.returncode}:\n"
                                   f"{self.process.stdout.read()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=2):
                    return self
            except OSError:
                if time.monotonic() > deadline:
                    self.__exit__()
                    raise RuntimeError(f"the server did not answer /health within {self.start_timeout_s:.0f} s") from None
                time.sleep(0.3)

    def health(self) -> dict:
        import urllib.request

        with urllib.request.urlopen(f"{self.url}/health", timeout=10) as response:
            return json.loads(response.read())

    def __exit__(self, *exc) -> None:
        # Killed, not asked to stop: nothing of it is kept, and a graceful stop (aiohttp's shutdown, then the
        # runtime's teardown) took 1.3 s of every server's life.
        self.process.kill()
        self.process.wait(timeout=20)


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(prog="python -m fastbert_variants.loadgen", description=__doc__)
    parser.add_argument("url")
    parser.add_argument("--texts", required=True, help="a JSON file holding a list of texts to send, in order")
    parser.add_argument("--rate", type=number(0, above=True), required=True, help="offered requests per second (Poisson)")
    parser.add_argument("--seconds", type=number(0, above=True), required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--stop-over-budget-ms", type=number(0, above=True), default=None,
                        help="stop once the p99 is sure to be over this budget (a capacity search's load)")
    args = parser.parse_args(argv)
    try:
        with open(args.texts) as handle:
            texts = json.load(handle)
    except (OSError, ValueError) as exc:  # missing, unreadable, not JSON
        print(f"fastbert-variants loadgen: error: --texts {args.texts}: {exc.strerror if isinstance(exc, OSError) else exc}"
              "; give a JSON file holding a list of texts", file=sys.stderr)
        return 2
    if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
        print(f"fastbert-variants loadgen: error: --texts {args.texts} must hold a non-empty JSON list of texts",
              file=sys.stderr)
        return 2
    point = asyncio.run(open_loop(args.url, texts, args.rate, args.seconds, args.seed,
                                  stop_over_budget_ms=args.stop_over_budget_ms))
    print(json.dumps(point.to_json()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
