"""The offline scenario's shared measurement called directly, without pytest: torchao eager's b1 and b8 speedups.

    python tools/offline_direct.py        # the cache of $FASTBERT_VARIANTS_CACHE or /work/main/.devcache

For #33: with pytest, today's code measures torchao-int8-dynamic-eager's offline b1 speedup about 18% lower than the
code before the scenario refactor; called directly, today's measurement code gives what the old code gave under pytest
(docs/measurements/2026-12-05-amd-epyc-zen4-across-runs.md).
"""
import os

import fastbert_variants
from fastbert_variants.inputs import make_traffic
from fastbert_variants.measurement import measure_offline
from fastbert_variants.plan import PROFILES
from fastbert_variants.workbench import Workbench

print(fastbert_variants.__file__)
bench = Workbench("default", cache_dir=os.environ.get("FASTBERT_VARIANTS_CACHE", "/work/main/.devcache"), threads=2)
profile = PROFILES["quick"]
texts = bench.dataset.texts[: profile.offline_texts]
fp32 = bench.runner("torch-fp32", "cpu")
runners = {v: bench.runner(v, "cpu") for v in ("torchao-int8-dynamic-eager", "torch-dynamic-int8")}
for b in (1, 8):
    def traffic(runner, b=b):
        return make_traffic("dynamic", bench.source.tokenizer, texts, b, 512, runner.pad_to_multiple)

    m = measure_offline(fp32, runners, traffic, profile.offline_min_rounds, profile.offline_chunks_per_pass,
                        profile.offline_seconds, profile.timing)
    print(b, {v: round(a.speedup.median, 3) for v, a in m.arms.items()}, flush=True)
