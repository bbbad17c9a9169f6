"""#33's probe: torchao eager's offline b1 speedup, the shared measurement reached by one path or another.

    cd tools/offline_path_probe && FBV_PATH=direct pytest -q -s -p no:cacheprovider test_path.py \
        --fastbert-profile quick --fastbert-devices cpu \
        --fastbert-variants torch-fp32,torchao-int8-dynamic-eager,torch-dynamic-int8

FBV_PATH: `direct` (Offline._shared), `padded` (direct after four small allocations), `deep` (direct from four frames
deeper, one more than record_of adds), `record` (Offline.record_of, as the scenario's test does) or `measure`
(Session.measure). One path a process; alternate them (docs/measurements/2026-12-06-amd-epyc-zen4-torchao-eager-b1.md).
"""
import os

from fastbert_variants.scenarios import SCENARIOS
from fastbert_variants.scenarios.offline import OfflineCase


def test_path(fastbert):
    case, offline, path = OfflineCase("cpu", 1, "dynamic", "torch-fp32"), SCENARIOS["offline"], os.environ["FBV_PATH"]
    if path == "record":
        offline.record_of(fastbert, case)
    elif path == "measure":
        fastbert.measure(case)
    elif path == "padded":  # direct, after a few small objects more: an allocation sequence that differs, nothing else
        kept = [bytearray(n) for n in (48, 96, 200, 520)]  # noqa: F841
    elif path == "deep":  # direct, from four Python frames deeper (record_of's path adds three)
        def deeper(n):
            return offline._shared(fastbert, case) if n == 0 else deeper(n - 1)
        deeper(3)
    shared = offline._shared(fastbert, case)
    print("RESULT", path, {v: round(a.speedup.median, 3) for v, a in shared.arms.items()}, flush=True)
    import statistics
    per_chunk = {v: round(1000 * statistics.median(a.seconds), 1) for v, a in shared.arms.items()}
    print("CHUNK_MS", path, "fp32", round(1000 * statistics.median(shared.fp32_seconds), 1), per_chunk, flush=True)
