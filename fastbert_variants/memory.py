"""Peak memory of one variant's calls, not charged with what other variants hold.

All variants of a run live in one process, so the process's RSS says little about any one of
them. A probe measures the rise above the level at its start (CPU: Linux's peak-RSS mark,
reset through /proc/self/clear_refs; CUDA: torch's peak-allocation counter, reset), and the
result adds the variant's own weights: weights + the activation peak of its calls.
"""

from __future__ import annotations

from pathlib import Path

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def _status_kb(field: str) -> int | None:
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


class MemoryProbe:
    def __init__(self, device: str):
        self.device = device
        self.supported = True
        if device == "cuda":
            import torch

            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            self.start_bytes = torch.cuda.memory_allocated()
            return
        try:
            _CLEAR_REFS.write_text("5")  # reset VmHWM to the current RSS
        except OSError:
            self.supported = False
        self.start_bytes = (_status_kb("VmRSS") or 0) * 1024

    def activation_peak_bytes(self) -> int | None:
        if self.device == "cuda":
            import torch

            return torch.cuda.max_memory_allocated() - self.start_bytes
        peak_kb = _status_kb("VmHWM")
        if not self.supported or peak_kb is None:
            return None
        return max(0, peak_kb * 1024 - self.start_bytes)

    def peak_mb(self, weight_bytes: int) -> float | None:
        """Weights plus the activation peak since the probe started, in MB; None where it cannot be measured."""
        activations = self.activation_peak_bytes()
        return None if activations is None else (weight_bytes + activations) / 1e6
