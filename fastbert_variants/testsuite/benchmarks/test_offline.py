"""The dataset's own texts, batched, in steady state, against FP32 (scenarios/offline.py)."""


def test_offline(benchmark, fastbert, offline_case):
    measured = fastbert.measure(offline_case, benchmark)
    assert measured.ok, measured.problem  # the outputs on this traffic are FP32's, within the recipe's tolerance
    benchmark.extra_info.update(measured.info)
