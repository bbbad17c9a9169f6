"""The server scenario: the highest Poisson arrival rate a served variant holds within a p99 budget.

For the best gated variants of the offline scenario (its shortlist, asked of that scenario) and torch-fp32 where
the profile serves it, each batcher setting of the profile (max batch size, max wait) gets a
`fastbert-variants serve` process per variant; MLPerf LoadGen, in another process, offers Poisson arrivals of one
dataset text each (its Server scenario), and the capacity search (bracket, then geometric bisection to the
profile's step, loadgen.capacity_search) finds the highest rate LoadGen judges VALID: its early-stopping estimate
of the p99, for the queries run (the profile's 460 or 660 at least), within `--p99-budget-ms`, and every query
answered. The rate found is offered again; a rate counts as held only if every load at it held. The variants'
searches at a setting are stepped in turn, one load each (loadgen.alternating), so that a ratio to torch-fp32's
capacity is measured as the offline ratios are, drift cancelling. The variant's capacity is that of its best
setting, with LoadGen's summary of its last load there. The Timer's figure is one text's round trip at idle.
"""

from __future__ import annotations

import contextlib
import importlib.util
import itertools
import json
import math
from dataclasses import dataclass
from typing import ClassVar

from .. import loadgen, options, progress, tables
from ..results import ServerResult
from ..variants import BASELINE, pairs
from .base import Measured, NotMeasured, Scenario
from .common import Recommendation, accuracy_words, eligibility

IDLE_ROUNDS = 20  # one-text requests at idle after the search: pytest-benchmark's figure for the test


@dataclass(frozen=True)
class ServerCase:
    """One variant served on one device. Which are served is known only once the offline scenario has measured: its
    best gated variants (the profile's shortlist) and torch-fp32 where the profile serves it; the others skip saying
    so. A case per variant, so the test's id and its pytest-benchmark figure name what was served."""

    SCENARIO: ClassVar[str] = "server"

    device: str
    variant: str

    @property
    def id(self) -> str:
        return f"{self.device}-{self.variant}"


