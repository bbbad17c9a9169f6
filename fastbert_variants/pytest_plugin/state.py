"""One pytest session's state: its parsed options, the Run its tests fill, and the measuring Session (built on first
use, with the workbench)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

import pytest

from .. import gates, options, plan, progress
from ..errors import UserError
from .options import values

if TYPE_CHECKING:
    from ..runs import Run

STATE = pytest.StashKey["RunState"]()


@dataclass
class RunState:
    """Parsed options plus what the session accumulates: one Run, one measuring Session (and its Workbench)."""

    config: pytest.Config
    run: Run = field(init=False)
    items: list | None = None  # the session's tests after collection and deselection (pytest_collection_finish)
    stopped_by: str = ""  # a UserError a test found (the run stops and ends as a usage error)

    def __post_init__(self):
        from ..runs import Run

        self.run = Run()
        self.opt = opt = values(self.config)  # the options by their unprefixed names
        self.selection = plan.Selection.parse(opt.suite_profile, opt.variants, opt.devices, opt.seq_lens,
                                              opt.batch_sizes, opt.server_baseline)
        if opt.accuracy_json:  # checked now, not after minutes of scoring
            options.check_output_file(opt.accuracy_json, "--accuracy-json")
        from .compared import check_options

        check_options(self.config, opt)
        self.gates = gates.Gates.parse(gates.Gate(opt.max_accuracy_drop, opt.max_relative_drop),
                                       self.config.getini("accuracy_thresholds"))

    @property
    def profile(self) -> plan.Profile:
        return self.selection.profile

    @cached_property
    def devices(self) -> list[str]:
        """The given devices, or cpu plus cuda when torch sees a GPU (asked only once the suite runs: torch is slow
        to import, and a pytest that runs none of our tests should not pay for it)."""
        from ..hardware import cuda_available

        return self.selection.devices or (["cpu", "cuda"] if cuda_available() else ["cpu"])

    def machine(self) -> dict:
        """The run's machine facts and the CPU share others took while it measured: what its JSON and a comparison
        keep."""
        return {**machine_facts(), "cpu_share": self.cpu_meter.share().to_json()}

    @property
    def engaged(self) -> bool:
        """Whether this session ran any of the suite (built its workbench)."""
        return "workbench" in self.__dict__

    @cached_property
    def session(self):
        """What the scenarios measure with; the variants of a shared measurement are those this session's collected
        and not skipped tests run."""
        from ..scenarios import Session

        return Session(self.workbench, self.selection, self.opt, self.run, self.devices, planned=self._planned)

    def _planned(self, fixture: str, keep) -> list[str] | None:
        taking = [item for item in self.items or () if fixture in getattr(getattr(item, "callspec", None), "params", {})]
        if not taking:  # none of the scenario's tests in this session (another scenario asks): what the selection keeps
            return None
        cases = [item.callspec.params[fixture] for item in taking if not item.get_closest_marker("skip")]
        return [c.variant for c in cases if keep(c)]

    @cached_property
    def workbench(self):
        from ..contention import CpuMeter
        from ..workbench import Workbench

        self.cpu_meter = CpuMeter()  # from the suite's first work on: who else used the cores
        progress.quiet_libraries()
        opt = self.opt
        bench = Workbench(opt.model, options.dataset_spec(opt), options.cache_dir(opt), options.threads(opt),
                          opt.trust_remote_code, revision=opt.revision)
        _ = bench.source.config, bench.dataset  # resolve now: a bad --model or --dataset raises UserError
        too_long = [n for n in self.selection.seq_lens if n > bench.source.max_positions]
        if opt.seq_lens and too_long:  # asked for by name: skipping them would pass having measured nothing
            raise UserError(f"--seq-lens {','.join(map(str, too_long))} is past the model's maximum of "
                            f"{bench.source.max_positions} tokens; give lengths up to {bench.source.max_positions}")
        return bench


def machine_facts() -> dict:
    """CPU model and flags, GPU and library versions: once per run, not per result.

    Facts only: pytest-benchmark compares the saved run's machine_info with this one's as a whole at
    --benchmark-compare and warns on any difference, so the GEMM peaks, measured anew each session,
    stay with the results (each latency result's roofline fields) and the terminal summary.
    """
    from .. import hardware
    from ..variants import installed_versions

    return {**hardware.describe(), "versions": installed_versions()}
