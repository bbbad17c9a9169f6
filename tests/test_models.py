import json

import pytest
from safetensors.torch import load_file

from fastbert_variants.errors import UserError
from fastbert_variants.models import resolve_model


def test_default_model_is_a_labelled_bert_classifier(default_bench):
    source = default_bench.source
    config = json.loads((source.folder / "config.json").read_text())
    assert config["architectures"] == ["BertForSequenceClassification"]
    assert source.id2label == {0: "negative", 1: "positive"}
    assert source.trained and source.max_positions == 512
    weights = load_file(source.folder / "model.safetensors")
    assert "classifier.weight" in weights and "bert.encoder.layer.5.output.dense.weight" in weights


def test_default_model_is_made_once(default_bench, unit_cache_dir):
    again = resolve_model("default", unit_cache_dir)
    assert again.folder == default_bench.source.folder
    assert again.fingerprint == default_bench.source.fingerprint


def test_random_preset_has_seeded_weights_and_no_accuracy(unit_cache_dir):
    source = resolve_model("random:tinybert-4l", unit_cache_dir)
    assert not source.trained
    assert 14e6 < source.describe()["parameters"] < 15e6
    assert source.tokenizer("hello world")["input_ids"][0] == 101  # [CLS] of the uncased vocabulary
    assert resolve_model("random:tinybert-4l", unit_cache_dir).fingerprint == source.fingerprint


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("random:bert-larg", "unknown preset 'bert-larg'"),
        ("/no/such/folder", "model folder /no/such/folder does not exist"),
        ("./relative/missing", "does not exist"),
    ],
)
def test_bad_model_specs_say_what_is_wrong(spec, expected, unit_cache_dir):
    with pytest.raises(UserError, match=expected):
        resolve_model(spec, unit_cache_dir)


def test_folder_without_config_or_safetensors(tmp_path, unit_cache_dir):
    with pytest.raises(UserError, match="has no config.json"):
        resolve_model(str(tmp_path), unit_cache_dir)
    (tmp_path / "config.json").write_text('{"model_type": "bert"}')
    (tmp_path / "pytorch_model.bin").write_bytes(b"pickle")
    with pytest.raises(UserError, match=r"no \*\.safetensors weights"):
        resolve_model(str(tmp_path), unit_cache_dir)


def test_hub_id_offline_says_how_to_use_a_folder(monkeypatch, unit_cache_dir):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("HF_HUB_CACHE", str(unit_cache_dir / "hub"))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(unit_cache_dir / "hub"))
    with pytest.raises(UserError, match="cannot download 'someone/some-model'.*--model DIR"):
        resolve_model("someone/some-model", unit_cache_dir)


def test_local_folder_is_the_same_path_as_a_downloaded_hub_model(default_bench, unit_cache_dir):
    source = resolve_model(str(default_bench.source.folder), unit_cache_dir)
    assert source.trained and source.fingerprint == default_bench.source.fingerprint


def test_revision_pins_a_hub_model_and_the_results_record_its_commit(monkeypatch, default_bench, tmp_path):
    """--revision (a branch, tag or commit) for a reproducible gate: two commits of one hub model in an offline hub
    cache, each resolved by its ref or its commit, recorded as id@commit; a revision for a non-hub model is one line."""
    import shutil

    import huggingface_hub.constants

    hub = tmp_path / "hub"
    repo = hub / "models--someone--classifier"
    commits = {"main": "a" * 40, "v1": "b" * 40}
    for ref, commit in commits.items():
        shutil.copytree(default_bench.source.folder, repo / "snapshots" / commit)
        (repo / "refs").mkdir(parents=True, exist_ok=True)
        (repo / "refs" / ref).write_text(commit)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(hub))
    monkeypatch.setenv("HF_HUB_CACHE", str(hub))

    assert resolve_model("someone/classifier", default_bench.cache).recorded_as == f"someone/classifier@{'a' * 40}"
    pinned = resolve_model("someone/classifier", default_bench.cache, revision="v1")
    assert pinned.recorded_as == f"someone/classifier@{'b' * 40}" and pinned.folder.name == "b" * 40
    assert resolve_model("someone/classifier", default_bench.cache, revision="b" * 40).commit == "b" * 40
    with pytest.raises(UserError, match="--revision v1 pins a hub model's version; default is not a hub id"):
        resolve_model("default", default_bench.cache, revision="v1")
    with pytest.raises(UserError, match="cannot download 'someone/classifier'"):
        resolve_model("someone/classifier", default_bench.cache, revision="v9")
