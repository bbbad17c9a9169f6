"""The scenarios: how the variants are put to work and judged, one module each (base.py: the interface).

Built in: `cells` (fixed batch x length cells), `offline` (the dataset's texts, batched) and `server` (capacity
at a p99 budget); others come from any distribution's `fastbert_variants.scenarios` entry point.
"""

from .base import SCENARIOS, BenchmarkTimer, Measured, NotMeasured, Scenario, Timer
from .common import Recommendation, accuracy_verdict
from .session import Session

__all__ = ["SCENARIOS", "BenchmarkTimer", "Measured", "NotMeasured", "Recommendation", "Scenario", "Session", "Timer",
           "accuracy_verdict"]
