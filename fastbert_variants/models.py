"""Resolve a model spec to a local Hugging Face folder, with its config and tokenizer.

Specs: `default` (the embedded offline model), a local folder, a hub id (downloaded once,
then the same path as a folder), or `random:<preset>` (seeded random weights, speed only).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import shutil
from dataclasses import dataclass, replace
from functools import cached_property
from importlib import metadata
from pathlib import Path

from .cache import BuildCache, check_safetensors, file_sha256
from .errors import UserError

log = logging.getLogger(__name__)

PRESETS_DIR = Path(__file__).with_name("presets")
RANDOM_PREFIX = "random:"
RANDOM_SEED = 0
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)?$")
# Safetensors only: a hub model's pickled .bin weights are never loaded.
HUB_FILES = ["*.json", "*.safetensors", "*.txt", "*.model"]
FINGERPRINT_FILES = ("config.json", "*.safetensors")


def preset_names() -> list[str]:
    """Configs shipped in presets/ (the tokenizer folder there is shared by all of them)."""
    return sorted(p.stem for p in PRESETS_DIR.glob("*.json"))


@dataclass
class ModelSource:
    """A sequence classifier on local disk. `trained` is False for random weights (speed only)."""

    spec: str
    folder: Path
    trained: bool = True
    trust_remote_code: bool = False
    sealed_hashes: dict[str, str] | None = None  # file name -> sha256, from the store's manifest of this folder
    commit: str | None = None  # a hub model's: the snapshot's commit, recorded with its id (`org/name@commit`)

    @property
    def recorded_as(self) -> str:
        """What the results name this model by: a hub model with the commit that was measured."""
        return f"{self.spec}@{self.commit}" if self.commit else self.spec

    @cached_property
    def config(self):
        from transformers import AutoConfig

        try:
            return AutoConfig.from_pretrained(self.folder, trust_remote_code=self.trust_remote_code)
        except (ValueError, KeyError) as exc:  # an unknown model_type, or remote code not trusted
            raise UserError(f"model folder {self.folder}: transformers cannot read its config.json "
                            f"({str(exc).splitlines()[0].split('. ')[0][:160]}); use a model of a type transformers "
                            f"{metadata.version('transformers')} knows, or upgrade transformers") from None

    @cached_property
    def tokenizer(self):
        from transformers import AutoTokenizer

        try:
            return AutoTokenizer.from_pretrained(self.folder, trust_remote_code=self.trust_remote_code)
        except (OSError, ValueError, TypeError) as exc:  # TypeError: no tokenizer files at all (transformers 4.57)
            why = "no tokenizer files" if isinstance(exc, TypeError) else str(exc).splitlines()[0][:120]
            raise UserError(f"model folder {self.folder} has no usable tokenizer ({why}); "
                            "save one there with tokenizer.save_pretrained") from None

    @cached_property
    def fingerprint(self) -> str:
        """sha256 over the config and weight files' sha256s: what the build cache is keyed by.

        A folder the store made and verified in this process brings its files' sha256s from its manifest
        (`sealed_hashes`), so its weights are not read a second time at start-up.
        """
        digest = hashlib.sha256()
        for pattern in FINGERPRINT_FILES:
            for path in sorted(self.folder.glob(pattern)):
                sealed = (self.sealed_hashes or {}).get(path.name)
                digest.update(f"{path.name}\0{sealed or file_sha256(path)}\n".encode())
        return digest.hexdigest()

    @cached_property
    def input_names(self) -> tuple[str, ...]:
        """The token inputs this architecture's classifier takes (DistilBERT takes no token_type_ids)."""
        import inspect

        from transformers import MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING

        accepted = inspect.signature(MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING[type(self.config)].forward).parameters
        return tuple(n for n in ("input_ids", "attention_mask", "token_type_ids") if n in accepted)

    @property
    def max_positions(self) -> int:
        limits = [getattr(self.config, "max_position_embeddings", None), self.tokenizer.model_max_length]
        return min(int(v) for v in limits if v and v < 1_000_000)

    @property
    def id2label(self) -> dict[int, str]:
        return {int(k): v for k, v in self.config.id2label.items()}

    @property
    def weights_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.folder.glob("*.safetensors"))

    def load_model(self, dtype=None):
        """A fresh eval-mode torch model from the folder (safetensors only, no remote code unless asked)."""
        import torch
        from transformers import AutoModelForSequenceClassification

        model = AutoModelForSequenceClassification.from_pretrained(
            self.folder, dtype=dtype or torch.float32, use_safetensors=True,
            trust_remote_code=self.trust_remote_code, attn_implementation="sdpa",
        )
        return model.eval()

    def describe(self) -> dict:
        config = self.config
        import torch  # noqa: F401  (parameter count needs no model: count from the safetensors header)

        return {
            "spec": self.spec,
            "folder": str(self.folder),
            "architecture": (config.architectures or [config.model_type])[0],
            "parameters": count_parameters(self.folder),
            "layers": getattr(config, "num_hidden_layers", getattr(config, "n_layers", None)),
            "hidden_size": getattr(config, "hidden_size", getattr(config, "dim", None)),
            "max_positions": self.max_positions,
            "labels": self.id2label,
            "weights": "random (seeded; speed only)" if not self.trained else "trained",
        }


