"""The server scenario: the highest Poisson arrival rate a served variant holds within a p99 budget.

For torch-fp32 and the best gated variants of the offline scenario (the shortlist), each batcher
setting of the profile (max batch size, max wait) gets its own `fastbert-variants serve` process;
an open-loop load generator in another process offers Poisson arrivals of one dataset text each,
and the capacity search (bracket, then geometric bisection to the profile's step) finds the highest
rate whose p99, counted from each request's scheduled send time, stays within `--fastbert-p99-budget-ms`
with every request answered (a load stops once its p99 is sure to be over). A rate that went over is offered
again at once and counts as over only if it goes over again (one stall of a shared machine does not end the
search low); the capacity is offered once more at the end. A verdict that differs is reported with it. The
variant's capacity is that of its best setting.
"""

import itertools
import json

import pytest

from fastbert_variants import loadgen, options, progress
from fastbert_variants.recommend import accuracy_verdict
from fastbert_variants.results import ServerResult
from fastbert_variants.variants import BASELINE


@pytest.fixture(scope="session")
def texts_file(workbench, tmp_path_factory):
    path = tmp_path_factory.mktemp("server") / "texts.json"
    path.write_text(json.dumps(workbench.dataset.texts[:2000]))
    return str(path)


def shortlist(run_state, device: str) -> list[str]:
    """Gated variants faster than FP32 beyond noise in the offline scenario, best speedup (any batch size) first."""
    best: dict[str, float] = {}
    for r in run_state.offline_results:
        why, _ = accuracy_verdict(run_state.accuracy_results or None, device, r.variant)
        if r.device == device and r.variant != BASELINE and why is None and r.speedup.beyond_noise:
            best[r.variant] = max(best.get(r.variant, 0.0), r.speedup.median)
    return sorted(best, key=best.get, reverse=True)


def test_server(benchmark, workbench, run_state, server_case, texts_file, runner_or_skip):
    case, plan, budget = server_case, run_state.profile, run_state.opt.p99_budget_ms
    if case.rank == 0:
        variant = BASELINE
    else:
        found = shortlist(run_state, case.device)
        if len(found) < case.rank:
            pytest.skip(f"the offline scenario in this session found {len(found)} gated variant(s) faster than "
                        f"{BASELINE} beyond noise on {case.device}: no #{case.rank} to serve (run test_offline first)")
        variant = found[case.rank - 1]
    runner_or_skip(variant, case.device)  # built (and cached) here, so a server process only loads it
    server_cores, load_cores, pinning = loadgen.placement(workbench.threads)
    argv = options.as_cli_args(run_state.opt, options.MODEL_OPTIONS + options.DATASET_OPTIONS)
    argv += ["--cache-dir", str(workbench.cache.root)] * ("--cache-dir" not in argv)
    offline = {r.batch_size: r.texts_per_s for r in run_state.offline_results
               if (r.device, r.variant, r.strategy) == (case.device, variant, "dynamic")}

    searches = []

    def search_every_setting():
        for max_batch, max_wait in plan.server_settings:
            nearest = min(offline, key=lambda b: abs(b - max_batch), default=None)
            start = 0.7 * offline[nearest] if nearest else 20.0  # near the offline throughput: fewer loads
            with progress.activity(f"server: {variant}, batch {max_batch}, wait {max_wait:g} ms, searching"), \
                    loadgen.ServerProcess(argv, variant, case.device, workbench.threads, max_batch, max_wait,
                                          server_cores) as server:
                loadgen.run_load(f"{server.url}/predict", texts_file, start / 2, 1.0, load_cores, seed=99)  # warm-up
                seeds = itertools.count()  # new arrivals for each load, the confirmation's included
                capacity, points = loadgen.find_capacity(
                    lambda rate, seeds=seeds: loadgen.run_load(f"{server.url}/predict", texts_file, rate,
                                                  plan.server_seconds_per_load, load_cores, seed=next(seeds),
                                                  stop_over_budget_ms=budget),
                    budget, start, step=plan.server_step, confirm=True)
            searches.append((capacity, max_batch, max_wait, points))

    benchmark.group = f"{case.device}-server"  # pytest-benchmark's own stats: the whole search's wall time
    benchmark.pedantic(search_every_setting, rounds=1, iterations=1)
    for _, _, _, points in searches:  # nothing lost: every request sent was answered or counted as an error
        assert all(p.answered + p.errors == p.sent for p in points), points
    capacity, max_batch, max_wait, points = max(searches, key=lambda s: s[0])
    result = ServerResult(
        variant=variant, device=case.device, p99_budget_ms=budget, capacity_per_s=capacity, max_batch_size=max_batch,
        max_wait_ms=max_wait, points=tuple(points), settings_tried=len(searches),
        loads_run=sum(len(s[3]) for s in searches), search_step=plan.server_step, pinning=pinning,
        threads=workbench.threads, model=workbench.model_spec, seconds_per_load=plan.server_seconds_per_load)
    benchmark.extra_info.update(result.to_json())
    run_state.server_results.append(result)
