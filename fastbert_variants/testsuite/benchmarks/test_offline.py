"""The offline scenario: each variant scores the dataset's own texts in batches, in steady state, against FP32.

A fixed cell pads nothing and meets one shape; real traffic meets every length. So each variant
scores the profile's first N texts of the dataset (in arrival order, or sorted into length buckets),
batched at 1, 8 and 32 with dynamic padding. Its first pass over them is timed and kept apart
(`first_pass_s`: new shapes, plans, kernel choices). Then steady passes, interleaved chunk by chunk
with FP32 and every other variant of the scenario in one schedule (measurement.py: the same texts on
every side, FP32 before and after each round of the variants, a pause before every segment), give the
speedup's median and 95% interval, as the fixed cells do; throughput comes from the variant's own
chunks. Tokenizing happens before any timing. pytest-benchmark times the traffic's first chunk three
more times, the variant alone, for --benchmark-compare.
"""

from fastbert_variants.measurement import one_pass
from fastbert_variants.metrics import disagreement
from fastbert_variants.results import OfflineResult, Speedup
from fastbert_variants.variants import BASELINE


def test_offline(benchmark, workbench, run_state, offline_traffic, offline_case, runner_or_skip, shared_timing):
    case = offline_case
    runner = runner_or_skip(case.variant, case.device)
    fp32 = runner_or_skip(BASELINE, case.device)
    traffic = offline_traffic(case.strategy, case.batch_size, runner.pad_to_multiple)
    prepared = [runner.prepare(b) for b in traffic.batches]
    if not benchmark.enabled:  # --benchmark-disable: the variant runs over the traffic and agrees; nothing timed
        one_pass(runner.run, prepared)
    else:
        shared = shared_timing.offline(case)
    # What the timing alone cannot see: the variant's outputs on this traffic are finite, of the right shape and
    # within its recipe's tolerance of FP32's (checked outside every timed region).
    fp32_traffic = offline_traffic(case.strategy, case.batch_size, fp32.pad_to_multiple)
    problem = disagreement(runner(traffic.batches[0]), fp32(fp32_traffic.batches[0]),
                           workbench.variant(case.variant).recipe.logit_tolerance[0], rows=traffic.rows_of(0))
    assert problem is None, f"{case.id}: {problem}"
    if not benchmark.enabled:
        return
    if case.variant == BASELINE:
        seconds = fp32_seconds = shared.fp32_seconds
        first_pass_s, speedup = shared.fp32_first_pass_s, Speedup.of_baseline()
    else:
        arm = shared.arms[case.variant].check()
        seconds, fp32_seconds, first_pass_s, speedup = arm.seconds, arm.baseline_seconds, arm.first_pass_s, arm.speedup
    # pytest-benchmark's own figure (what --benchmark-compare compares): the traffic's first chunk, the variant alone.
    benchmark.group = case.scenario
    benchmark.pedantic(one_pass, args=(runner.run, prepared[:shared.chunk_batches]), rounds=3, iterations=1)
    passes = shared.passes
    result = OfflineResult(
        variant=case.variant, device=case.device, batch_size=case.batch_size, strategy=case.strategy,
        texts=traffic.texts, texts_per_s=passes * traffic.texts / sum(seconds), speedup=speedup,
        fp32_texts_per_s=passes * traffic.texts / sum(fp32_seconds), first_pass_s=first_pass_s, steady_passes=passes,
        padding_waste=traffic.padding_waste, median_tokens=traffic.median_tokens, threads=workbench.threads,
        model=workbench.model_spec)
    benchmark.extra_info.update(result.to_json())
    run_state.offline_results.append(result)
