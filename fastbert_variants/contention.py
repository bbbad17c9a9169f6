"""Who else used the CPU while the suite timed: other processes and the hypervisor (steal), from psutil.

Interleaving cancels a slow drift that touches FP32 and a variant alike, not contention that touches
runtimes unequally (a runtime whose threads spin or pin suffers more when cores are taken). A run
that shared its cores says so beside its figures, rather than leaving a reader to trust them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

WARN_SHARE = 0.05  # of all the machine's CPU time: past it, the run's summary warns


@dataclass(frozen=True)
class CpuShare:
    seconds: float
    ours: float  # shares of all cores' time over `seconds`: this process and the children it waited for
    others: float  # every other process of the machine
    steal: float  # the hypervisor's: time another guest had the physical cores

    @property
    def contended(self) -> bool:
        return self.others > WARN_SHARE or self.steal > WARN_SHARE

    def line(self) -> str:
        text = (f"CPU over the run's {self.seconds:.0f} s: this run {100 * self.ours:.0f}% of the machine, other "
                f"processes {100 * self.others:.0f}%, hypervisor steal {100 * self.steal:.0f}%")
        if self.contended:
            text += ("; WARNING: other work competed for the cores, so speedups may be off (runtimes suffer unequally "
                     "from it): rerun on a quiet machine")
        return text

    def to_json(self) -> dict:
        return {"seconds": self.seconds, "ours": self.ours, "others": self.others, "steal": self.steal}


class CpuMeter:
    """Started when the suite starts its work; `share()` reads what happened since."""

    def __init__(self):
        import psutil

        self._psutil = psutil
        self._started = time.monotonic()
        self._machine = psutil.cpu_times()
        self._ours = self._our_seconds()

    def _our_seconds(self) -> float:
        me = self._psutil.Process()
        times = me.cpu_times()
        live_children = 0.0
        for child in me.children(recursive=True):  # a server or load generator still running
            try:
                live = child.cpu_times()
                live_children += live.user + live.system
            except self._psutil.Error:
                pass
        return times.user + times.system + times.children_user + times.children_system + live_children

    def share(self) -> CpuShare:
        now, machine = time.monotonic(), self._psutil.cpu_times()
        seconds = max(now - self._started, 1e-6)
        capacity = seconds * (self._psutil.cpu_count() or 1)

        def busy(t) -> float:
            return t.user + t.nice + t.system + getattr(t, "irq", 0.0) + getattr(t, "softirq", 0.0)

        ours = self._our_seconds() - self._ours
        everyone = busy(machine) - busy(self._machine)
        steal = getattr(machine, "steal", 0.0) - getattr(self._machine, "steal", 0.0)
        return CpuShare(seconds, ours / capacity, max(0.0, everyone - ours) / capacity, max(0.0, steal) / capacity)
