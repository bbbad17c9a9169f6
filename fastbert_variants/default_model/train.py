"""Reproduce head.safetensors: train the pooler and classifier on the encoder's [CLS] states.

The encoder stays frozen, so its [CLS] states are computed once; training the 150k head
parameters on them then takes seconds. Seeds, the sample of tweets, the thread count and the
order of batches are fixed, so a rerun on the same library versions writes the same weights.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from ..datasets import load_tweets, text_bucket
from . import ID2LABEL, encoder_dir

log = logging.getLogger(__name__)

SEED = 20261122
TRAIN_TWEETS = 6000
MAX_TOKENS = 64
EPOCHS = 60
LEARNING_RATE = 1e-3


def encode_cls_states(texts: list[str], batch_size: int = 64):
    """[CLS] states of the frozen MiniLM encoder's last layer, one row per text."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(encoder_dir())
    encoder = AutoModel.from_pretrained(encoder_dir(), add_pooling_layer=False).eval()
    states = []
    with torch.inference_mode():
        for start in range(0, len(texts), batch_size):
            batch = tokenizer(texts[start : start + batch_size], padding=True, truncation=True,
                              max_length=MAX_TOKENS, return_tensors="pt")
            states.append(encoder(**batch).last_hidden_state[:, 0])
            if start // batch_size % 20 == 0:
                log.info("encoded %d/%d tweets", start + len(batch["input_ids"]), len(texts))
    return torch.cat(states)


def train_head(output: Path, train_tweets: int = TRAIN_TWEETS) -> dict:
    """Train and save the head; returns its accuracy on the held-out tweets' [CLS] states."""
    import torch
    from safetensors.torch import load_file, save_file

    torch.manual_seed(SEED)
    torch.set_num_threads(2)
    label_ids = {name: i for i, name in ID2LABEL.items()}
    train = load_tweets("train")
    order = sorted(range(len(train)), key=lambda i: text_bucket(train.texts[i], 1 << 30, f"train-{SEED}"))[:train_tweets]
    texts = [train.texts[i] for i in order]
    labels = torch.tensor([label_ids[train.raw_labels[i]] for i in order])
    features = encode_cls_states(texts)

    pretrained = load_file(encoder_dir() / "model.safetensors")
    pooler = torch.nn.Linear(384, 384)
    pooler.weight.data.copy_(pretrained["pooler.dense.weight"])
    pooler.bias.data.copy_(pretrained["pooler.dense.bias"])
    classifier = torch.nn.Linear(384, len(ID2LABEL))
    head = torch.nn.Sequential(pooler, torch.nn.Tanh(), torch.nn.Dropout(0.1), classifier)
    optimizer = torch.optim.AdamW(head.parameters(), lr=LEARNING_RATE, weight_decay=0.01)
    generator = torch.Generator().manual_seed(SEED)
    for _ in range(EPOCHS):
        head.train()
        for batch in torch.randperm(len(labels), generator=generator).split(256):
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(head(features[batch]), labels[batch]).backward()
            optimizer.step()
    head.eval()
    held_out = load_tweets("held-out")
    held_out_labels = torch.tensor([label_ids[v] for v in held_out.raw_labels])
    with torch.inference_mode():
        predicted = head(encode_cls_states(held_out.texts)).argmax(-1)
    accuracy = float((predicted == held_out_labels).float().mean())
    save_file(
        {"bert.pooler.dense.weight": pooler.weight.data.contiguous(), "bert.pooler.dense.bias": pooler.bias.data,
         "classifier.weight": classifier.weight.data.contiguous(), "classifier.bias": classifier.bias.data},
        output, metadata={"format": "pt", "train_tweets": str(len(texts)), "seed": str(SEED)},
    )
    return {"train_tweets": len(texts), "held_out_tweets": len(held_out), "held_out_accuracy": accuracy,
            "majority_baseline": float(np.bincount(held_out_labels.numpy()).max() / len(held_out_labels))}
