"""Reading a record's fields back from a run's JSON: one-line errors naming the field, never a silent default."""

from __future__ import annotations

import math
from dataclasses import fields
from typing import Any

from ..errors import UserError


class MalformedResult(UserError):
    """A result in a run's JSON lacks a field the suite cannot do without, or holds the wrong type."""


def positive(value) -> float:
    """A time or a ratio: finite and above 0 (a NaN speedup would compare as "unchanged", a 0 as infinitely slow)."""
    number = float(value)
    if not math.isfinite(number) or number <= 0:
        raise ValueError(number)
    return number


positive.what = "positive finite number"


def text(value) -> str:
    if not isinstance(value, str):
        raise TypeError(value)
    return value


def mapping(value) -> dict:
    if not isinstance(value, dict):
        raise TypeError(value)
    return value


text.what, mapping.what = "string", "JSON object"
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
    except (TypeError, ValueError):
        raise MalformedResult(f"a {kind} {where}'s {name!r} is {value!r}, not a "
                              f"{getattr(cast, 'what', cast.__name__)}") from None
