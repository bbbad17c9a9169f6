"""Reading a record's fields back from a run's JSON: one-line errors naming the field, never a silent default."""

from __future__ import annotations

import math
from dataclasses import fields
from typing import Any

from ..errors import UserError, shown


class MalformedResult(UserError):
    """A result in a run's JSON lacks a field the suite cannot do without, or holds the wrong type."""


def positive(value) -> float:
    """A time or a ratio: finite and above 0 (a NaN speedup would compare as "unchanged", a 0 as infinitely slow)."""
    number = float(value)
    if not math.isfinite(number) or number <= 0:
        raise ValueError(number)
    return number


positive.what = "positive finite number"


def non_negative(value) -> float:
    """A rate or a wait that may be 0 (no rate held; no batching wait), never negative, infinite or NaN."""
    number = finite(value)
    if not math.isfinite(number) or number < 0:
        raise ValueError(number)
    return number


non_negative.what = "finite number of at least 0"


def finite(value) -> float:
    """A score, a p-value or a drop: finite (a NaN accuracy would pass every gate); bools are not numbers here."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(value)
    number = float(value)  # OverflowError for an integer past a float's range: as infinite
    if not math.isfinite(number):
        raise ValueError(value)
    return number


def _of_type(kind: type, what: str):
    def cast(value):
        if isinstance(value, bool) is not (kind is bool) or not isinstance(value, kind):
            raise TypeError(value)
        return value

    cast.what = what
    return cast


text, mapping, count, flag = (_of_type(str, "string"), _of_type(dict, "JSON object"), _of_type(int, "whole number"),
                              _of_type(bool, "true or false"))
finite.what = "finite number"
# A record's optional fields, cast by their annotation (as written under `from __future__ import annotations`).
CASTS = {"int | None": int, "float | None": float, "str | None": text, "dict": mapping}


def optional_fields(cls, data: dict, kind: str) -> dict:
    """Every optional field of record `cls` that `data` holds, type-checked: a run's JSON may lack them (older runs),
    but one that holds a list where a number belongs is refused in one line, not rendered into a crash."""
    found = {}
    for f in fields(cls):
        cast = CASTS.get(f.type)
        if cast is not None and data.get(f.name) is not None:
            found[f.name] = take(data, f.name, kind, cast)
    return found


def take(data: dict, name: str, kind: str, cast=None, default: Any = ..., where: str = "result"):
    """data[name], cast; a one-line error naming the field when it is missing (and has no default) or mistyped."""
    if name not in data or data[name] is None:
        if default is ...:
            raise MalformedResult(f"a {kind} {where} has no {name!r}; it was not written by this suite "
                                  "(rerun the benchmarks to write it again)")
        return default
    value = data[name]
    if cast is None:
        return value
    try:
        return cast(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: int(inf)
        raise MalformedResult(f"a {kind} {where}'s {name!r} is {shown(value)}, not a "
                              f"{getattr(cast, 'what', cast.__name__)}") from None

