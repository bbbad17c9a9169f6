"""The offline scenario: each variant scores the dataset's own texts in batches, in steady state, against FP32.

A fixed cell pads nothing and meets one shape; real traffic meets every length. So each variant
scores the profile's first N texts of the dataset (in arrival order, or sorted into length buckets),
batched at 1, 8 and 32 with dynamic padding. Its first pass over them is timed and kept apart
(`first_pass_s`: new shapes, plans, kernel choices). Then steady passes, interleaved with FP32 chunk by
chunk (ABBA, the same texts on both sides, a pause between runtimes), give the speedup's median and
95% interval, as the fixed cells do; throughput comes from the variant's own chunks. Tokenizing
happens before any timing.
"""

import math
import time

from fastbert_variants import progress
from fastbert_variants.metrics import disagreement
from fastbert_variants.results import OfflineResult, Speedup
from fastbert_variants.timing import abba_blocks, speedup_of_blocks
from fastbert_variants.variants import BASELINE

BLOCKS_PER_PASS = 16  # chunks of consecutive batches; each a block of the interleave
# At least this many blocks per cell, passes added where a pass has fewer chunks (batch 32: 6 batches of 192 texts).
# With 8 blocks the 95% interval of the median is the whole range of the blocks (order statistics: 99.2% coverage,
# the next one in only 93%), so one noisy block widened it enough to tie variants 1.5x apart (2026-12-02, Zen 4);
# with 16 it is the 4th to 13th block.
MIN_BLOCKS = 16


def test_offline(benchmark, workbench, suite_state, offline_traffic, offline_case, runner_or_skip):
    case, plan = offline_case, suite_state.profile
    runner = runner_or_skip(case.variant, case.device)
    fp32 = runner_or_skip(BASELINE, case.device)
    traffic = offline_traffic(case.strategy, case.batch_size, runner.pad_to_multiple)
    prepared = [runner.prepare(b) for b in traffic.batches]

    def one_pass(run, inputs) -> float:
        started = time.perf_counter()
        for batch in inputs:
            run(batch)
        return time.perf_counter() - started

    with progress.activity(f"{case.variant}: first pass over {traffic.texts} texts at batch {case.batch_size}"):
        first_pass_s = one_pass(runner.run, prepared)  # cold: every new shape is met here, and kept apart
    # What the timing alone cannot see: the variant's outputs on this traffic are finite, of the right shape and
    # within its recipe's tolerance of FP32's (checked outside every timed region).
    fp32_traffic = offline_traffic(case.strategy, case.batch_size, fp32.pad_to_multiple)
    problem = disagreement(runner(traffic.batches[0]), fp32(fp32_traffic.batches[0]),
                           workbench.variant(case.variant).recipe.logit_tolerance[0], rows=traffic.rows_of(0))
    assert problem is None, f"{case.id}: {problem}"
    if not benchmark.enabled:  # --benchmark-disable: the variant ran over the traffic and agrees; nothing timed
        return

    fp32_prepared = [fp32.prepare(b) for b in fp32_traffic.batches]
    warm = suite_state.offline_warm
    if (case.device, case.batch_size, case.strategy, fp32.pad_to_multiple) not in warm:  # FP32's own first pass
        if case.variant != BASELINE:
            one_pass(fp32.run, fp32_prepared)
        warm.add((case.device, case.batch_size, case.strategy, fp32.pad_to_multiple))
    chunks = traffic.chunks(BLOCKS_PER_PASS)
    fp32_pass_s = suite_state.offline_fp32_pass_s.get((case.device, case.batch_size, case.strategy), first_pass_s)
    passes = max(math.ceil(MIN_BLOCKS / len(chunks)),
                 min(3, round(plan.offline_seconds / max(first_pass_s + fp32_pass_s, 1e-3))))
    pause = plan.timing.pause_seconds

    def chunk_of(run, inputs):
        return lambda block: (time.sleep(pause), one_pass(run, [inputs[i] for i in chunks[block % len(chunks)]]))[1]

    blocks = passes * len(chunks)
    with progress.activity(f"{case.variant}: {passes} steady pass(es), interleaved with {BASELINE} chunk by chunk"):
        benchmark.group = case.scenario  # pytest-benchmark's own stats: the whole steady measurement, both sides
        timed = []

        def measure():
            if case.variant == BASELINE:  # FP32 against itself would say 1.0: its own chunks, timed the same way
                timed.append([chunk_of(runner.run, prepared)(k) for k in range(blocks)])
            else:
                timed.append(abba_blocks(chunk_of(fp32.run, fp32_prepared), chunk_of(runner.run, prepared), blocks))

        benchmark.pedantic(measure, rounds=1, iterations=1)
    if case.variant == BASELINE:
        fp32_seconds = variant_seconds = timed[0]
        speedup = Speedup.of_baseline()
        suite_state.offline_fp32_pass_s[case.device, case.batch_size, case.strategy] = sum(fp32_seconds) / passes
    else:
        fp32_seconds, variant_seconds = timed[0]
        speedup = speedup_of_blocks(fp32_seconds, variant_seconds, len(chunks[0]), pause)
    result = OfflineResult(
        variant=case.variant, device=case.device, batch_size=case.batch_size, strategy=case.strategy,
        texts=traffic.texts, texts_per_s=passes * traffic.texts / sum(variant_seconds), speedup=speedup,
        fp32_texts_per_s=passes * traffic.texts / sum(fp32_seconds), first_pass_s=first_pass_s, steady_passes=passes,
        padding_waste=traffic.padding_waste, median_tokens=traffic.median_tokens, threads=workbench.threads,
        model=workbench.model_spec)
    benchmark.extra_info.update(result.to_json())
    suite_state.offline_results.append(result)

