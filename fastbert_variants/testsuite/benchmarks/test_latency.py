"""Latency of every variant over device x batch size x sequence length, with speedups over FP32 (scenarios/cells.py)."""


def test_latency(benchmark, fastbert, latency_case):
    measured = fastbert.measure(latency_case, benchmark)
    assert measured.ok, measured.problem  # a fast wrong answer is no answer: the logits are FP32's, within tolerance
    benchmark.extra_info.update(measured.info)