class Server(Scenario):
    name, record, case_fixture, order = "server", ServerResult, "server_case", 20

    def cases(self, selection, devices):
        return [ServerCase(device, variant) for device, variant in pairs(selection.variants, tuple(devices))
                if variant != BASELINE or selection.profile.server_baseline]

    def measure(self, session, case, timer):
        if importlib.util.find_spec("mlperf_loadgen") is None:
            raise NotMeasured("MLPerf LoadGen drives the server scenario's loads and is not installed here: pip install "
                              "mlcommons-loadgen (wheels for x86-64 Linux, macOS and Windows)")
        plan, variant = session.profile, case.variant
        served = _served(session, case.device)
        if variant not in served:
            raise NotMeasured(f"not served: the server scenario serves the {plan.server_shortlist} best gated "
                              f"variant(s) of the offline scenario on {case.device} (faster than {BASELINE} "
                              f"beyond noise): {', '.join(v for v in served if v != BASELINE) or 'none this run'}")
        # Every served variant's search at once, stepped in turn (the first case to ask runs them all); the idle round
        # trip is this case's own pytest-benchmark figure.
        timed = []
        searches = session.once(("server searches", case.device),
                                lambda: _search_in_turn(session, case.device, served, (variant, timer, timed)))
        if not timed:
            _time_idle(session, case.device, variant, plan.server_settings[0], timer)
        ours = searches[variant]
        lost = [p for _, _, _, points, _ in ours for p in points if p.answered + p.errors != p.sent]
        best = max(range(len(ours)), key=lambda i: ours[i][0])
        capacity, max_batch, max_wait, points, summary = ours[best]
        baseline = searches[BASELINE][best][0] if BASELINE in searches and variant != BASELINE else None
        bench = session.workbench
        record = session.keep(ServerResult(
            variant=variant, device=case.device, p99_budget_ms=session.opt.p99_budget_ms, capacity_per_s=capacity,
            max_batch_size=max_batch, max_wait_ms=max_wait, points=tuple(points), settings_tried=len(ours),
            loads_run=sum(len(s[3]) for s in ours), search_step=plan.server_step,
            pinning=loadgen.placement(bench.threads)[2], threads=bench.threads, model=bench.source.recorded_as,
            seconds_per_load=plan.server_seconds_per_load,
            load_generator=f"MLPerf LoadGen {_version('mlcommons-loadgen')}", loadgen_summary=summary,
            baseline_capacity_per_s=baseline))
        # every request sent was answered or counted as an error
        return Measured(record, f"requests neither answered nor counted as errors: {lost}" if lost else None)

    def recommend(self, run):
        """Per device and budget: the gated variant with the highest capacity, when it is above FP32's by more than a
        search step (two capacities a step apart cannot be told apart by the search)."""
        server, recommendations = run.of_kind("server"), []
        for device, budget in dict.fromkeys((r.device, r.p99_budget_ms) for r in server):
            results = [r for r in server if (r.device, r.p99_budget_ms) == (device, budget)]
            fp32 = next((r for r in results if r.variant == BASELINE), None)

            def not_faster(r, fp32=fp32):
                theirs = _baseline_of(r, fp32)
                if fp32 is None or r is fp32 or r.capacity_per_s > theirs * (1 + r.search_step):
                    return None
                return (f"capacity {r.capacity_per_s:.1f}/s is not above {BASELINE}'s {theirs:.1f}/s "
                        f"by more than the search's step ({100 * r.search_step:.0f}%)")

            excluded, eligible = eligibility(results, run.accuracy, not_faster)
            pool = eligible or ([(fp32, 0.0)] if fp32 else [(results[0], None)])
            best, drop = max(pool, key=lambda pair: pair[0].capacity_per_s)
            theirs = _baseline_of(best, fp32) if fp32 else 0.0
            ratio = best.capacity_per_s / theirs if theirs else math.nan
            recommendations.append(Recommendation(best.scenario, best.variant, ratio, (ratio, ratio), None, drop,
                                                  excluded, result=best))
        return recommendations

    def figure(self, recommendation):
        ratio = f", {recommendation.speedup:.2f}x torch-fp32's" if math.isfinite(recommendation.speedup) else ""
        return f"{recommendation.result.capacity_per_s:.0f} requests/s at p99 {recommendation.result.p99_budget_ms:g} ms{ratio}"

    def block(self, run, recommendations):
        return ("server: capacity at the p99 budget, MLPerf LoadGen's Poisson load",
                [_line(run, rec) for rec in recommendations])

    def tables(self, run):
        return [("server scenario (capacity at the p99 budget)", tables.server_rows(run.of_kind("server")))]

    def plots(self, run, recommendations):
        from .. import plots

        return [(plots.server_p99, (run.of_kind("server"),), "server_p99.png")]


def _served(session, device: str) -> list[str]:
    """torch-fp32 where the profile serves it, then the offline scenario's best gated variants (its shortlist)."""
    from .offline import SCENARIO as OFFLINE

    plan = session.profile
    shortlist = [v for v in OFFLINE.shortlist(session, device) if v != BASELINE][:plan.server_shortlist]
    return [BASELINE] * plan.server_baseline + shortlist


