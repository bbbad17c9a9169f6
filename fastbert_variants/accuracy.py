"""Score variants against FP32 on the same rows, with the same batches."""

from __future__ import annotations

from functools import cached_property

import numpy as np

from .metrics import classification_scores, paired_comparison, predict_logits
from .variants import BASELINE


class Scorer:
    """Logits of each (variant, device) on the dataset's scored rows, computed once each."""

    def __init__(self, workbench):
        self.workbench = workbench
        self._logits: dict[tuple[str, str], np.ndarray] = {}

    @cached_property
    def labels(self) -> np.ndarray:
        return self.workbench.dataset.labels_for(self.workbench.source.id2label)

    def logits(self, name: str, device: str) -> np.ndarray:
        if (name, device) not in self._logits:
            runner = self.workbench.runner(name, device)
            self._logits[name, device] = predict_logits(runner, self.workbench.source.tokenizer,
                                                        self.workbench.dataset.texts)
            if name != BASELINE:
                self.workbench.release(name, device)  # scores are kept; the model need not be
        return self._logits[name, device]

    def evaluate(self, name: str, device: str) -> dict:
        """Scores of the variant and of FP32 on the same device, and how their predictions differ."""
        baseline = self.logits(BASELINE, device)
        variant = self.logits(name, device)
        comparison = paired_comparison(self.labels, baseline, variant)
        flipped = comparison.pop("flipped_rows")
        return {
            "variant": name, "device": device, "rows": int(len(self.labels)),
            "fp32": classification_scores(self.labels, baseline.argmax(-1)),
            "scores": classification_scores(self.labels, variant.argmax(-1)),
            "comparison": comparison,
            "flipped_texts": [self.workbench.dataset.texts[i] for i in flipped[:3]],
        }
