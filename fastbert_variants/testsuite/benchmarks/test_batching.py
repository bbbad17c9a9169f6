"""Throughput on real, variable-length texts: pad-to-max vs dynamic padding vs length buckets.

The fixed-length matrix says how fast a variant is per token; this says what it makes of a
stream of texts of every length. Each round scores the same texts (the profile's first N of the
dataset, in arrival order); tokenizing happens before timing and is the same for every strategy.
"""

from fastbert_variants.inputs import padding_waste


def test_batching(benchmark, workbench, suite_state, strategy_batches, batching_case, runner_or_skip):
    case = batching_case
    runner = runner_or_skip(case.variant, case.device)
    batches = strategy_batches(case.strategy, case.batch_size)
    prepared = [runner.prepare(batch) for batch in batches]
    for batch in prepared[:2]:  # the same warm-up for every variant and strategy
        runner.run(batch)

    def score_every_text():
        for batch in prepared:
            runner.run(batch)

    benchmark.group = case.group
    benchmark.pedantic(score_every_text, rounds=suite_state.profile.batching_rounds, iterations=1)
    if not benchmark.enabled:  # --benchmark-disable: every batch ran once above; nothing was timed to record
        return
    texts = sum(len(b["input_ids"]) for b in batches)
    median = benchmark.stats.stats.median
    pad_to_max = [r for r in suite_state.batching_results
                  if (r["device"], r["variant"], r["batch_size"], r["strategy"]) ==
                  (case.device, case.variant, case.batch_size, "pad-to-max")]
    result = {
        "kind": "batching", "variant": case.variant, "device": case.device, "batch_size": case.batch_size,
        "strategy": case.strategy, "texts": texts, "threads": workbench.threads, "seconds": median,
        "samples_per_s": texts / median, "padding_waste": padding_waste(batches),
        "tokens_computed": sum(int(b["attention_mask"].size) for b in batches),
        "speedup_vs_pad_to_max": pad_to_max[-1]["seconds"] / median if pad_to_max else None,
        "model": workbench.model_spec,
    }
    benchmark.extra_info.update(result)
    suite_state.batching_results.append(result)
