"""The suite's session fixtures: every test shares one workbench, so each variant is built once per session."""

from __future__ import annotations

from functools import cache

import pytest

from .. import progress
from ..errors import UserError
from .state import STATE, RunState


@pytest.fixture(scope="session")
def run_state(request) -> RunState:
    return request.config.stash[STATE]


@pytest.fixture(scope="session")
def workbench(run_state):
    return run_state.workbench


@pytest.fixture(scope="session")
def runner_or_skip(workbench):
    """runner(variant, device), or the test is skipped with the reason the variant cannot run here."""
    from ..workbench import VariantUnavailable

    def runner(name: str, device: str):
        try:
            return workbench.runner(name, device)
        except VariantUnavailable as reason:
            pytest.skip(str(reason))

    return runner


@pytest.fixture(scope="session")
def cell_batch(workbench):
    """batch(batch_size, seq_len): exactly seq_len real tokens per row; the same arrays for every variant."""
    from ..inputs import exact_length_batch

    @cache
    def batch(batch_size: int, seq_len: int):
        try:
            return exact_length_batch(workbench.source.tokenizer, workbench.dataset.texts, seq_len, batch_size,
                                      workbench.source.max_positions)
        except UserError as reason:
            return reason

    return batch


@pytest.fixture(scope="session")
def offline_traffic(workbench, run_state):
    """traffic(strategy, batch_size, pad_to_multiple): the profile's first N texts of the dataset, batched."""
    from ..inputs import make_traffic

    texts = workbench.dataset.texts[: run_state.profile.offline_texts]
    max_length = min(512, workbench.source.max_positions)
    return cache(lambda strategy, batch_size, pad_to_multiple=None: make_traffic(
        strategy, workbench.source.tokenizer, texts, batch_size, max_length, pad_to_multiple))


@pytest.fixture(scope="session")
def gemm_peaks(workbench, run_state):
    """peaks(device): GEMM GFLOP/s per precision with the run's threads, measured once per device per session."""
    from ..roofline import gemm_peaks as measure
    from ..workbench import configure_threads

    def peaks(device: str) -> dict:
        if device not in run_state.gemm_peaks:
            configure_threads(workbench.threads)
            with progress.activity(f"measuring {device} GEMM peaks"):
                run_state.gemm_peaks[device] = measure(device, workbench.threads)
        return run_state.gemm_peaks[device]

    return peaks


@pytest.fixture(scope="session")
def scorer(workbench, run_state):
    """One Scorer per session, so FP32 is scored once."""
    from ..accuracy import Scorer

    return Scorer(workbench, max_length=run_state.opt.accuracy_max_length)


@pytest.fixture(scope="session")
def long_text_scorer(workbench, run_state):
    """A Scorer on the long-text set (held-out tweets joined into 256-512 tokens), scored up to 512 tokens."""
    from ..accuracy import Scorer
    from ..datasets import LONG_TEXT_TOKENS, long_tweets

    if run_state.opt.long_texts == "off":
        pytest.skip("--fastbert-long-texts off")
    if workbench.dataset_spec.name != "default":
        pytest.skip(f"the long-text set is made of the default dataset's tweets, labelled negative/positive; "
                    f"{workbench.dataset_spec.name}'s own long texts are gated above, up to --fastbert-accuracy-max-length")
    if workbench.source.max_positions < LONG_TEXT_TOKENS[1]:
        pytest.skip(f"{workbench.model_spec} takes at most {workbench.source.max_positions} tokens")
    return Scorer(workbench, long_tweets(workbench.source.tokenizer), max_length=LONG_TEXT_TOKENS[1])


@pytest.fixture
def trained_model(workbench):
    if not workbench.source.trained:
        pytest.skip(f"{workbench.model_spec} has random weights: accuracy means nothing for it")


class SharedTiming:
    """The shared interleaved measurement (measurement.py) of each fixed cell and offline scenario, made the first
    time a test there asks for it, over every variant this session will run there: the collected, selected and
    not skipped tests of that cell or scenario."""

    def __init__(self, session, workbench, run_state, cell_batch, offline_traffic):
        self.session, self.workbench, self.run_state = session, workbench, run_state
        self.cell_batch, self.offline_traffic = cell_batch, offline_traffic
        self._made: dict[tuple, object] = {}

    def _variants(self, fixture: str, key) -> list[str]:
        from ..variants import BASELINE

        names = []
        for item in self.session.items:
            case = getattr(getattr(item, "callspec", None), "params", {}).get(fixture)
            if case is not None and key(case) and case.variant != BASELINE and case.variant not in names \
                    and not item.get_closest_marker("skip"):
                names.append(case.variant)
        return names

    def _runners(self, names: list[str], device: str) -> tuple[dict, dict]:
        """The runners that build here; the others' failures, for their own tests to raise."""
        from ..measurement import ArmResult

        runners, failed = {}, {}
        for name in names:
            try:
                runners[name] = self.workbench.runner(name, device)
            except Exception as exc:  # VariantUnavailable (a skip) or a build that failed: its test says which
                failed[name] = ArmResult(failure=exc)
        return runners, failed

    def cell(self, case):
        """{variant: ArmResult} of the case's fixed cell."""
        from ..measurement import measure_cell
        from ..variants import BASELINE

        key = ("cell", case.cell)
        if key not in self._made:
            runners, failed = self._runners(self._variants("latency_case", lambda c: c.cell == case.cell), case.device)
            fp32 = self.workbench.runner(BASELINE, case.device)
            with progress.activity(f"timing {len(runners)} variant(s) against {BASELINE} on {case.cell}, interleaved"):
                measured = measure_cell(fp32, runners, self.cell_batch(case.batch_size, case.seq_len),
                                        self.run_state.profile.timing)
            self._made[key] = {**failed, **measured}
        return self._made[key]

    def offline(self, case):
        """The OfflineMeasurement of the case's scenario (device, batch size, strategy)."""
        from ..measurement import measure_offline
        from ..variants import BASELINE

        key = ("offline", case.scenario)
        if key not in self._made:
            runners, failed = self._runners(self._variants("offline_case", lambda c: c.scenario == case.scenario),
                                            case.device)
            profile = self.run_state.profile
            with progress.activity(f"{case.scenario}: first passes, then {len(runners)} variant(s) interleaved with "
                                   f"{BASELINE} chunk by chunk"):
                measured = measure_offline(
                    self.workbench.runner(BASELINE, case.device), runners,
                    lambda runner: self.offline_traffic(case.strategy, case.batch_size, runner.pad_to_multiple),
                    profile.offline_min_rounds, profile.offline_chunks_per_pass, profile.offline_seconds,
                    profile.timing)
            measured.arms.update(failed)
            self._made[key] = measured
        return self._made[key]


@pytest.fixture(scope="session")
def shared_timing(request, workbench, run_state, cell_batch, offline_traffic) -> SharedTiming:
    return SharedTiming(request.session, workbench, run_state, cell_batch, offline_traffic)