def _search_in_turn(session, device: str, served: list[str], idle: tuple) -> dict[str, list[tuple]]:
    """Per served variant, per batcher setting: (capacity, max batch, max wait, every load, LoadGen's summary of its
    last load at the capacity). At each setting a server per variant, and their searches stepped in turn, one load
    each (loadgen.alternating), so that the machine's speed, which moves over minutes, falls on all of them alike
    and their ratio to torch-fp32 cancels it. `idle`: (variant, timer, timed) whose round trip at idle is
    timed on its first setting's server after the search; `timed` gets a True when done."""
    plan, budget, bench = session.profile, session.opt.p99_budget_ms, session.workbench
    for variant in served:
        bench.runner(variant, device)  # built (and cached) here, so a server process only loads it
    server_cores, load_cores, _ = loadgen.placement(bench.threads)
    texts_file = session.once("server texts", lambda: _texts_file(session))
    argv = [*_server_argv(session), "--warm-up-texts", texts_file]  # every shape the loads will form, called first
    logs = session.scratch_dir() / "loadgen"
    searches: dict[str, list[tuple]] = {variant: [] for variant in served}
    for max_batch, max_wait in plan.server_settings:
        starts = {variant: _start_rate(session, device, variant, max_batch) for variant in served}
        with contextlib.ExitStack() as stack:
            servers, loads = {}, {}
            for variant in served:
                with progress.activity(f"server: starting {variant}, batch {max_batch}, wait {max_wait:g} ms"):
                    servers[variant] = stack.enter_context(loadgen.ServerProcess(
                        argv, variant, device, bench.threads, max_batch, max_wait, server_cores))
                where = logs / f"{device}-{variant}-b{max_batch}-w{max_wait:g}"
                loads[variant] = _loader(servers[variant], texts_file, starts[variant], load_cores, budget, where, plan)
                loadgen.run_load(servers[variant].url + "/predict", texts_file, starts[variant] / 2, 1.0, load_cores,
                                 budget, where / "warm-up", seed=99, min_queries=50)
            with progress.activity(f"server: {', '.join(served)} in turn, batch {max_batch}, wait {max_wait:g} ms, "
                                   "searching"):
                found = loadgen.alternating(loads, budget, starts, step=plan.server_step)
            variant, timer, timed = idle
            if not timed and variant in servers:  # one text's round trip at idle, through the first setting
                server = servers[variant]
                server.recover(lambda: None)  # a fresh process after an overload, else the backlog drained
                _time_idle_on(server, session, device, variant, timer)
                timed.append(True)
        for variant, (capacity, points) in found.items():
            where = logs / f"{device}-{variant}-b{max_batch}-w{max_wait:g}"
            last_at = max((i for i, p in enumerate(points) if p.offered_per_s == capacity), default=None)
            summary = where / f"load-{last_at:02d}" / "mlperf_log_summary.txt" if last_at is not None else None
            searches[variant].append((capacity, max_batch, max_wait, points,
                                      summary.read_text() if summary and summary.is_file() else None))
    return searches


def _loader(server, texts_file: str, start: float, load_cores, budget: float, where, plan):
    """The search's load for one server: a fresh process and a warm-up after an overload, else the backlog drained;
    then one LoadGen load at the rate, with its own arrivals (seed) and log folder."""
    numbers = itertools.count()
    url = f"{server.url}/predict"

    def load(rate):
        n = next(numbers)
        server.recover(lambda: loadgen.run_load(url, texts_file, start / 2, 1.0, load_cores, budget,
                                                where / f"warm-up-{n:02d}", seed=99, min_queries=50))
        point = loadgen.run_load(url, texts_file, rate, plan.server_seconds_per_load, load_cores, budget,
                                 where / f"load-{n:02d}", seed=n, min_queries=plan.server_min_queries)
        server.last_load_failed_requests = point.errors > 0
        return point
    return load


def _start_rate(session, device: str, variant: str, max_batch: int) -> float:
    """Below the capacity, so that the bracket grows up to it. From 0.7x the offline throughput (about 279/s) the
    first load went far past it and the suite found 193.6 and 139.7/s; from 0.5x, 185.5-234.8/s in five runs
    (openvino-int8-nncf-default, batch 8, Zen 4, 6 December; docs/measurements, the server)."""
    offline: dict[int, float] = {}
    for r in session.run.of_kind("offline"):  # torch-fp32's throughput: any variant's over its speedup
        if (r.device, r.strategy) == (device, "dynamic") and (r.variant == variant or variant == BASELINE):
            offline.setdefault(r.batch_size, r.texts_per_s / (r.speedup.median if r.variant != variant else 1.0))
    nearest = min(offline, key=lambda b: abs(b - max_batch), default=None)
    return 0.5 * offline[nearest] if nearest else 20.0


