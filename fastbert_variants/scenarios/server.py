"""The server scenario: the highest Poisson arrival rate a served variant holds within a p99 budget.

For torch-fp32 and the best gated variants of the offline scenario (its shortlist, asked of that
scenario), each batcher setting of the profile (max batch size, max wait) gets its own
`fastbert-variants serve` process; MLPerf LoadGen, in another process, offers Poisson arrivals of one
dataset text each (its Server scenario), and the capacity search (bracket, then geometric bisection to
the profile's step, loadgen.find_capacity) finds the highest rate LoadGen judges VALID: its early-stopping
estimate of the p99, for the queries run (the profile's 460 or 660 at least), within `--p99-budget-ms`, and
every query answered. The rate
found is offered again; a rate counts as held only if every load at it held. The variant's capacity is
that of its best setting, with LoadGen's summary of its last load there. The Timer's figure is the whole
search's wall time.
"""

from __future__ import annotations

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
        from .offline import SCENARIO as OFFLINE

        if importlib.util.find_spec("mlperf_loadgen") is None:
            raise NotMeasured("MLPerf LoadGen drives the server scenario's loads and is not installed here: pip install "
                              "mlcommons-loadgen (wheels for x86-64 Linux, macOS and Windows)")
        plan, budget, bench = session.profile, session.opt.p99_budget_ms, session.workbench
        variant = case.variant
        if variant != BASELINE:
            served = OFFLINE.shortlist(session, case.device)[:plan.server_shortlist]
            if variant not in served:
                raise NotMeasured(f"not served: the server scenario serves the {plan.server_shortlist} best gated "
                                  f"variant(s) of the offline scenario on {case.device} (faster than {BASELINE} "
                                  f"beyond noise): {', '.join(served) or 'none this run'}")
        bench.runner(variant, case.device)  # built (and cached) here, so a server process only loads it
        server_cores, load_cores, pinning = loadgen.placement(bench.threads)
        argv = options.as_cli_args(session.opt, options.MODEL_OPTIONS + options.DATASET_OPTIONS)
        argv += ["--cache-dir", str(bench.cache.root)] * ("--cache-dir" not in argv)
        offline = {r.batch_size: r.texts_per_s for r in session.run.of_kind("offline")
                   if (r.device, r.variant, r.strategy) == (case.device, variant, "dynamic")}
        texts_file = session.once("server texts", lambda: _texts_file(session))
        logs = session.scratch_dir() / "loadgen"
        searches = []

        def search_every_setting():
            for max_batch, max_wait in plan.server_settings:
                nearest = min(offline, key=lambda b: abs(b - max_batch), default=None)
                # Below the capacity, so that the bracket grows up to it. From 0.7x the offline throughput (about 279/s)
                # the first load went far past it and the suite found 193.6 and 139.7/s; from 0.5x, 185.5-234.8/s in five
                # runs (openvino-int8-nncf-default, batch 8, Zen 4, 6 December; docs/measurements, the server).
                start = 0.5 * offline[nearest] if nearest else 20.0
                where = logs / f"{case.device}-{variant}-b{max_batch}-w{max_wait:g}"
                with progress.activity(f"server: {variant}, batch {max_batch}, wait {max_wait:g} ms, searching"), \
                        loadgen.ServerProcess(argv, variant, case.device, bench.threads, max_batch, max_wait,
                                              server_cores) as server:
                    url = f"{server.url}/predict"
                    loadgen.run_load(url, texts_file, start / 2, 1.0, load_cores, budget, where / "warm-up", seed=99,
                                     min_queries=50)
                    loads = itertools.count()  # new arrivals, and a log folder, for each load

                    def load(rate, url=url, where=where, loads=loads, server=server, start=start):
                        n = next(loads)
                        server.recover(lambda: loadgen.run_load(url, texts_file, start / 2, 1.0, load_cores, budget,
                                                                where / f"warm-up-{n:02d}", seed=99, min_queries=50))
                        point = loadgen.run_load(url, texts_file, rate, plan.server_seconds_per_load, load_cores,
                                                 budget, where / f"load-{n:02d}", seed=n,
                                                 min_queries=plan.server_min_queries)
                        server.last_load_failed_requests = point.errors > 0
                        return point

                    capacity, points = loadgen.find_capacity(load, budget, start, step=plan.server_step)
                    if not searches:  # the test's figure: one text's round trip at idle, through the first setting
                        server.recover(lambda: None)  # a fresh process after an overload, else the backlog drained
                        text = bench.dataset.texts[0]
                        server.predict([text])  # untimed: the connection and the first call of this shape
                        timer.time(f"{case.device}-server-{variant}", server.predict, ([text],), rounds=IDLE_ROUNDS)
                last_at = max((i for i, p in enumerate(points) if p.offered_per_s == capacity), default=None)
                summary = where / f"load-{last_at:02d}" / "mlperf_log_summary.txt" if last_at is not None else None
                searches.append((capacity, max_batch, max_wait, points,
                                 summary.read_text() if summary and summary.is_file() else None))

        search_every_setting()
        lost = [p for _, _, _, points, _ in searches for p in points if p.answered + p.errors != p.sent]
        capacity, max_batch, max_wait, points, summary = max(searches, key=lambda s: s[0])
        record = session.keep(ServerResult(
            variant=variant, device=case.device, p99_budget_ms=budget, capacity_per_s=capacity,
            max_batch_size=max_batch, max_wait_ms=max_wait, points=tuple(points), settings_tried=len(searches),
            loads_run=sum(len(s[3]) for s in searches), search_step=plan.server_step, pinning=pinning,
            threads=bench.threads, model=bench.source.recorded_as, seconds_per_load=plan.server_seconds_per_load,
            load_generator=f"MLPerf LoadGen {_version('mlcommons-loadgen')}", loadgen_summary=summary))
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
                if fp32 is None or r is fp32 or r.capacity_per_s > fp32.capacity_per_s * (1 + r.search_step):
                    return None
                return (f"capacity {r.capacity_per_s:.1f}/s is not above {BASELINE}'s {fp32.capacity_per_s:.1f}/s "
                        f"by more than the search's step ({100 * r.search_step:.0f}%)")

            excluded, eligible = eligibility(results, run.accuracy, not_faster)
            pool = eligible or ([(fp32, 0.0)] if fp32 else [(results[0], None)])
            best, drop = max(pool, key=lambda pair: pair[0].capacity_per_s)
            ratio = best.capacity_per_s / fp32.capacity_per_s if fp32 and fp32.capacity_per_s else math.nan
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
        versus = (f" ({BASELINE}: {fp32.capacity_per_s:.1f}/s{unsteady}, {rec.speedup:.2f}x)" if fp32.capacity_per_s else
                  f" ({BASELINE}: no rate held at every load offered{unsteady}, so no ratio to it)")
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
