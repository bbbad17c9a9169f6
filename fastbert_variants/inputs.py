"""Token batches: exactly L real tokens for timing, dynamic padding for scoring."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from .errors import UserError

TokenBatch = dict[str, np.ndarray]  # input_ids, attention_mask (and token_type_ids): int64 [batch, seq_len]


def exact_length_batch(tokenizer, texts: list[str], seq_len: int, batch_size: int, max_positions: int) -> TokenBatch:
    """`batch_size` rows of exactly `seq_len` tokens of real text, no padding, mask all ones.

    Each row joins consecutive texts, starting at a different one, until it is long enough and
    is then truncated by the tokenizer itself, so special tokens are the model's own and every
    row is real language even when single texts are short.
    """
    if seq_len > max_positions:
        raise UserError(f"sequence length {seq_len} is past the model's maximum of {max_positions} positions")
    if seq_len < 3:
        raise UserError(f"sequence length {seq_len} leaves no room for text between the special tokens; use 3 or more")
    if not texts:
        raise UserError("the dataset has no texts to build token batches from")
    rows = []
    for row in range(batch_size):
        pieces, words, index = [], 0, row * 7
        while words < 2 * seq_len:  # a word is at least one token, so 2x words is surely long enough
            text = texts[index % len(texts)]
            pieces.append(text)
            words += len(text.split()) + 1
            index += 1
        encoded = tokenizer(" ".join(pieces), truncation=True, max_length=seq_len)["input_ids"]
        if len(encoded) != seq_len:
            raise UserError(f"cannot make {seq_len} tokens from the dataset's texts (got {len(encoded)})")
        rows.append(encoded)
    input_ids = np.asarray(rows, dtype=np.int64)
    return {"input_ids": input_ids, "attention_mask": np.ones_like(input_ids),
            "token_type_ids": np.zeros_like(input_ids)}


def padded_batches(tokenizer, texts: list[str], batch_size: int, max_length: int,
                   padding: str | bool = "longest", pad_to_multiple: int | None = None) -> Iterator[TokenBatch]:
    """Batches in order, each padded to its longest text (or `padding="max_length"`), truncated to max_length.

    `pad_to_multiple`: each batch's longest text rounded up to a multiple of that many tokens (at most
    max_length), for a variant that compiles a graph per shape: a few lengths instead of every one.
    """
    for start in range(0, len(texts), batch_size):
        chunk, length = texts[start : start + batch_size], max_length
        if pad_to_multiple and padding == "longest":
            longest = max(len(ids) for ids in tokenizer(chunk, truncation=True, max_length=max_length)["input_ids"])
            length, padding_here = min(max_length, -(-longest // pad_to_multiple) * pad_to_multiple), "max_length"
        else:
            padding_here = padding
        encoded = tokenizer(chunk, padding=padding_here, truncation=True,
                            max_length=length, return_tensors="np", return_token_type_ids=True)
        yield {k: encoded[k].astype(np.int64) for k in ("input_ids", "attention_mask", "token_type_ids")}


def _pad_to_max(tokenizer, texts, batch_size, max_length):
    return padded_batches(tokenizer, texts, batch_size, max_length, padding="max_length")


def _dynamic(tokenizer, texts, batch_size, max_length):
    return padded_batches(tokenizer, texts, batch_size, max_length)


def _length_buckets(tokenizer, texts, batch_size, max_length):
    lengths = [len(ids) for ids in tokenizer(texts, truncation=True, max_length=max_length)["input_ids"]]
    ordered = [texts[i] for i in np.argsort(lengths, kind="stable")]
    return padded_batches(tokenizer, ordered, batch_size, max_length)


# How a stream of variable-length texts becomes batches; the first is the baseline the others beat.
PADDING_STRATEGIES = {"pad-to-max": _pad_to_max, "dynamic": _dynamic, "length-buckets": _length_buckets}


def strategy_batches(strategy: str, tokenizer, texts: list[str], batch_size: int, max_length: int) -> list[TokenBatch]:
    """Every text in batches made by the strategy: pad-to-max (each batch to max_length), dynamic (each batch to
    its longest text, in arrival order) or length-buckets (sorted by length first, then dynamic)."""
    if strategy not in PADDING_STRATEGIES:
        raise UserError(f"unknown padding strategy {strategy!r}; use one of {', '.join(PADDING_STRATEGIES)}")
    return list(PADDING_STRATEGIES[strategy](tokenizer, texts, batch_size, max_length))


def padding_waste(batches: list[TokenBatch]) -> float:
    """Fraction of the token positions computed that are padding."""
    total = sum(b["attention_mask"].size for b in batches)
    return 1.0 - sum(int(b["attention_mask"].sum()) for b in batches) / total if total else 0.0


def traffic_batches(strategy: str, tokenizer, texts: list[str], batch_size: int, max_length: int,
                    pad_to_multiple: int | None = None) -> list[TokenBatch]:
    """The offline scenario's batches: dynamic padding in arrival order, or length buckets (sorted first).

    A runner that compiles a graph per shape (`pad_to_multiple`) gets each batch's length rounded up and the
    last batch filled to `batch_size` rows, as scoring gives it: a few shapes, the same texts.
    """
    if strategy == "length-buckets":
        lengths = [len(ids) for ids in tokenizer(texts, truncation=True, max_length=max_length)["input_ids"]]
        texts = [texts[i] for i in np.argsort(lengths, kind="stable")]
    elif strategy != "dynamic":
        raise UserError(f"unknown offline strategy {strategy!r}; use dynamic or length-buckets")
    batches = list(padded_batches(tokenizer, texts, batch_size, max_length, pad_to_multiple=pad_to_multiple))
    rows = len(batches[-1]["input_ids"]) if batches else batch_size
    if pad_to_multiple and rows < batch_size:
        batches[-1] = {k: np.concatenate([v, np.repeat(v[:1], batch_size - rows, axis=0)]) for k, v in batches[-1].items()}
    return batches


@dataclass(frozen=True)
class Traffic:
    """A stream of texts as batches for the offline scenario, and what describes it."""

    batches: list[TokenBatch]
    texts: int
    median_tokens: float

    @property
    def padding_waste(self) -> float:
        return padding_waste(self.batches)

    def rows_of(self, index: int) -> int:
        """Rows of batch `index` that are texts (the rest fill a last batch to a fixed shape)."""
        batch_size = len(self.batches[0]["input_ids"])
        return min(batch_size, self.texts - index * batch_size)

    def chunks(self, count: int) -> list[list[int]]:
        """Batch indices in `count` runs of consecutive batches (fewer when there are fewer batches)."""
        count = max(1, min(count, len(self.batches)))
        bounds = np.linspace(0, len(self.batches), count + 1).round().astype(int)
        return [list(range(bounds[i], bounds[i + 1])) for i in range(count)]


def make_traffic(strategy: str, tokenizer, texts: list[str], batch_size: int, max_length: int,
                 pad_to_multiple: int | None = None) -> Traffic:
    lengths = [len(ids) for ids in tokenizer(texts, truncation=True, max_length=max_length)["input_ids"]]
    return Traffic(traffic_batches(strategy, tokenizer, texts, batch_size, max_length, pad_to_multiple), len(texts),
                   float(np.median(lengths)) if lengths else float("nan"))
