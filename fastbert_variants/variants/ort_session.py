"""ONNX Runtime sessions as runners: options, the provider check, and the runners with and without IO binding.

How a session runs, apart from how each variant's graph is built (`families/onnxruntime.py`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .base import Runner, VariantUnavailable

# ONNX Runtime's default: idle worker threads spin a while after each run. Spinning off was slower (6-13% on an AMD
# EPYC Zen 3: docs/measurements/recipe-choices.md), so ORT is timed as users run it; the interleaved comparison
# waits IDLE_SPIN_S after an ORT segment instead (timing.py), so that spinning threads do not tax the next runtime's
# calls: after 10 or 20 ms they still did, and the segment that followed read 5-20% slower.
SESSION_CONFIG = {"session.intra_op.allow_spinning": "1"}
IDLE_SPIN_S = 0.05


@dataclass
class OrtRunner(Runner):
    """An ONNX Runtime session. `reopen`, for a provider that builds what it caches on the first run of each input
    shape (TensorRT's engines): after that first run fails, it discards what earlier runs cached and returns a new
    session (None: nothing to discard, the error stands); the run is then tried once more."""

    session: object = None
    reopen: Callable[[BaseException], object] | None = None
    shapes_run: set = field(default_factory=set)
    idle_spin_s: float = IDLE_SPIN_S

    def prepare(self, batch):
        return {i.name: np.ascontiguousarray(batch[i.name]) for i in self.session.get_inputs()}

    def run(self, prepared):
        if self.reopen is None:
            return self.call(prepared)
        shape = tuple(tuple(value.shape() if callable(value.shape) else value.shape) for value in prepared.values())
        if shape in self.shapes_run:
            return self.call(prepared)
        try:
            logits = self.call(prepared)
        except Exception as exc:  # onnxruntime raises its own Fail/RuntimeException types
            session = self.reopen(exc)
            if session is None:
                raise
            self.session, self.reopen = session, None  # once: a second failure is the provider's own
            logits = self.call(prepared)
        self.shapes_run.add(shape)
        return logits

    def call(self, prepared):
        return self.session.run(None, prepared)[0]

    def to_numpy(self, logits):
        return np.asarray(logits, dtype=np.float32)


@dataclass
class IoBoundOrtRunner(OrtRunner):
    """ONNX Runtime with IO binding, as the torch runners on a GPU: inputs copied to the device in `prepare`
    (outside the timing), logits left there, the call finished (outputs synchronized) when `run` returns.

    The CUDA variants run this way; without it each call would copy inputs and outputs across PCIe inside the
    timing, which the torch runners do not. `device_type` is ONNX Runtime's name for the device ("cuda", "cpu").
    """

    device_type: str = "cuda"

    def prepare(self, batch):
        import onnxruntime as ort

        return {name: ort.OrtValue.ortvalue_from_numpy(array, self.device_type, 0)
                for name, array in super().prepare(batch).items()}

    def call(self, prepared):
        binding = self.session.io_binding()
        for name, value in prepared.items():
            binding.bind_ortvalue_input(name, value)
        binding.bind_output(self.session.get_outputs()[0].name, self.device_type)
        self.session.run_with_iobinding(binding)
        binding.synchronize_outputs()
        return binding.get_outputs()[0]

    def to_numpy(self, logits):
        return np.asarray(logits.numpy(), dtype=np.float32)


def graph_file(folder: Path) -> Path:
    """The variant's ONNX graph in its cache folder (the export's, the optimizer's or the quantizer's file name)."""
    return next(p for p in sorted(folder.glob("*.onnx")) if "augmented" not in p.name)


def check_providers(wanted: str, running: list[str]) -> None:
    """ONNX Runtime falls back to the next provider, down to the CPU, when one fails to load (TensorRT or cuDNN
    libraries missing or of another version), and says so only in its log: the variant would be timed on the wrong
    runtime. Unavailable instead, with what ran."""
    if running[:1] != [wanted]:
        raise VariantUnavailable(f"onnxruntime could not start {wanted} (the session runs on {', '.join(running)}: "
                                 "its libraries are missing or of another version; onnxruntime's log says which)")


def session_options(threads: int):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    for key, value in SESSION_CONFIG.items():
        options.add_session_config_entry(key, value)
    return options
