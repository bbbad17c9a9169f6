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


class FakeClock:
    """A machine that slows down steadily: a unit of work takes 1 + `drift` x t seconds, t the middle of its segment."""

    def __init__(self, drift: float):
        self.now, self.drift = 0.0, drift

    def perf_counter(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds

    def work(self, units: float):
        def segment(_round: int) -> float:
            took = units * (1 + self.drift * self.now) / (1 - self.drift * units / 2)  # solved for the middle
            self.now += took
            return took
        return segment


def test_one_fp32_stream_serves_every_variant_and_a_linear_drift_cancels(monkeypatch):
    import fastbert_variants.timing as timing

    clock = FakeClock(drift=0.01)
    monkeypatch.setattr(timing, "time", clock)
    measured = timing.interleave(clock.work(3.0), {"a": clock.work(1.0), "b": clock.work(1.5), "c": clock.work(3.0)},
                                 rounds=6, pause_seconds=0.5)
    assert len(measured.baseline) == 7  # one FP32 segment more than the rounds: each round sits between two
    for name, truth in (("a", 3.0), ("b", 2.0), ("c", 1.0)):
        base, own = measured.arms[name]
        ratios = [b / v for b, v in zip(base, own, strict=True)]
        # the machine slowed by more than a third over the run, yet every round's ratio is the true one
        assert len(ratios) == 6 and max(abs(r - truth) for r in ratios) < 1e-9, (name, ratios)
    assert clock.now > 40 and 1 + clock.drift * clock.now > 1.4


def test_the_variants_take_turns_next_to_fp32():
    import fastbert_variants.timing as timing

    seen = []
    timing.interleave(lambda k: 1.0, {n: (lambda k, n=n: seen.append((k, n)) or 1.0) for n in "abc"}, rounds=3)
    assert [n for _, n in seen] == ["a", "b", "c", "b", "c", "a", "c", "a", "b"]
