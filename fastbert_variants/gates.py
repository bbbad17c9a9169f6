"""The accuracy gates of a run: the default bounds, and per-variant ones from the ini option accuracy_thresholds."""

from __future__ import annotations

from dataclasses import dataclass, field

from .errors import UserError
from .results import Gate

# Per-variant accuracy gates, `VARIANT = POINTS RELATIVE_PERCENT`, the default of the ini option
# accuracy_thresholds (a project's own pytest ini replaces it); the rest get --max-accuracy-drop and
# --max-relative-drop (1.0 and 1.0). torch-dynamic-int8 is known to be lossier: on the default model
# it loses 0.93 points, 1.08% of FP32 (McNemar p=0.006), so its relative bound is 1.25%; a worse
# recipe (every Linear per tensor: 2.2 points) still fails it.
DEFAULT_THRESHOLDS = ("torch-dynamic-int8 = 1.0 1.25",)
LONG_TEXT_SIGNIFICANCE = 0.05  # the long-text gate's McNemar level (121 texts; see results.Gate)


@dataclass
class Gates:
    default: Gate
    per_variant: dict[str, Gate] = field(default_factory=dict)

    def for_variant(self, name: str) -> Gate:
        return self.per_variant.get(name, self.default)

    @classmethod
    def parse(cls, default: Gate, lines: list[str]) -> Gates:
        """ini lines `NAME = POINTS RELATIVE_PERCENT`, e.g. `ort-int8-static = 2.0 2.5`."""
        per_variant = {}
        for line in lines:
            try:
                name, values = (part.strip() for part in line.split("=", 1))
                points, relative = (float(v) for v in values.split())
            except ValueError:
                raise UserError(f"accuracy_thresholds line {line!r}: write `VARIANT = POINTS RELATIVE_PERCENT`") from None
            per_variant[name] = Gate(points, relative)
        return cls(default, per_variant)