def count_parameters(folder: Path) -> int:
    """Count parameters from safetensors headers, without loading any weight."""
    from safetensors import safe_open

    total = 0
    for path in folder.glob("*.safetensors"):
        with safe_open(path, "pt") as handle:
            for key in handle.keys():
                if key.endswith("position_ids"):
                    continue
                shape = handle.get_slice(key).get_shape()
                count = 1
                for dim in shape:
                    count *= dim
                total += count
    return total


def resolve_model(spec: str, cache: BuildCache | Path | str, trust_remote_code: bool = False,
                  revision: str | None = None) -> ModelSource:
    """Turn what the user typed into a ModelSource, or raise a one-line UserError.

    Folders the suite makes (the default, random presets) are entries of the verified build cache;
    a user's folder or a hub snapshot is checked file by file before anything loads it.
    """
    cache = cache if isinstance(cache, BuildCache) else BuildCache(cache)
    if revision is not None and (spec == "default" or spec.startswith(RANDOM_PREFIX) or Path(spec).expanduser().is_dir()):
        raise UserError(f"--revision {revision} pins a hub model's version; {spec} is not a hub id (drop --revision)")
    if spec == "default":
        from .default_model import materialize

        return _store_source("default", *materialize(cache))
    if spec.startswith(RANDOM_PREFIX):
        return _store_source(spec, *_random_model(spec[len(RANDOM_PREFIX):], cache), trained=False)
    path = Path(spec).expanduser()
    if path.is_dir():
        return _local_source(spec, path, trust_remote_code)
    if spec.startswith(("/", ".", "~")) or not HUB_ID.match(spec):  # a hub id may hold dots: bge-small-en-v1.5
        raise UserError(f"model folder {spec} does not exist; give a folder holding config.json and weights, "
                        f"a hub id, `default`, or random:<preset> ({', '.join(preset_names())})")
    snapshot = _download(spec, revision)
    return replace(_local_source(spec, snapshot, trust_remote_code), commit=snapshot.name)  # snapshots/<commit>


def _store_source(spec: str, folder: Path, manifest: dict, trained: bool = True) -> ModelSource:
    return ModelSource(spec, folder, trained=trained,
                       sealed_hashes={name: meta["sha256"] for name, meta in manifest["files"].items()})


def _local_source(spec: str, folder: Path, trust_remote_code: bool) -> ModelSource:
    config_path = folder / "config.json"
    if not config_path.is_file():
        raise UserError(f"{folder} has no config.json, so it is not a Hugging Face model folder; "
                        "save one with model.save_pretrained(folder)")
    if not any(folder.glob("*.safetensors")):
        raise UserError(f"{folder} has no *.safetensors weights (pickled .bin weights are not loaded); "
                        "convert them with model.save_pretrained(folder, safe_serialization=True)")
    for weights in sorted(folder.glob("*.safetensors")):
        check_safetensors(weights, "save the model again, or download it again")
    try:
        architectures = json.loads(config_path.read_text()).get("architectures") or []
    except (ValueError, AttributeError) as exc:
        raise UserError(f"{config_path} is not a JSON object ({exc}); save the model again") from None
    trained = any(a.endswith("ForSequenceClassification") for a in architectures)
    if not trained:
        log.warning("%s is a %s, not a sequence classifier: its head will be random (speed only)", spec,
                    architectures or "model without architectures")
    return ModelSource(spec, folder.resolve(), trained=trained, trust_remote_code=trust_remote_code)


