"""Labelled texts from what --dataset names: the default tweets, a hub dataset, or a local CSV/JSONL/Parquet file."""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import UserError, shown
from .texts import MAX_TEXT_CHARS, LabelledTexts, map_labels, text_bucket
from .tweets import LONG_TEXT_TOKENS, load_tweets, long_tweets

__all__ = ["LONG_TEXT_TOKENS", "DatasetSpec", "LabelledTexts", "load_labelled_texts", "load_tweets", "long_tweets",
           "map_labels", "text_bucket"]

log = logging.getLogger(__name__)

LOCAL_SUFFIXES = {".csv": "csv", ".tsv": "tsv", ".jsonl": "json", ".json": "json", ".parquet": "parquet"}
# Local files have no training part: 1 row in 10 (at most 256) goes to calibration and is never scored.
CALIBRATION_BUCKETS = 10
MAX_CALIBRATION_ROWS = 256


@dataclass(frozen=True)
class DatasetSpec:
    """What the user asked for with --dataset and its companion options."""

    name: str = "default"
    config: str | None = None
    split: str | None = None
    text_column: str = "text"
    label_column: str = "label"
    calibration_split: str = "train"
    normalize_labels: bool = False
    max_samples: int | None = None
    drop_unlabelled: bool = False  # score only the labelled rows (the accuracy table says how many were dropped)
    revision: str | None = None  # a hub dataset's branch, tag or commit

    def __post_init__(self):
        if self.max_samples is not None and self.max_samples < 1:
            raise UserError(f"--max-samples must be at least 1, got {self.max_samples}")


def load_labelled_texts(spec: DatasetSpec) -> LabelledTexts:
    """Load what the spec names; every problem becomes a one-line UserError."""
    if spec.name == "default":
        data = load_tweets("held-out")
        data.calibration_texts = load_tweets("train").texts[:MAX_CALIBRATION_ROWS]
    elif _is_local(spec):
        data = _load_local_file(spec)
    else:
        data = _load_hub_dataset(spec)
    _refuse_or_drop_unlabelled(data, spec)
    if spec.normalize_labels:
        data.raw_labels = [normalize_label(v) for v in data.raw_labels]
    if spec.max_samples is not None:
        data.texts, data.raw_labels = data.texts[: spec.max_samples], data.raw_labels[: spec.max_samples]
    if not data.texts:
        raise UserError(f"dataset {spec.name!r} has no rows to score; check --dataset-split and --max-samples")
    return data


def _is_local(spec: DatasetSpec) -> bool:
    return Path(spec.name).suffix.lower() in LOCAL_SUFFIXES or Path(spec.name).exists()


