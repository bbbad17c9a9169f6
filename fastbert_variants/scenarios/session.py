"""What a scenario measures with: one workbench, the run's options and selection, the Run it adds to, and the
measurements scenarios share (a cell's interleaved schedule, the offline records the server's shortlist asks for)."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING

from .base import SCENARIOS, BenchmarkTimer, Measured, Timer

if TYPE_CHECKING:
    from ..plan import Profile, Selection
    from ..workbench import Workbench


class Session:
    """One run's measuring state; `run` is the runs.Run the records are added to (runs.py sits above the scenarios). `planned(fixture, keep)`, given by a front end, names the variants it will run in
    the cases `keep` selects (pytest: its collected tests, not skipped); without it, every case the selection keeps."""

    def __init__(self, workbench: Workbench, selection: Selection, opt: SimpleNamespace, run,
                 devices: list[str], planned: Callable[[str, Callable], list[str] | None] | None = None,
                 scratch: Callable[[], Path] | None = None):
        self.workbench, self.selection, self.opt, self.run, self.devices = workbench, selection, opt, run, devices
        self._planned = planned or (lambda fixture, keep: None)
        self._scratch = scratch or (lambda: Path(tempfile.mkdtemp(prefix="fastbert-variants-")))
        self._made: dict = {}
        self.gemm_peaks: dict[str, dict] = {}  # device -> GFLOP/s per precision, measured once

    @property
    def profile(self) -> Profile:
        return self.selection.profile

    def measure(self, case, timer=None) -> Measured:
        """The case's scenario measures it; `timer` is a Timer or pytest-benchmark's fixture (its figure the test's)."""
        if timer is None or not isinstance(timer, Timer):
            timer = Timer() if timer is None else BenchmarkTimer(timer)
        return SCENARIOS[case.SCENARIO].measure(self, case, timer)

    def once(self, key, make: Callable):
        """make() the first time `key` is asked for; the same value after."""
        if key not in self._made:
            self._made[key] = make()
        return self._made[key]

    def keep(self, record):
        """Add a record to the run (once per record: callers make records inside `once` where others may ask)."""
        self.run.add(record)
        return record

    def variants_in(self, scenario, keep: Callable) -> list[str]:
        """The variants other than FP32 that this run measures in the cases `keep` selects, in case order."""
        from ..variants import BASELINE

        planned = self._planned(scenario.case_fixture, keep)
        if planned is None:
            planned = [c.variant for c in scenario.cases(self.selection, self.devices)
                       if keep(c) and not self.selection.skip_reason(c.variant, c.device)]
        return [name for name in dict.fromkeys(planned) if name != BASELINE]

    def scratch_dir(self) -> Path:
        return self.once("scratch", self._scratch)

    def peaks(self, device: str) -> dict:
        """GEMM GFLOP/s per precision on the device with the run's threads, measured once per device."""
        from .. import progress
        from ..roofline import gemm_peaks
        from ..workbench import configure_threads

        if device not in self.gemm_peaks:
            configure_threads(self.workbench.threads)
            with progress.activity(f"measuring {device} GEMM peaks"):
                self.gemm_peaks[device] = gemm_peaks(device, self.workbench.threads)
        return self.gemm_peaks[device]
