"""Score variants against FP32 on the same rows, with the same batches."""

from __future__ import annotations

from functools import cached_property

import numpy as np

from .errors import UserError
from .metrics import classification_scores, paired_comparison, predict_logits
from .results import Comparison, Evaluation, Scores
from .variants import BASELINE

SAMPLE_SEED = 0


class Scorer:
    """Logits of each (variant, device) on a dataset's scored rows, computed once each.

    The dataset is the run's own unless another is given (the long-text set); texts are scored up
    to max_length tokens, by default the model's maximum (512 for BERT), with dynamic padding.
    """

    def __init__(self, workbench, dataset=None, max_length: int | None = None):
        self.workbench = workbench
        self._dataset = dataset
        self._max_length = max_length
        self._logits: dict[tuple[str, str, int], np.ndarray] = {}

    @cached_property
    def dataset(self):
        return self._dataset or self.workbench.dataset

    @cached_property
    def max_length(self) -> int:
        return min(self._max_length or self.workbench.source.max_positions, self.workbench.source.max_positions)

    @cached_property
    def labels(self) -> np.ndarray:
        labels = self.dataset.labels_for(self.workbench.source.id2label)
        if len(np.unique(labels)) < 2:
            raise UserError(f"dataset {self.dataset.name!r} has a single label in its {len(labels)} scored rows: a "
                            "variant that always predicts it would pass the gate; score a split that has every label")
        return labels

    def rows(self, max_rows: int | None = None) -> np.ndarray:
        """All scored rows, or a fixed uniform sample of max_rows of them (the same sample every run)."""
        count = len(self.labels)
        if not max_rows or max_rows >= count:
            return np.arange(count)
        return np.sort(np.random.default_rng(SAMPLE_SEED).choice(count, max_rows, replace=False))

    def logits(self, name: str, device: str, max_rows: int | None = None) -> np.ndarray:
        """The variant's logits on self.rows(max_rows), in that order."""
        rows = self.rows(max_rows)
        key = (name, device, len(rows))  # rows are a function of their count, so the count names them
        if key not in self._logits:
            runner = self.workbench.runner(name, device)
            texts = self.dataset.texts
            self._logits[key] = predict_logits(runner, self.workbench.source.tokenizer, [texts[i] for i in rows],
                                               self.max_length, desc=f"scoring {name} on {device}, {len(rows)} texts")
            if name != BASELINE:
                self.workbench.release(name, device)  # scores are kept; the model need not be
        return self._logits[key]

    def evaluate(self, name: str, device: str, max_rows: int | None = None) -> Evaluation:
        """Scores of the variant and of FP32 on the same device and rows, and how their predictions differ.

        FP32 is scored on every row once; a variant given max_rows (one too slow to score them all)
        is compared with FP32's logits of the same sampled rows.
        """
        rows = self.rows(max_rows)
        labels = self.labels[rows]
        baseline = self.logits(BASELINE, device)[rows]
        variant = self.logits(name, device, max_rows)
        comparison = paired_comparison(labels, baseline, variant)
        flipped = comparison.pop("flipped_rows")
        fp32 = Scores(**classification_scores(labels, baseline.argmax(-1)))
        most_common = np.bincount(labels).max() / len(labels)
        if fp32.accuracy < most_common:  # a drop from a baseline at chance says nothing about the variant
            raise UserError(
                f"{BASELINE} scores {fp32.accuracy:.4f} on {len(rows)} rows of {self.dataset.name!r}, worse than always "
                f"answering its most common label ({most_common:.4f}): the model's labels and the dataset's do not "
                "match, so no variant can be gated against it; check --label-column and --normalize-labels, or the model")
        return Evaluation(
            variant=name, device=device, rows=int(len(rows)), rows_in_dataset=int(len(self.labels)),
            dataset=self.dataset.name, max_length=self.max_length, unlabelled_dropped=self.dataset.unlabelled_dropped,
            fp32=fp32,
            scores=Scores(**classification_scores(labels, variant.argmax(-1))),
            comparison=Comparison(**comparison),
            flipped_texts=tuple(self.dataset.texts[rows[i]][:300] for i in flipped[:3]),
        )


def baseline_scores(workbench, device: str = "cpu") -> tuple[Scores, int]:
    """FP32's scores on the dataset's scored rows, and how many rows (what `info --score` prints)."""
    scorer = Scorer(workbench)
    return Scores(**classification_scores(scorer.labels, scorer.logits(BASELINE, device).argmax(-1))), len(scorer.labels)
