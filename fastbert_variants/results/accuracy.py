"""What the accuracy gate judged: one variant's scores against FP32's on the same rows, and the verdict."""

from __future__ import annotations

from dataclasses import MISSING, dataclass, fields
from typing import ClassVar

from ..errors import shown
from .fields import MalformedResult, count, finite, flag, text
from .upgrade import FORMAT, upgrade_accuracy

KIND = "accuracy"
TEXT_SETS = ("dataset", "long-texts")  # what a record was scored on: the dataset's rows, or the long-text set
NOT_OURS = "it was not written by this suite (write one with `pytest accuracy --fastbert-accuracy-json PATH`)"


_CASTS = {"float": finite, "float | None": finite, "int": count, "int | None": count, "bool": flag,
          "str": text, "str | None": text}


def _read(cls, data, key: str, part: str = "", defaults: dict | None = None):
    """A record of flat fields from `data` (the record, or its `part` such as "scores"), each cast by its
    annotation; a field without a default must be there. Errors name the record's key and the field."""
    prefix = f"{part}." if part else ""
    if data is None:
        raise MalformedResult(f"the accuracy record {key} has no {part}; {NOT_OURS}")
    if not isinstance(data, dict):
        raise MalformedResult(f"the accuracy record {key} has {part or 'a record'} = {type(data).__name__}, not a "
                              f"JSON object; {NOT_OURS}")
    found = {}
    for f in fields(cls):
        value = data.get(f.name)
        if value is None:
            if f.default is MISSING and f.default_factory is MISSING and f.name not in (defaults or {}):
                raise MalformedResult(f"the accuracy record {key} has no {prefix}{f.name}; {NOT_OURS}")
            continue
        try:
            found[f.name] = _CASTS[f.type](value)
        except (TypeError, ValueError, OverflowError):
            raise MalformedResult(f"the accuracy record {key} has {prefix}{f.name} = {shown(value)}, not a "
                                  f"{_CASTS[f.type].what}") from None
    return cls(**{**(defaults or {}), **found})


def _flat(record) -> dict:
    return {f.name: getattr(record, f.name) for f in fields(record)}


@dataclass(frozen=True)
class Scores:
    """sklearn's accuracy and macro precision, recall and F1 on the scored rows."""

    accuracy: float
    precision_macro: float | None = None
    recall_macro: float | None = None
    f1_macro: float | None = None


@dataclass(frozen=True)
class Comparison:
    """How the variant's predictions differ from FP32's on the same rows (metrics.paired_comparison)."""

    flipped_to_wrong: int
    flipped_to_right: int
    mcnemar_p: float  # exact, two-sided
    mcnemar_worse_p: float | None = None  # one-sided: FP32 right and the variant wrong, against the reverse
    agreement: float | None = None
    max_abs_logit_diff: float | None = None
    mean_abs_logit_diff: float | None = None


@dataclass(frozen=True)
class Gate:
    """Largest allowed drop of a variant's accuracy from FP32's, in points and in percent of FP32's.

    With `significance`, for a set too small for the thresholds alone (121 long texts: one flip is
    0.83 points), a drop past them fails only if the flips are unlikely to be chance: the one-sided
    exact McNemar p (FP32 right and the variant wrong, against the reverse) is below `significance`.
    """

    max_points: float = 1.0
    max_relative_percent: float = 1.0
    significance: float | None = None

    def check(self, fp32_accuracy: float, variant_accuracy: float, comparison: Comparison | None = None
              ) -> tuple[bool, float, float]:
        """(within the gate, drop in points, drop in percent of FP32)."""
        drop_points = 100.0 * (fp32_accuracy - variant_accuracy)
        drop_relative = 100.0 * (fp32_accuracy - variant_accuracy) / fp32_accuracy if fp32_accuracy else 0.0
        within = drop_points <= self.max_points and drop_relative <= self.max_relative_percent
        if not within and self.significance is not None:
            if comparison is None or comparison.mcnemar_worse_p is None:
                raise ValueError("a gate with a significance level needs the paired comparison's one-sided p")
            within = comparison.mcnemar_worse_p >= self.significance
        return within, drop_points, drop_relative

    def judge(self, evaluation: Evaluation, advisory_gate: bool = False, model: str | None = None,
              text_set: str = "dataset") -> AccuracyResult:
        """The gate's verdict on an evaluation, as the record the run keeps."""
        passed, points, relative = self.check(evaluation.fp32.accuracy, evaluation.scores.accuracy,
                                              evaluation.comparison)
        return AccuracyResult(**_flat(evaluation), gate=self, drop_points=points, drop_relative_percent=relative,
                              passed=passed, advisory_gate=advisory_gate, model=model, text_set=text_set)

    def describe(self) -> str:
        return (f"{self.max_points:g} pts / {self.max_relative_percent:g}%"
                + (f", and McNemar one-sided p < {self.significance:g}" if self.significance is not None else ""))

    def text(self) -> str:
        """The short form, for a table cell."""
        return (f"{self.max_points:g} pts / {self.max_relative_percent:g}%"
                + (f", p<{self.significance:g}" if self.significance is not None else ""))


