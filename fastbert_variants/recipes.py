"""What a variant computes in and which layers it leaves in float: declared once, read by every family.

A recipe is data. Each family turns `keep_float` into its library's own exclusion list: module
names for torch (quantize_dynamic, torchao's filter_fn, PT2E's per-module config) and node names
for ONNX graphs (ORTQuantizer's nodes_to_exclude, NNCF's IgnoredScope). The groups:

- ffn-down: the feed-forward down-projections. Their input is the GELU output, whose outliers
  make one int8 activation scale too coarse (ONNX Runtime dynamic int8 of every MatMul lost 1.40
  points on the default model; keeping these in float, 0.29).
- attention-matmuls: the activation x activation products (scores, scores x values). No weight
  to quantize, and a range that moves with every input (static int8 only).
- classifier: the last Linear, whose few outputs (2 labels) int8 kernels cannot take.
"""

from __future__ import annotations

from dataclasses import dataclass

PRECISIONS = ("fp32", "fp16", "bf16", "int8", "fp8")
KEEP_FLOAT_GROUPS = ("ffn-down", "attention-matmuls", "classifier")
# (largest, mean) absolute logit difference from FP32 each precision may show on real texts. int8 with
# per-batch activation scales moves single logits by up to ~2 on outlier rows; the accuracy gates
# judge whether that costs predictions. float8 (e4m3: 3 mantissa bits, per-row scales) is held to int8's.
LOGIT_TOLERANCE = {"fp32": (1e-3, 1e-4), "fp16": (0.05, 0.01), "bf16": (0.25, 0.05), "int8": (2.5, 0.5),
                   "fp8": (2.5, 0.5)}


@dataclass(frozen=True)
class Recipe:
    """How a variant computes. `version` is bumped when a build step changes, so old cache entries are not reused."""

    precision: str = "fp32"  # what the matmuls compute in (the roofline peak a variant is held to)
    weights: str = ""  # how weights are stored, when not in `precision` (int8 weight-only: "int8")
    keep_float: tuple[str, ...] = ()
    calibrated: bool = False  # static activation ranges, calibrated on training texts (never the scored rows)
    version: int = 1

    def __post_init__(self):
        if self.precision not in PRECISIONS:
            raise ValueError(f"recipe precision {self.precision!r}: use one of {', '.join(PRECISIONS)}")
        unknown = set(self.keep_float) - set(KEEP_FLOAT_GROUPS)
        if unknown:
            raise ValueError(f"recipe keep_float {sorted(unknown)}: use groups of {', '.join(KEEP_FLOAT_GROUPS)}")

    @property
    def logit_tolerance(self) -> tuple[float, float]:
        """(largest, mean) logit difference from FP32 allowed: int8 also for int8-stored weights."""
        return LOGIT_TOLERANCE["int8" if self.weights == "int8" else self.precision]

    def describe(self) -> str:
        parts = [self.precision + (f" (weights {self.weights})" if self.weights else "")]
        parts += ["calibrated"] * self.calibrated
        parts += [f"{', '.join(self.keep_float)} kept in float"] * bool(self.keep_float)
        return "; ".join(parts)


FP32 = Recipe()


def ffn_width(config) -> int | None:
    """The feed-forward width (BERT: intermediate_size; DistilBERT: hidden_dim)."""
    return getattr(config, "intermediate_size", None) or getattr(config, "hidden_dim", None)


def torch_dtype(precision: str):
    """The torch dtype a precision computes in (int8 recipes start from FP32 weights)."""
    import torch

    return {"fp16": torch.float16, "bf16": torch.bfloat16}.get(precision, torch.float32)
