"""The server scenario's loads and the search for the capacity at a p99 budget.

Each load is one MLPerf LoadGen Server-scenario run (mlperf.py) in a process of its own: Poisson arrivals at the
offered rate, latency from each query's scheduled issue time (no coordinated omission), and a verdict that holds
only where LoadGen's early-stopping estimate of the p99, for the queries actually run, is within the budget and
every query was answered 200. The search brackets and bisects on those verdicts (`find_capacity`); a capacity is
claimed only at a rate where every load offered held.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Callable, Generator
from pathlib import Path

from .results import RatePoint

MIN_QUERIES = 660  # mlperf.MIN_QUERIES: the fewest queries of a load whose p99 LoadGen can claim, and a margin
LONGEST_LOAD_S = 60.0  # a load lasts min_queries / rate at least: below MIN_QUERIES / this rate, nothing is measured


def placement(server_threads: int) -> tuple[set[int] | None, set[int] | None, str]:
    """(server cores, load generator cores, what was done): apart where the machine has cores to spare."""
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else list(range(os.cpu_count() or 1))
    if len(cores) > server_threads:
        server, load = set(cores[:server_threads]), set(cores[server_threads:])
        return server, load, f"server pinned to cores {sorted(server)}, load generator to {sorted(load)}"
    return None, None, (f"not pinned: the machine gives this process {len(cores)} cores and the server uses "
                        f"{server_threads} threads, so the load generator shares the server's cores")


def run_load(url: str, texts_file: str, rate: float, seconds: float, cores: set[int] | None, budget_ms: float,
             log_dir: Path, seed: int = 0, min_queries: int = MIN_QUERIES) -> RatePoint:
    """One LoadGen load, in its own process (pinned to `cores`); its logs left in `log_dir`."""
    argv = [sys.executable, "-m", "fastbert_variants.mlperf", url, "--texts", texts_file, "--rate", str(rate),
            "--seconds", str(seconds), "--budget-ms", str(budget_ms), "--log-dir", str(log_dir), "--seed", str(seed),
            "--min-queries", str(min_queries)]

    def pin():
        if cores:
            os.sched_setaffinity(0, cores)

    longest = max(seconds, min_queries / rate)
    done = subprocess.run(argv, capture_output=True, text=True, preexec_fn=pin, timeout=1.5 * longest + 120, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"the load generator failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    return RatePoint.from_json(json.loads(done.stdout))


def capacity_search(budget_ms: float, start_rate: float, step: float = 0.1, max_loads: int = 14,
                    floor_rate: float = MIN_QUERIES / LONGEST_LOAD_S,
                    growth: float = 1.5) -> Generator[float, RatePoint, tuple[float, list[RatePoint]]]:
    """The search for the highest offered rate at which every load held within the budget, to a relative `step`:
    a generator that yields each rate to offer and is sent that load's point, so that whoever runs the loads can
    step two searches in turn (`alternating`). Returns (capacity, every point run).

    Brackets from `start_rate` (up by `growth`, not doubling: a load far past the capacity collapses the server's
    throughput, on the Zen 4 to 117/s at 250/s offered where 150/s held, and leaves it slower for the next load; or
    halving down to `floor_rate`), then bisects geometrically until
    the rate that held and the one that did not are within a factor 1 + step; then offers the rate found once more.
    A rate counts as held only if every load at it held: where the second load disagrees, the rate is over, and
    the search goes on below it (from the highest rate held so far, or a step at a time) with the loads left. The
    capacity is a rate offered at least twice and held every time, or 0.0 where no such rate was found within
    `max_loads`.
    """
    points: list[RatePoint] = []
    verdicts: dict[float, list[bool]] = {}

    def held_below(rate: float) -> float | None:
        return max((r for r, v in verdicts.items() if r < rate and all(v)), default=None)

    def ok(rate: float):  # a generator too: `yield from ok(rate)` offers the rate and says whether it held
        points.append((yield rate))
        verdicts.setdefault(rate, []).append(points[-1].held(budget_ms))
        return all(verdicts[rate])

    rate, low, high = start_rate, None, None
    if (yield from ok(rate)):
        low = rate
        while high is None and len(points) < max_loads:
            rate *= growth
            low, high = (rate, None) if (yield from ok(rate)) else (low, rate)
    else:
        high = rate
        while low is None and rate / 2 >= floor_rate and len(points) < max_loads:
            rate /= 2
            low, high = (rate, high) if (yield from ok(rate)) else (None, rate)
    while low is not None and len(points) < max_loads:
        if high is not None and high / low > 1 + step:
            middle = math.sqrt(low * high)
            low, high = (middle, high) if (yield from ok(middle)) else (low, middle)
        elif len(verdicts[low]) >= 2 or (yield from ok(low)):  # confirmed: offered twice, held twice
            break
        else:  # the second load went over: not held; below it, the highest rate held so far, or steps down
            high, low = low, held_below(low)
            while low is None and high / (1 + step) >= floor_rate and len(points) < max_loads:
                lower = high / (1 + step)
                low, high = (lower, high) if (yield from ok(lower)) else (None, lower)
    confirmed = low is not None and len(verdicts[low]) >= 2 and all(verdicts[low])
    return (low if confirmed else 0.0), points


def find_capacity(load: Callable[[float], RatePoint], budget_ms: float, start_rate: float,
                  **search) -> tuple[float, list[RatePoint]]:
    """One search (`capacity_search`), each rate offered by `load`."""
    return alternating({"": load}, budget_ms, {"": start_rate}, **search)[""]


def alternating(loads: dict[str, Callable[[float], RatePoint]], budget_ms: float, start_rates: dict[str, float],
                **search) -> dict[str, tuple[float, list[RatePoint]]]:
    """A search per name, stepped in turn, one load each (A, B, A, B...), until each has its capacity.

    As the offline ratios interleave their rounds, so that the machine's speed, which moves over minutes on a
    shared VM, falls on both searches alike and their ratio does not move with it (it keeps
    each search's own noise). A search that ends first leaves the other to run its last loads alone."""
    searches = {name: capacity_search(budget_ms, start_rates[name], **search) for name in loads}
    offered = {name: next(s) for name, s in searches.items()}
    found: dict[str, tuple[float, list[RatePoint]]] = {}
    while offered:
        for name in list(offered):
            try:
                offered[name] = searches[name].send(loads[name](offered[name]))
            except StopIteration as done:
                found[name] = done.value
                del offered[name]
    return {name: found[name] for name in loads}


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

    def predict(self, texts: list[str]) -> dict:
        """One request, answered: the round trip a client at idle sees."""
        import urllib.request

        request = urllib.request.Request(f"{self.url}/predict", data=json.dumps({"texts": texts}).encode(),
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    last_load_failed_requests = False  # set by the caller after each load

    def recover(self, warm_up: Callable[[], object]) -> None:
        """Before a load: where the last one failed requests (shed, expired or lost: the server was overloaded), a
        fresh server process and a short warm-up load, else the backlog drained. After an overload the same process
        was slower for its next load (on the Zen 4: 150/s held at p50 9-12 ms before 250/s, went over at p50 30 ms
        after it, then held again), so the search's verdicts hung on the order of its loads."""
        if self.last_load_failed_requests:
            self.__exit__()
            self.__enter__()
            warm_up()
            self.last_load_failed_requests = False
        else:
            self.wait_idle()

    def wait_idle(self, timeout_s: float = 30.0, quiet_s: float = 0.5) -> float:
        """Wait until nothing is queued and no model call started for `quiet_s`: a load that went over leaves a
        backlog (on the Zen 4, after 400/s every later load of the search went over, down to 167/s that had held
        before it), and the next load must meet the server as the first one did. Returns the seconds waited."""
        started = time.monotonic()
        calls = None
        while time.monotonic() - started < timeout_s:
            state = self.health()
            if state.get("queued_texts", 0) == 0 and state.get("model_calls") == calls:
                break
            calls = state.get("model_calls")
            time.sleep(quiet_s)
        return time.monotonic() - started

    def __exit__(self, *exc) -> None:
        # Killed, not asked to stop: nothing of it is kept, and a graceful stop (aiohttp's shutdown, then the
        # runtime's teardown) took 1.3 s of every server's life.
        self.process.kill()
        self.process.wait(timeout=20)