def _server_argv(session) -> list[str]:
    argv = options.as_cli_args(session.opt, options.MODEL_OPTIONS + options.DATASET_OPTIONS)
    return argv + ["--cache-dir", str(session.workbench.cache.root)] * ("--cache-dir" not in argv)


def _time_idle(session, device: str, variant: str, setting: tuple[int, float], timer) -> None:
    """A case whose search ran in another case's test: its own server, started for the idle round trip."""
    bench = session.workbench
    with loadgen.ServerProcess(_server_argv(session), variant, device, bench.threads, *setting,
                               loadgen.placement(bench.threads)[0]) as server:
        _time_idle_on(server, session, device, variant, timer)


def _time_idle_on(server, session, device: str, variant: str, timer) -> None:
    text = session.workbench.dataset.texts[0]
    server.predict([text])  # untimed: the connection and the first call of this shape
    timer.time(f"{device}-server-{variant}", server.predict, ([text],), rounds=IDLE_ROUNDS)


def _baseline_of(result, fp32) -> float:
    """torch-fp32's capacity to divide by: the one found in the same alternating loads at the same batcher setting
    where the run has it, else (older runs) torch-fp32's own best."""
    if result.baseline_capacity_per_s is not None:
        return result.baseline_capacity_per_s
    return fp32.capacity_per_s if fp32 is not None else 0.0


def _version(distribution: str) -> str:
    from importlib.metadata import version

    return version(distribution)


def _texts_file(session) -> str:
    """The dataset's first 2,000 texts, for the load generator's process."""
    path = session.scratch_dir() / "server-texts.json"
    path.write_text(json.dumps(session.workbench.dataset.texts[:2000]))
    return str(path)


def _line(run, rec: Recommendation) -> str:
    r = rec.result
    fp32 = next((s for s in run.of_kind("server")
                 if (s.device, s.variant, s.p99_budget_ms) == (r.device, BASELINE, r.p99_budget_ms)), None)
    unsteady = f", UNSTEADY: {len(fp32.contradicting)} of its loads contradict it" if fp32 and fp32.contradicting else ""
    versus = f" ({BASELINE} not served in this run: no ratio to it)" if fp32 is None else ""
    if fp32 is not None and rec.variant != BASELINE:
        theirs = _baseline_of(r, fp32)
        paired = (" at the same setting, its search stepped in turn with this one's" if r.baseline_capacity_per_s
                  is not None else "")
        versus = (f" ({BASELINE}: {theirs:.1f}/s{paired}{unsteady}, {rec.speedup:.2f}x)" if theirs else
                  f" ({BASELINE}: no rate held at every load offered{paired}{unsteady}, so no ratio to it)")
    return (f"{rec.cell}: {rec.variant}, {r.capacity_per_s:.1f} requests/s of one text each (Poisson arrivals) with "
            f"p99 within {r.p99_budget_ms:g} ms, batcher max {r.max_batch_size} texts, max wait {r.max_wait_ms:g} ms"
            f"{versus}; {accuracy_words(rec)}; searched {r.settings_tried} batcher settings in {r.loads_run} loads"
            f"{_unsteady_words(r)}")


def _unsteady_words(r) -> str:
    """Where the search's verdicts contradict each other: the capacity then moved with the machine under it."""
    if not r.contradicting:
        return ""
    said = ", ".join(f"{p.offered_per_s:.1f}/s {'held' if p.held(r.p99_budget_ms) else 'went over'} ({p.p99_words()})"
                     for p in r.contradicting)
    return (f". UNSTEADY: {said}, against the capacity found: this machine's speed moved during the search, so the "
            "capacity is good to about a search step at best; rerun it on a quiet machine, or with longer loads")


SCENARIO = Server()
