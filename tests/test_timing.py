"""The interleaved ratio: each side timed in its own segments, with the same pause before each."""

import time

from fastbert_variants.timing import interleaved_speedup


def test_interleaved_ratio_and_pause_are_applied_to_both_sides():
    calls = []

    def fast(_):
        calls.append(("fast", time.perf_counter()))
        time.sleep(0.001)

    def slow(_):
        calls.append(("slow", time.perf_counter()))
        time.sleep(0.002)

    result = interleaved_speedup(slow, None, fast, None, blocks=4, calls_per_block=3, pause_seconds=0.02)
    assert 1.5 < result.median < 2.5 and len(result.ratios) == 4 and result.pause_s == 0.02
    # The gap where the runtime changes holds the pause; within a segment calls follow each other.
    switches = [b[1] - a[1] for a, b in zip(calls, calls[1:], strict=False) if a[0] != b[0]]
    assert switches and min(switches) >= 0.02


def test_median_interval_is_scipys_order_statistics_and_the_range_when_too_few():
    from fastbert_variants.timing import median_ci

    values = [0.03, 0.08, 0.20, 0.32, 0.39, 0.45, 0.48, 0.54, 0.69, 0.83, 0.84, 0.93]
    assert median_ci(values) == (0.20, 0.83)  # the 3rd and 10th of 12, as a binomial(12, 1/2) gives
    assert median_ci([3.0, 1.0, 2.0]) == (1.0, 3.0)
