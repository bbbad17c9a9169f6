"""Labelled texts, however loaded: their labels mapped onto a model's, and a stable hash bucket for splitting them."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

import numpy as np

from .errors import UserError, shown

# A text is clipped to this many characters when loaded: a model reads at most 512 tokens, which no tokenizer makes
# from under ~2,000 characters of text that has spaces, so this changes no token it reads; a 200 MB text would
# otherwise be tokenized whole (it took 11.6 GiB).
MAX_TEXT_CHARS = 100_000


@dataclass
class LabelledTexts:
    """Texts with their raw labels (names or integers), plus texts for calibration only."""

    name: str
    texts: list[str]
    raw_labels: list
    calibration_texts: list[str] = field(default_factory=list)
    unlabelled_dropped: int = 0  # rows without a label that --drop-unlabelled left out

    def __post_init__(self):
        self.texts = [t[:MAX_TEXT_CHARS] for t in self.texts]
        self.calibration_texts = [t[:MAX_TEXT_CHARS] for t in self.calibration_texts]

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


def map_labels(raw_labels: list, id2label: dict[int, str], dataset_name: str) -> np.ndarray:
    model_names = {str(name).lower(): int(i) for i, name in id2label.items()}
    if all(_is_integer(v) for v in raw_labels):
        values = [int(v) for v in raw_labels]
        unknown = sorted(set(values) - set(int(i) for i in id2label))  # checked before numpy: 2**63 overflows it
        ids = None if unknown else np.asarray(values, dtype=np.int64)
    else:
        ids = np.asarray([model_names.get(str(v).lower(), -1) for v in raw_labels], dtype=np.int64)
        unknown = sorted({str(v) for v in raw_labels if str(v).lower() not in model_names})
    if unknown:
        dataset_labels = _listed(sorted({v if isinstance(v, str) else shown(v) for v in raw_labels})[:10])
        raise UserError(
            f"labels of dataset {dataset_name!r} {dataset_labels} do not match the model's labels "
            f"{dict(sorted(id2label.items()))} (unmatched: {_listed(unknown[:5])}); use a dataset "
            "labelled like the model, or --normalize-labels for labels such as '0_negative'"
        )
    return ids



def _is_integer(value) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return False
    if isinstance(value, (int, np.integer)):
        return True
    return isinstance(value, str) and re.fullmatch(r"-?\d{1,18}", value.strip()) is not None  # longer: a name


def _listed(values: list) -> str:
    return f"[{', '.join(shown(v, 40) for v in values)}]"
