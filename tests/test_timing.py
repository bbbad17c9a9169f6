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


def test_the_pause_after_a_runtime_whose_threads_spin_is_its_spin_time(monkeypatch):
    import fastbert_variants.timing as timing

    clock = FakeClock(drift=0.0)
    monkeypatch.setattr(timing, "time", clock)
    pauses, last = [], [0.0]

    def segment(name):
        def run(_round):
            pauses.append((name, clock.now - last[0]))
            clock.now += 1.0
            last[0] = clock.now
            return 1.0
        return run

    timing.interleave(segment("fp32"), {"ort": segment("ort"), "ov": segment("ov")}, rounds=2, pause_seconds=0.01,
                      idle_spin_after={None: 0.0, "ort": 0.05, "ov": 0.0})
    # rounds: fp32 | ort ov | fp32 | ov ort | fp32: 50 ms after each ORT segment, 10 ms after the others
    assert [name for name, _ in pauses] == ["fp32", "ort", "ov", "fp32", "ov", "ort", "fp32"]
    expected = [0.01, 0.01, 0.05, 0.01, 0.01, 0.01, 0.05]
    assert all(abs(p - e) < 1e-9 for (_, p), e in zip(pauses, expected, strict=True)), pauses


def test_every_onnx_runtime_session_is_followed_by_its_spin_time_in_a_cell(monkeypatch):
    import numpy as np

    import fastbert_variants.measurement as measurement
    from fastbert_variants.plan import PROFILES
    from fastbert_variants.variants.base import Runner
    from fastbert_variants.variants.ort_session import IDLE_SPIN_S, OrtRunner

    class Eager(Runner):
        def prepare(self, batch):
            return batch

        def run(self, prepared):
            return prepared

        def to_numpy(self, logits):
            return np.asarray(logits)

    class Ort(OrtRunner):  # the session's own class, without a session
        prepare = run = Eager.run

    seen = {}
    monkeypatch.setattr(measurement, "interleave", lambda *args: seen.update(spin=args[4]) or timing_stub(args[1]))

    def timing_stub(arms):
        from fastbert_variants.timing import Interleaved
        return Interleaved([1.0] * 3, {name: ([1.0] * 2, [1.0] * 2) for name in arms})

    plan = PROFILES["quick"].timing
    measurement.measure_cell(Eager("torch-fp32", "cpu", 0, 0.0), {"ort-fp32": Ort("ort-fp32", "cpu", 0, 0.0),
                                                                  "openvino-int8": Eager("openvino-int8", "cpu", 0, 0.0)},
                             np.zeros((1, 4)), plan)
    assert seen["spin"] == {None: 0.0, "ort-fp32": IDLE_SPIN_S, "openvino-int8": 0.0}
    assert IDLE_SPIN_S > plan.pause_seconds


def test_offline_chunks_of_several_batches_are_settled_and_chunks_of_one_are_not():
    import numpy as np

    from fastbert_variants.inputs import Traffic
    from fastbert_variants.measurement import measure_offline
    from fastbert_variants.plan import PROFILES
    from fastbert_variants.variants.base import Runner

    class Counting(Runner):
        def prepare(self, batch):
            return batch

        def run(self, prepared):
            self.info["calls"] = self.info.get("calls", 0) + 1
            return prepared

        def to_numpy(self, logits):
            return np.asarray(logits)

    plan = PROFILES["quick"].timing
    for batches, chunks, untimed in ((6, 6, 0), (24, 8, 1)):  # batch 32 of 192 texts; batch 8
        traffic = Traffic([{"input_ids": np.zeros((1, 4))}] * batches, batches, 4.0)
        fp32, variant = Counting("torch-fp32", "cpu", 0, 0.0), Counting("v", "cpu", 0, 0.0)
        measured = measure_offline(fp32, {"v": variant}, lambda runner, traffic=traffic: traffic, min_rounds=12,
                                   chunks_per_pass=chunks, seconds=0.0, plan=plan)
        rounds = measured.passes * chunks
        # its cold pass, then every round's chunk of batches / chunks calls, each after `untimed` settling calls
        assert variant.info["calls"] == batches + rounds * (batches // chunks + untimed), (batches, variant.info)
        assert measured.arms["v"].speedup.settle_calls == untimed
