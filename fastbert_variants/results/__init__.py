"""The suite's results as typed records: what a test measured, written to and read back from JSON.

One frozen dataclass per kind of result. `to_json` gives the flat dict that lands in pytest-benchmark's
`extra_info` (its keys are the ones every earlier run wrote, so `--benchmark-compare`, old histories and
`fastbert-variants compare` keep working); `from_json` reads any run this project has written, older
ones without the newer fields included. Nothing outside this module reads a result by a string key.
"""

from __future__ import annotations

from .accuracy import AccuracyResult, Comparison, Evaluation, Gate, Scores, read_accuracy
from .fields import MalformedResult, positive
from .server import RatePoint, ServerResult
from .timed import LatencyResult, OfflineResult, Roofline, Speedup

__all__ = ["RECORDS", "AccuracyResult", "Comparison", "Evaluation", "Gate", "LatencyResult", "MalformedResult",
           "OfflineResult", "RatePoint", "Roofline", "Scores", "ServerResult", "Speedup", "positive", "read_accuracy",
           "read_result"]

# What each `kind` in pytest-benchmark's JSON reads into (runs.py leaves out the retired kinds of older runs); accuracy
# records have a JSON of their own, read by read_accuracy.
RECORDS: dict[str, type] = {r.KIND: r for r in (LatencyResult, OfflineResult, ServerResult)}


def read_result(data: dict):
    """The record for one `extra_info`; a latency result when it names no kind (the oldest runs)."""
    if not isinstance(data, dict):
        raise MalformedResult(f"a result is {type(data).__name__}, not a JSON object")
    kind = data.get("kind", LatencyResult.KIND)
    if not isinstance(kind, str) or kind not in RECORDS:
        raise MalformedResult(f"a result of kind {kind!r}; this suite reads {', '.join(RECORDS)}")
    return RECORDS[kind].from_json(data)
