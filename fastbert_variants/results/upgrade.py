"""Result formats: every record written carries `format`; one step per older format brings it to this one.

As asv keeps `api_version` and an `update_to_N` per step, the readers (`from_json`) know only the current
format, and what older runs lack is filled here, in one place, instead of in each reader.
"""

from __future__ import annotations

import math

from .fields import MalformedResult

FORMAT = 2  # 2: 5 December 2026, records say their format; 1: every run before


def _to_2(data: dict) -> dict:
    """Format 1, by what its runs lack. The oldest name no kind (latency, then the only kind). Speedups before block
    ratios were kept have their median alone (the interval then is the median); before 3 December 2026 blocks
    were interleaved pair by pair (ABBA) with no settling call. Offline results before padding was counted, server
    results before the search recorded its settings, loads, step and pinning: what they did not say is unknown."""
    data = {"kind": "latency", **data}
    if data.get("speedup_vs_fp32") is not None:
        median = data["speedup_vs_fp32"]
        defaults = {"speedup_ci95": [median, median], "speedup_block_ratios": [], "speedup_blocks": 0,
                    "speedup_calls_per_block": 0, "interleave_order": "ABBA", "interleave_settle_calls": 0}
        data.update({name: value for name, value in defaults.items() if data.get(name) is None})
    if data["kind"] == "offline":
        data.update({name: value for name, value in (("padding_waste", 0.0), ("median_tokens", math.nan))
                     if data.get(name) is None})
    if data["kind"] == "server":
        data.update({name: value for name, value in (("points", []), ("settings_tried", 0), ("loads_run", 0),
                                                     ("search_step", math.nan), ("pinning", "not recorded"))
                     if data.get(name) is None})
    return {**data, "format": 2}


STEPS = {1: _to_2}  # format N -> the step to N + 1


def upgrade(data: dict) -> dict:
    """A result's `extra_info` in the current format (a copy); a newer format than this suite reads is refused."""
    version = data.get("format", 1)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise MalformedResult(f"a result's 'format' is {version!r}, not a format number")
    if version > FORMAT:
        raise MalformedResult(f"a result of format {version}, newer than this fastbert-variants reads ({FORMAT}); "
                              "upgrade fastbert-variants to read it")
    while version < FORMAT:
        data, version = STEPS[version](data), version + 1
    return data
