"""Every input of the fault sweep that used to end in a traceback, a wrong message or a silent "all": one line, exit 2.

README's "What a bad input gets" lists the same cases with the line each one prints.
"""

import errno
import json
import shutil

import pytest

from fastbert_variants.cli import main
from fastbert_variants.errors import UserError


def one_line(argv, capsys, expected: str) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert expected in err and err.count("\n") == 1 and "Traceback" not in err, err
    return err


@pytest.fixture(scope="module")
def folder_without_tokenizer(default_bench, tmp_path_factory):
    out = tmp_path_factory.mktemp("no-tokenizer")
    for name in ("config.json", "model.safetensors"):
        shutil.copy(default_bench.source.folder / name, out / name)
    return out


def test_a_model_folder_without_tokenizer_files(folder_without_tokenizer, capsys, unit_cache_dir):
    one_line(["info", "--model", str(folder_without_tokenizer), "--cache-dir", str(unit_cache_dir)], capsys,
             "has no usable tokenizer (no tokenizer files); save one there with tokenizer.save_pretrained")


def test_an_unknown_model_type(folder_without_tokenizer, tmp_path, capsys, unit_cache_dir):
    folder = tmp_path / "m"
    shutil.copytree(folder_without_tokenizer, folder)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "model_type": "nosuchtype"}))
    one_line(["info", "--model", str(folder), "--cache-dir", str(unit_cache_dir)], capsys,
             "transformers cannot read its config.json")


def test_a_hub_id_with_a_dot_is_a_hub_id_not_a_missing_folder(capsys, unit_cache_dir, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    err = one_line(["info", "--model", "BAAI/bge-small-en-v1.5", "--cache-dir", str(unit_cache_dir)], capsys,
                   "cannot download 'BAAI/bge-small-en-v1.5' from the Hugging Face hub")
    assert "does not exist" not in err


def test_a_random_preset_cannot_name_a_path(capsys, tmp_path):
    (tmp_path / "x.json").write_text("{}")
    one_line(["info", "--model", f"random:../../../../../../../../{tmp_path}/x", "--cache-dir", str(tmp_path / "c")],
             capsys, "unknown preset")
    assert not (tmp_path / "c" / "builds").exists()


def test_a_cache_dir_that_is_a_file(tmp_path, capsys):
    (tmp_path / "file").write_text("not a folder")
    one_line(["info", "--cache-dir", str(tmp_path / "file")], capsys, "is a file, not a folder; pass --cache-dir DIR")


def test_a_full_disk_inside_a_library_write_is_one_line(tmp_path):
    from safetensors import SafetensorError

    from fastbert_variants.cache import BuildCache

    def build(folder):
        raise SafetensorError('Error while serializing: IoError(Os { code: 28, kind: StorageFull, message: '
                              '"No space left on device" })')

    with pytest.raises(UserError, match=r"cannot write the build cache .*No space left on device.*--cache-dir DIR"):
        BuildCache(tmp_path / "c").get_or_build("v", "k", build)
    assert not list((tmp_path / "c" / "builds" / "v").glob("k*tmp*"))


@pytest.mark.parametrize("argv", [["build", "--variants", ""], ["build", "--variants", "ort-fp32,,torchscript"]])
def test_an_empty_selection_is_a_usage_error_not_everything(argv, capsys, unit_cache_dir):
    one_line([*argv, "--cache-dir", str(unit_cache_dir)], capsys, "has an empty item")


def test_a_list_option_with_an_empty_item():
    from fastbert_variants.options import parse_list

    with pytest.raises(UserError, match=r"--seq-lens '16,,128' has an empty item"):
        parse_list("16,,128", int, "--seq-lens")
    assert parse_list("16, 128", int, "--seq-lens") == [16, 128]


def test_serve_on_a_port_that_is_no_port(capsys, unit_cache_dir):
    one_line(["serve", "--port", "70000", "--cache-dir", str(unit_cache_dir)], capsys, "--port 70000 is not a TCP port")


def test_serve_on_a_port_in_use(capsys, unit_cache_dir, monkeypatch):
    from aiohttp import web

    def port_taken(*args, **kwargs):
        raise OSError(errno.EADDRINUSE, "error while attempting to bind on address ('127.0.0.1', 8000): address "
                                        "already in use")

    monkeypatch.setattr(web, "run_app", port_taken)
    one_line(["serve", "--cache-dir", str(unit_cache_dir)], capsys, "cannot listen on 127.0.0.1:8000")
