"""Result formats: every record written carries `format`; one step per older format brings it to this one.

As asv keeps `api_version` and an `update_to_N` per step, the readers (`from_json`) know only the current
format, and what older runs lack is filled here, in one place, instead of in each reader: a timed record
(`upgrade`), an accuracy record (`upgrade_accuracy`) and a whole run's JSON (`upgrade_run`).
"""

from __future__ import annotations

import math

from ..errors import shown
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
    version = _check(data.get("format", 1), "a result")
    while version < FORMAT:
        data, version = STEPS[version](data), version + 1
    return data


def _check(version, what: str) -> int:
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise MalformedResult(f"{what}'s 'format' is {shown(version)}, not a format number")
    if version > FORMAT:
        raise MalformedResult(f"{what} of format {version}, newer than this fastbert-variants reads ({FORMAT}); "
                              "upgrade fastbert-variants to read it")
    return version


def upgrade_accuracy(data: dict, key: str) -> dict:
    """An accuracy record in the current format. Format 1 records (before 5 December 2026) wrote no format; the
    oldest of them named their variant, device and text set only in their key (`cpu/ort-fp32/long-texts`)."""
    if _check(data.get("format", 1), f"the accuracy record {key!r}") < 2:
        device, _, rest = key.partition("/")
        variant, _, text_set = rest.partition("/")
        named = {"variant": variant, "device": device, "text_set": text_set or "dataset"}
        data = {**{k: v for k, v in named.items() if data.get(k) is None}, **{k: v for k, v in data.items()
                                                                             if v is not None}, "format": 2}
    return data


# Older runs' kinds that no record reads any more: the fixed-texts padding benchmark and the closed-loop serving
# test, both replaced by the offline and server scenarios (their figures could not be compared as ratios).
RETIRED_KINDS = ("batching", "serving")


def upgrade_run(data: dict) -> dict:
    """A pytest-benchmark JSON as the current readers expect it: runs written before machine_info held the suite's
    machine facts kept them in every result (moved up here); entries of retired kinds are left out."""
    benchmarks = data.get("benchmarks")
    if not isinstance(benchmarks, list):
        return data
    kept = [e for e in benchmarks if not (isinstance(e, dict) and isinstance(e.get("extra_info"), dict)
                                          and e["extra_info"].get("kind") in RETIRED_KINDS)]
    machine = data.get("machine_info") if isinstance(data.get("machine_info"), dict) else {}
    if not machine.get("fastbert_variants"):
        for entry in kept:
            info = (entry.get("extra_info") or {}) if isinstance(entry, dict) else {}
            if isinstance(info, dict) and (info.get("cpu") or info.get("cpu_isa")):
                machine = {**machine, "fastbert_variants": {k: info.get(k) for k in ("cpu", "cpu_isa", "gpu", "versions")
                                                            if k in info}}
                break
    return {**data, "benchmarks": kept, "machine_info": machine}
