"""Scores: accuracy/precision/recall/F1 from scikit-learn, agreement with FP32, and paired flips."""

from __future__ import annotations

import numpy as np

from . import progress
from .inputs import padded_batches


def predict_logits(runner, tokenizer, texts: list[str], max_length: int, batch_size: int = 32,
                   desc: str = "scoring") -> np.ndarray:
    """Logits for every text, in the texts' order, each text truncated at max_length tokens.

    Texts are batched in order of length, each batch padded to its longest text, so short texts cost
    nothing for a long max_length; the same batches go to every variant, so scores stay paired. A runner
    that compiles a graph per shape asks for lengths rounded up to a multiple (`pad_to_multiple`), and gets
    the last, short batch filled up with copies of its first row (their logits dropped): the same rows, more
    padding, masked out, and a few shapes instead of a hundred.
    """
    if not texts:
        return np.zeros((0, 0), dtype=np.float32)
    lengths = [len(ids) for ids in tokenizer(texts, truncation=True, max_length=max_length)["input_ids"]]
    order = np.argsort(lengths, kind="stable")
    fixed_shapes = getattr(runner, "pad_to_multiple", None)
    batches = padded_batches(tokenizer, [texts[i] for i in order], batch_size, max_length, pad_to_multiple=fixed_shapes)

    def call(batch):
        rows = len(batch["input_ids"])
        if fixed_shapes and rows < batch_size:
            batch = {k: np.concatenate([v, np.repeat(v[:1], batch_size - rows, axis=0)]) for k, v in batch.items()}
        return runner(batch)[:rows]

    chunks = [call(batch) for batch in progress.bar(batches, total=-(-len(texts) // batch_size), desc=desc,
                                                     unit="batch")]
    logits = np.empty((len(texts), chunks[0].shape[1]), dtype=np.float32)
    logits[order] = np.concatenate(chunks)
    return logits


def classification_scores(labels: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, precision_recall_fscore_support

    precision, recall, f1, _ = precision_recall_fscore_support(labels, predicted, average="macro", zero_division=0)
    return {"accuracy": float(accuracy_score(labels, predicted)), "precision_macro": float(precision),
            "recall_macro": float(recall), "f1_macro": float(f1)}


def paired_comparison(labels: np.ndarray, baseline_logits: np.ndarray, variant_logits: np.ndarray) -> dict:
    """How a variant's predictions differ from the baseline's on the same rows.

    McNemar's exact test looks only at the rows where exactly one of the two is right: under
    "no difference" those split 50/50, so the p-value is a two-sided binomial test on them.
    """
    from scipy.stats import binomtest

    base_pred, var_pred = baseline_logits.argmax(-1), variant_logits.argmax(-1)
    base_right, var_right = base_pred == labels, var_pred == labels
    lost = int(np.sum(base_right & ~var_right))  # FP32 right, variant wrong
    gained = int(np.sum(~base_right & var_right))
    diff = np.abs(baseline_logits.astype(np.float64) - variant_logits.astype(np.float64))
    return {
        "agreement": float(np.mean(base_pred == var_pred)),
        "flipped_to_wrong": lost,
        "flipped_to_right": gained,
        "mcnemar_p": float(binomtest(lost, lost + gained, 0.5).pvalue) if lost + gained else 1.0,
        # One-sided: the chance of losing this many or more of the changed rows if the variant were no worse.
        "mcnemar_worse_p": float(binomtest(lost, lost + gained, 0.5, alternative="greater").pvalue) if lost + gained else 1.0,
        "max_abs_logit_diff": float(diff.max()) if diff.size else 0.0,
        "mean_abs_logit_diff": float(diff.mean()) if diff.size else 0.0,
        "flipped_rows": np.flatnonzero(base_pred != var_pred).tolist(),
    }


def disagreement(logits: np.ndarray, fp32_logits: np.ndarray, largest: float, rows: int | None = None) -> str | None:
    """What is wrong with a variant's logits against FP32's on the same batch, or None: the shape, a non-finite
    value, or a difference past `largest` (its recipe's logit tolerance). `rows`: compare only the first rows."""
    logits, fp32_logits = np.asarray(logits)[:rows], np.asarray(fp32_logits)[:rows]
    if logits.shape != fp32_logits.shape:
        return f"logits of shape {logits.shape}, FP32's {fp32_logits.shape}"
    if not np.isfinite(logits).all():
        return f"{int((~np.isfinite(logits)).sum())} non-finite logits"
    diff = float(np.abs(logits - fp32_logits).max()) if logits.size else 0.0
    return None if diff <= largest else f"logits differ from FP32's by {diff:.4f} (allowed {largest})"