def damaged_hub_files(snapshot: Path) -> list[str]:
    """Files of a hub snapshot whose bytes are not what the hub's cache says they are.

    The hub cache stores large (LFS) files as blobs named by their sha256 and links them into the
    snapshot: the name is the check. Small files are named by a git hash and are checked by parsing.
    """
    damaged = []
    for link in sorted(snapshot.iterdir()):
        blob = link.resolve()
        if not blob.is_file():
            damaged.append(link.name)
        elif re.fullmatch(r"[0-9a-f]{64}", blob.name) and file_sha256(blob) != blob.name:
            damaged.append(link.name)
    return damaged


def _download(repo_id: str, revision: str | None = None) -> Path:
    import huggingface_hub
    from huggingface_hub.errors import (
        EntryNotFoundError,
        GatedRepoError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
    )

    try:
        snapshot = Path(huggingface_hub.snapshot_download(repo_id, revision=revision, allow_patterns=HUB_FILES))
        damaged = damaged_hub_files(snapshot)
        if damaged:
            log.warning("hub snapshot of %s has damaged files (%s): downloading them again", repo_id,
                        ", ".join(damaged))
            snapshot = Path(huggingface_hub.snapshot_download(repo_id, revision=revision, allow_patterns=HUB_FILES,
                                                              force_download=True))
        return snapshot
    except GatedRepoError:
        raise UserError(f"hub model {repo_id!r} is gated: accept its terms on the hub and log in "
                        "(huggingface-cli login), or pass a local folder") from None
    except RepositoryNotFoundError:
        raise UserError(f"no model {repo_id!r} on the Hugging Face hub; check the id, or pass a local folder") from None
    except (LocalEntryNotFoundError, EntryNotFoundError, OSError) as exc:
        raise UserError(
            f"cannot download {repo_id!r} from the Hugging Face hub (offline or unreachable: "
            f"{type(exc).__name__}); on a machine with network run `hf download {repo_id} --local-dir DIR`, "
            "copy DIR here and pass --model DIR"
        ) from None


def _random_model(preset: str, cache: BuildCache) -> tuple[Path, dict]:
    """A store entry with seeded random weights for a shipped config, and the MiniLM (bert-base-uncased) tokenizer."""
    preset_file = PRESETS_DIR / f"{preset}.json"
    if preset not in preset_names():  # by name only: random:../../x must not reach outside the presets or the cache
        raise UserError(f"unknown preset {preset!r} in random:{preset}; presets: {', '.join(preset_names())}")
    tokenizer_files = sorted((PRESETS_DIR / "tokenizer").iterdir())
    key = cache.key(model="random", seed=RANDOM_SEED, preset=file_sha256(preset_file),
                    tokenizer={p.name: file_sha256(p) for p in tokenizer_files})
    return cache.get_or_build(f"model-random-{preset}", key, lambda out: _write_random(preset_file, out))


def _write_random(preset_file: Path, out: Path) -> None:
    import torch
    from transformers import AutoConfig, AutoModelForSequenceClassification

    settings = json.loads(preset_file.read_text())
    settings.pop("_note", None)
    config = AutoConfig.for_model(settings.pop("model_type"), **settings)
    torch.manual_seed(RANDOM_SEED)
    model = AutoModelForSequenceClassification.from_config(config)
    model.save_pretrained(out, safe_serialization=True)
    # Every preset's vocabulary is bert-base-uncased's 30,522 WordPiece tokens; the files ship here.
    shutil.copytree(PRESETS_DIR / "tokenizer", out, dirs_exist_ok=True)


def export_model(source: ModelSource, out: Path, precision: str = "fp32") -> list[Path]:
    """Save the model with its weights in `precision` (fp32, fp16, bf16; safetensors), its config and its tokenizer
    into `out`."""
    from .recipes import torch_dtype

    model = source.load_model(dtype=torch_dtype(precision))
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out, safe_serialization=True)
    source.tokenizer.save_pretrained(out)
    return sorted(p for p in out.iterdir() if p.is_file())
