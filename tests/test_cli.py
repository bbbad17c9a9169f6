import subprocess
import sys

import pytest

from fastbert_variants.cli import main
from fastbert_variants.variants import REGISTRY


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "fastbert_variants.cli", *args], capture_output=True, text=True,
                          timeout=120)


def test_missing_folder_is_one_line_and_exit_2():
    result = run_cli("info", "--model", "/no/such/folder")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("fastbert-variants: error: model folder /no/such/folder does not exist")


@pytest.mark.parametrize(("argv", "expected"), [
    (["info", "--model", "random:nope"], "unknown preset 'nope'"),
    (["info", "--dataset", "/tmp/definitely-missing.csv"], "does not exist"),
    (["info", "--threads", "0"], "argument --threads: '0': give a whole number of at least 1"),
    (["build", "--variants", "ort-fp33"], "--variants: unknown ort-fp33"),
])
def test_bad_input_is_one_clear_line(argv, expected, capsys, unit_cache_dir):
    try:
        status = main([*argv, "--cache-dir", str(unit_cache_dir)])
    except SystemExit as exit:  # a bad type or range: argparse's one line
        status = exit.code
    assert status == 2
    err = capsys.readouterr().err
    assert expected in err and err.count("\n") == 1


def test_info_on_a_random_preset_counts_parameters(capsys, unit_cache_dir):
    assert main(["info", "--model", "random:tinybert-4l", "--cache-dir", str(unit_cache_dir)]) == 0
    out = capsys.readouterr().out
    assert "14.4M" in out or "14.5M" in out
    assert "random (seeded; speed only)" in out


def test_list_names_every_variant_for_each_device(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for variant in REGISTRY.values():
        for device in variant.devices:
            assert any(line.split()[:2] == [variant.name, device] for line in out.splitlines())
    assert "no: torch-fp16 runs on" not in out  # cuda-only variants are listed under cuda, with their state


def test_version_names_the_installed_package():
    from importlib.metadata import version

    done = run_cli("--version")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"fastbert-variants {version('fastbert-variants')}"


def test_the_cli_reference_page_is_the_parser_s_own_help():
    from pathlib import Path

    from fastbert_variants.cli import reference_markdown

    page = Path(__file__).parents[1] / "docs" / "reference" / "cli.md"
    assert page.read_text() == reference_markdown(), "docs/reference/cli.md is stale: python tools/cli_reference.py"
