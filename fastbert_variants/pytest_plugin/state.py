"""One pytest session's state: its parsed options, its workbench (built on first use) and the results it gathers."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

import pytest

from .. import gates, options, plan, progress
from ..errors import UserError
from .options import in_pytest_words, values

if TYPE_CHECKING:
    from ..results import AccuracyResult, LatencyResult, OfflineResult, ServerResult

STATE = pytest.StashKey["RunState"]()


@dataclass
class RunState:
    """Parsed options plus what the session accumulates (one Workbench, the results)."""

    config: pytest.Config
    latency_results: list[LatencyResult] = field(default_factory=list)
    offline_results: list[OfflineResult] = field(default_factory=list)
    server_results: list[ServerResult] = field(default_factory=list)
    accuracy_results: dict[str, AccuracyResult] = field(default_factory=dict)
    gemm_peaks: dict = field(default_factory=dict)  # device -> GFLOP/s per precision, measured once per session

    def __post_init__(self):
        self.opt = opt = values(self.config)  # the options by their unprefixed names
        self.selection = plan.Selection.parse(opt.suite_profile, opt.variants, opt.devices, opt.seq_lens,
                                              opt.batch_sizes)
        if not opt.p99_budget_ms > 0:
            raise UserError(f"--p99-budget-ms must be a positive number of milliseconds, got {opt.p99_budget_ms}")
        if opt.accuracy_max_length is not None and opt.accuracy_max_length < 8:
            raise UserError(f"--accuracy-max-length must be at least 8 tokens, got {opt.accuracy_max_length}")
        if opt.slow_variant_rows < 0:
            raise UserError(f"--slow-variant-rows must be 0 (every row) or a positive count, got {opt.slow_variant_rows}")
        if opt.accuracy_json:  # checked now, not after minutes of scoring
            options.check_output_file(opt.accuracy_json, "--accuracy-json")
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

    @property
    def engaged(self) -> bool:
        """Whether this session ran any of the suite (built its workbench)."""
        return "workbench" in self.__dict__

    @cached_property
    def workbench(self):
        from ..contention import CpuMeter
        from ..workbench import Workbench

        self.cpu_meter = CpuMeter()  # from the suite's first work on: who else used the cores
        progress.quiet_libraries()
        opt = self.opt
        try:
            bench = Workbench(opt.model, options.dataset_spec(opt), options.cache_dir(opt), options.threads(opt),
                              opt.trust_remote_code)
            _ = bench.source.config, bench.dataset  # resolve now: a bad --model or --dataset stops it with one line
            too_long = [n for n in self.selection.seq_lens if n > bench.source.max_positions]
            if opt.seq_lens and too_long:  # asked for by name: skipping them would pass having measured nothing
                raise UserError(f"--seq-lens {','.join(map(str, too_long))} is past the model's maximum of "
                                f"{bench.source.max_positions} tokens; give lengths up to {bench.source.max_positions}")
            return bench
        except UserError as exc:
            pytest.exit(f"fastbert-variants: {in_pytest_words(str(exc))}", returncode=2)
