"""The run's CPU share line: other processes' and the hypervisor's part of the machine, and the warning past 5%."""

import types

import psutil

from fastbert_variants import contention


def test_other_work_on_the_cores_is_counted_and_warned_of(monkeypatch):
    times = iter([types.SimpleNamespace(user=100.0, nice=0.0, system=10.0, irq=0.0, softirq=0.0, steal=0.0),
                  types.SimpleNamespace(user=150.0, nice=20.0, system=20.0, irq=0.0, softirq=0.0, steal=1.0)])
    clock = iter([0.0, 40.0])
    monkeypatch.setattr(psutil, "cpu_times", lambda: next(times))
    monkeypatch.setattr(psutil, "cpu_count", lambda: 2)
    monkeypatch.setattr(contention.time, "monotonic", lambda: next(clock))
    meter = contention.CpuMeter()
    ours = iter([50.0])
    monkeypatch.setattr(meter, "_our_seconds", lambda: meter._ours + next(ours))
    share = meter.share()  # 80 core-seconds in all: 80 busy, 50 of them ours, 1 stolen
    assert (round(share.ours, 3), round(share.others, 3), round(share.steal, 4)) == (0.625, 0.375, 0.0125)
    assert share.contended and "WARNING: other work competed for the cores" in share.line()
    quiet = contention.CpuShare(60.0, 0.8, 0.01, 0.0)
    assert not quiet.contended and "WARNING" not in quiet.line()
