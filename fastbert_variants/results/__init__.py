"""The suite's results as typed records: what a test measured, written to and read back from JSON.

One frozen dataclass per kind of result. `to_json` gives the flat dict that lands in pytest-benchmark's
`extra_info` (its keys are the ones every earlier run wrote, so `--benchmark-compare`, old histories and
`fastbert-variants compare` keep working); `from_json` reads any run this project has written, older
ones without the newer fields included. Nothing outside this module reads a result by a string key.
"""

from __future__ import annotations

from ..errors import shown
from .accuracy import TEXT_SETS, AccuracyResult, Comparison, Evaluation, Gate, Scores, accuracy_key, read_accuracy
from .fields import MalformedResult, positive
from .server import RatePoint, ServerResult
from .timed import LatencyResult, OfflineResult, Roofline, Speedup
from .upgrade import FORMAT, upgrade

__all__ = ["FORMAT", "RECORDS", "TEXT_SETS", "AccuracyResult", "Comparison", "Evaluation", "Gate", "LatencyResult", "MalformedResult",
           "OfflineResult", "RatePoint", "Roofline", "Scores", "ServerResult", "Speedup", "accuracy_key", "positive",
           "read_accuracy", "read_result", "register_record", "upgrade"]

# What each `kind` in pytest-benchmark's JSON reads into (runs.py leaves out the retired kinds of older runs): the
# built-in scenarios' records, and any other scenario's once it registered its own (scenarios.base.Scenario); accuracy
# records have a JSON of their own, read by read_accuracy.
RECORDS: dict[str, type] = {r.KIND: r for r in (LatencyResult, OfflineResult, ServerResult)}


def register_record(record: type) -> type:
    """A scenario's record class, read back by its KIND (it has KIND, where, variant, device, to_json, from_json)."""
    if RECORDS.get(record.KIND, record) is not record:
        raise ValueError(f"a record of kind {record.KIND!r} is registered twice")
    RECORDS[record.KIND] = record
    return record


def read_result(data: dict):
    """The record for one `extra_info`, brought to the current format first (upgrade)."""
    if not isinstance(data, dict):
        raise MalformedResult(f"a result is {type(data).__name__}, not a JSON object")
    data = upgrade(data)
    kind = data["kind"]
    if not isinstance(kind, str) or kind not in RECORDS:
        raise MalformedResult(f"a result of kind {shown(kind)}; this suite reads {', '.join(RECORDS)}")
    return RECORDS[kind].from_json(data)