@dataclass(frozen=True, kw_only=True)
class Evaluation:
    """A variant's scores against FP32's on the same rows (accuracy.Scorer.evaluate), before a gate judges them."""

    variant: str
    device: str
    fp32: Scores
    scores: Scores
    comparison: Comparison
    rows: int | None = None
    rows_in_dataset: int | None = None
    dataset: str | None = None
    max_length: int | None = None
    unlabelled_dropped: int | None = None
    flipped_texts: tuple[str, ...] = ()

    @property
    def sampled(self) -> bool:
        """Scored on a sample of the rows (--slow-variant-rows), not all of them."""
        return self.rows is not None and self.rows_in_dataset is not None and self.rows < self.rows_in_dataset


@dataclass(frozen=True, kw_only=True)
class AccuracyResult(Evaluation):
    """One variant gated on one device and one set of texts (the dataset's, or the long texts)."""

    KIND: ClassVar[str] = KIND

    gate: Gate
    drop_points: float
    drop_relative_percent: float
    passed: bool
    advisory_gate: bool = False
    model: str | None = None
    text_set: str = "dataset"  # one of TEXT_SETS

    @property
    def key(self) -> str:
        """The record's key in --accuracy-json and in a Run: `device/variant`, `/long-texts` added on that set."""
        return accuracy_key(self.device, self.variant, self.text_set)

    @property
    def verdict(self) -> str:
        return "pass" if self.passed else "FAIL (advisory)" if self.advisory_gate else "FAIL"

    def failure_message(self) -> str:
        """A few lines on a failed gate: both scores, the flips and a few of the flipped texts."""
        c = self.comparison
        sampled = f" (a sample of {self.rows} of {self.rows_in_dataset} rows: --fastbert-slow-variant-rows)" if self.sampled else ""
        lines = [
            f"{self.variant} on {self.device} lost too much accuracy: drop {self.drop_points:.2f} points "
            f"({self.drop_relative_percent:.2f}% of FP32) > allowed {self.gate.describe()} on {self.rows} rows{sampled} "
            f"of {self.dataset or 'the dataset'} (up to {self.max_length or '?'} tokens)",
            "  metric      fp32     variant",
            *(f"  {k:<11} {getattr(self.fp32, k) or 0:.4f}   {getattr(self.scores, k) or 0:.4f}"
              for k in ("accuracy", "precision_macro", "recall_macro", "f1_macro")),
            f"  flips: {c.flipped_to_wrong} right->wrong, {c.flipped_to_right} wrong->right; exact McNemar "
            f"p={c.mcnemar_p:.3g}; agreement {c.agreement or 0:.4f}; max |logit diff| {c.max_abs_logit_diff or 0:.3f}",
            *(f"  flipped: {text[:100]!r}" for text in self.flipped_texts[:3]),
        ]
        return "\n".join(lines)

    def to_json(self) -> dict:
        """The dict every run has written under the record's key in --accuracy-json, with its format."""
        flat = {"format": FORMAT, **_flat(self)}
        for name in ("fp32", "scores", "comparison", "gate"):
            flat[name] = _flat(flat[name])
        flat["flipped_texts"] = list(self.flipped_texts)
        return flat

    @classmethod
    def from_json(cls, data, key: str = "") -> AccuracyResult:
        """Any record this suite has written, read from under its key and brought to the current format first."""
        where = repr(key)
        if not isinstance(data, dict):
            raise MalformedResult(f"the accuracy record {where} is {type(data).__name__}, not a JSON object")
        data = upgrade_accuracy(data, key)
        parts = {name: _read(part, data.get(name), where, name)
                 for name, part in (("fp32", Scores), ("scores", Scores), ("comparison", Comparison), ("gate", Gate))}
        for name in ("fp32", "scores"):  # shares of the rows: a 5.0 would print as 5.0000 and gate as a gain
            for metric, value in _flat(parts[name]).items():
                if value is not None and not 0 <= value <= 1:
                    raise MalformedResult(f"the accuracy record {where} has {name}.{metric} = {shown(value)}, not a share "
                                          "from 0 to 1")
        if parts["gate"].significance is not None and parts["comparison"].mcnemar_worse_p is None:
            raise MalformedResult(f"the accuracy record {where} is gated on significance but has no "
                                  "comparison.mcnemar_worse_p")
        flipped = data.get("flipped_texts") or []
        if not isinstance(flipped, list) or not all(isinstance(t, str) for t in flipped):
            raise MalformedResult(f"the accuracy record {where} has flipped_texts that are not a list of strings")
        flat = {k: v for k, v in data.items() if k not in parts and k not in ("flipped_texts", "format")}
        record = _read(cls, flat, where, defaults={**parts, "flipped_texts": tuple(flipped)})
        if record.text_set not in TEXT_SETS:
            raise MalformedResult(f"the accuracy record {where} has text_set {shown(record.text_set)}, not one of "
                                  f"{', '.join(TEXT_SETS)}")
        return record


def accuracy_key(device: str, variant: str, text_set: str = "dataset") -> str:
    """The one place a record's key is written: `device/variant`, or `device/variant/long-texts`."""
    return f"{device}/{variant}" + (f"/{text_set}" if text_set != "dataset" else "")


def read_accuracy(data: dict, where: str = "the accuracy JSON") -> dict[str, AccuracyResult]:
    """Every record of what --accuracy-json wrote, by key."""
    if not isinstance(data, dict):
        raise MalformedResult(f"{where} is {type(data).__name__}, not a JSON object of records")
    return {key: AccuracyResult.from_json(record, key) for key, record in data.items()}