def is_unlabelled(value) -> bool:
    """No label: None (a hub ClassLabel's -1, as every GLUE test split has, is read as None), NaN, an empty cell."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return True
    return isinstance(value, str) and not value.strip()


def _refuse_or_drop_unlabelled(data: LabelledTexts, spec: DatasetSpec) -> None:
    """Unlabelled rows would be scored as if labelled (-1 is the last class name); refuse them or drop them."""
    missing = [is_unlabelled(v) for v in data.raw_labels]
    count = sum(missing)
    if count and not spec.drop_unlabelled:
        where = f"dataset file {data.name}" if _is_local(spec) else \
            f"split {spec.split or 'test'!r} of dataset {spec.name!r}"
        raise UserError(f"{where} has {count} of {len(missing)} rows without a label (-1, None or an empty cell); "
                        "score a labelled split (--dataset-split validation) or pass --drop-unlabelled to score only "
                        "the labelled rows")
    if count:
        kept = [i for i, m in enumerate(missing) if not m]
        data.texts, data.raw_labels = [data.texts[i] for i in kept], [data.raw_labels[i] for i in kept]
        data.unlabelled_dropped = count
        log.warning("dropped %d unlabelled rows of %s (--drop-unlabelled)", count, data.name)
    # A column with an empty cell is read as floats (1.0, 0.0); once those rows are gone, integers again.
    if data.raw_labels and all(isinstance(v, float) and float(v).is_integer() for v in data.raw_labels):
        data.raw_labels = [int(v) for v in data.raw_labels]


def normalize_label(value) -> int:
    """Take a label's numeric prefix, as fast-bert's label files write them: '0_not_relevant' -> 0."""
    match = re.match(r"\s*(-?\d+)", str(value))
    if not match:
        raise UserError(f"--normalize-labels: label {value!r} has no numeric prefix; drop the option for named labels")
    return int(match.group(1))


# A local file's header is read before pandas parses the file: a first line longer than this is not column names
# (a 200 MB one-line CSV took pandas past 24 GB), and no more than a few names are echoed in an error.
MAX_HEADER_BYTES = 1 << 20
SHOWN_COLUMNS = 12


def _columns(spec: DatasetSpec, available: list[str], source: str) -> None:
    for option, column in (("--text-column", spec.text_column), ("--label-column", spec.label_column)):
        if column not in available:
            raise UserError(f"{source} has no column {shown(column, 40)} (it has {_listed(available)}); set {option}")


def _listed(names: list[str]) -> str:
    first = ", ".join(shown(n, 40) for n in names[:SHOWN_COLUMNS])
    return f"[{first}]" if len(names) <= SHOWN_COLUMNS else f"{len(names)} columns: [{first}, ...]"


def _csv_header(path: Path, sep: str) -> list[str]:
    """The column names of a CSV/TSV file, read with a bounded line (its first line over 1 MiB is refused)."""
    import csv

    with path.open(encoding="utf-8", errors="replace", newline="") as handle:
        first = handle.readline(MAX_HEADER_BYTES)
    if len(first) >= MAX_HEADER_BYTES and not first.endswith("\n"):
        raise UserError(f"dataset file {path}: its first line is over {MAX_HEADER_BYTES >> 20} MiB, not a header of "
                        "column names; give a CSV whose first line names the columns (text,label)")
    return next(csv.reader([first], delimiter=sep), [])


def _jsonl_rows(path: Path) -> list[dict]:
    """One JSON object per non-empty line (JSON Lines); a line that is not one is named."""
    rows = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if line.strip():
                row = json.loads(line)
                if not isinstance(row, dict):
                    raise ValueError(f"line {number} is {type(row).__name__}, not a JSON object with the columns")
                rows.append({k: v[:MAX_TEXT_CHARS] if isinstance(v, str) else v for k, v in row.items()})
    return rows


def _load_local_file(spec: DatasetSpec) -> LabelledTexts:
    import pandas as pd

    path = Path(spec.name)
    if not path.is_file():
        raise UserError(f"dataset file {path} does not exist; give a CSV, TSV, JSONL or Parquet file, or a hub name")
    kind = LOCAL_SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise UserError(f"dataset file {path} is not .csv, .tsv, .jsonl or .parquet; convert it or rename it")
    try:
        if kind == "parquet":
            frame = pd.read_parquet(path)
        elif path.suffix.lower() == ".jsonl":
            frame = pd.DataFrame.from_records(_jsonl_rows(path))
        elif kind == "json":
            frame = pd.read_json(path)
        else:  # the header first, then only the two columns: memory for what is scored, not for the whole file
            sep = "\t" if kind == "tsv" else ","
            _columns(spec, _csv_header(path, sep), f"dataset file {path}")
            frame = pd.read_csv(path, sep=sep, usecols=[spec.text_column, spec.label_column])
    except (ValueError, TypeError, pd.errors.ParserError, OSError) as exc:  # TypeError: pandas on mixed JSON
        first_line = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise UserError(f"cannot read dataset file {path}: {first_line[:300]}") from None
    _columns(spec, [str(c) for c in frame.columns], f"dataset file {path}")
    frame = frame.dropna(subset=[spec.text_column])  # rows without a label are refused or dropped by the caller
    texts = frame[spec.text_column].astype(str).tolist()
    labels = frame[spec.label_column].tolist()
    calibrate = [text_bucket(t, CALIBRATION_BUCKETS, "calibration") == 0 for t in texts]
    return LabelledTexts(
        str(path),
        [t for t, c in zip(texts, calibrate, strict=True) if not c],
        [label for label, c in zip(labels, calibrate, strict=True) if not c],
        [t for t, c in zip(texts, calibrate, strict=True) if c][:MAX_CALIBRATION_ROWS],
    )


def _load_hub_dataset(spec: DatasetSpec) -> LabelledTexts:
    import datasets

    split = spec.split or "test"
    if split == spec.calibration_split:
        raise UserError(
            f"--dataset-split and --calibration-split are both {split!r}: calibration rows must not be scored; "
            "choose another split for one of them"
        )
    try:
        scored = datasets.load_dataset(spec.name, spec.config, split=split, revision=spec.revision)
    except Exception as exc:  # datasets raises many types; all mean "cannot get it"
        raise UserError(_hub_dataset_message(spec, exc)) from None
    _columns(spec, list(scored.column_names), f"dataset {spec.name!r}")
    labels = scored[spec.label_column]
    feature = scored.features.get(spec.label_column)
    if getattr(feature, "names", None):  # ClassLabel: keep the names so they map by name; -1 is "no label"
        labels = [None if i is None or i < 0 else feature.names[i] for i in labels]
    try:
        calibration = datasets.load_dataset(spec.name, spec.config, split=f"{spec.calibration_split}[:{MAX_CALIBRATION_ROWS}]",
                                            revision=spec.revision)
        calibration_texts = [str(t) for t in calibration[spec.text_column]]
    except Exception as exc:
        log.warning("no calibration split %r for %s (%s): static quantization will skip", spec.calibration_split, spec.name, exc)
        calibration_texts = []
    name = f"{spec.name}@{spec.revision}" if spec.revision else spec.name  # the results record what was scored
    return LabelledTexts(name, [str(t) for t in scored[spec.text_column]], list(labels), calibration_texts)


def _hub_dataset_message(spec: DatasetSpec, exc: Exception) -> str:
    first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
    return (
        f"cannot load dataset {spec.name!r} (config {spec.config!r}, split {spec.split or 'test'!r}) from the "
        f"Hugging Face hub: {first_line}. Offline? Export it to a local CSV/JSONL/Parquet file and pass its path "
        "to --dataset; a wrong name? check it, and --dataset-config / --dataset-split"
    )
