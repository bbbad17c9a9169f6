"""Every input of the fault sweep that used to end in a traceback, a wrong message or a silent "all": one line, exit 2.

docs/reference/errors.md lists the same cases with the line each one prints.
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


@pytest.mark.parametrize("content, expected", [
    ("not json", "cannot read it as JSON"), ('{"texts": ["a"]}', "not a JSON list of texts"), ("[1, 2]", "not a JSON list"),
    ("[]", "not a JSON list of texts")])
def test_serve_with_warm_up_texts_that_are_no_list_of_texts(capsys, unit_cache_dir, tmp_path, content, expected):
    path = tmp_path / "texts.json"
    path.write_text(content)
    one_line(["serve", "--warm-up-texts", str(path), "--cache-dir", str(unit_cache_dir)], capsys,
             f"--warm-up-texts {path}: {expected}")


def test_serve_on_a_port_in_use(capsys, unit_cache_dir, monkeypatch):
    from aiohttp import web

    def port_taken(*args, **kwargs):
        raise OSError(errno.EADDRINUSE, "error while attempting to bind on address ('127.0.0.1', 8000): address "
                                        "already in use")

    monkeypatch.setattr(web, "run_app", port_taken)
    one_line(["serve", "--cache-dir", str(unit_cache_dir)], capsys, "cannot listen on 127.0.0.1:8000")


@pytest.mark.parametrize("argv, expected", [
    (["compare", "a", "b", "--max-accuracy-loss", "nan"], "argument --max-accuracy-loss/--max-accuracy-drop: 'nan': "
                                                          "give a finite number of at least 0"),
    (["compare", "a", "b", "--max-accuracy-drop", "-1"], "'-1': give a finite number of at least 0"),
    (["serve", "--deadline-ms", "nan"], "argument --deadline-ms: 'nan': give a finite number above 0"),
    (["serve", "--hang-s", "inf"], "argument --hang-s: 'inf': give a finite number above 0"),
    (["serve", "--max-wait-ms", "-5"], "'-5': give a finite number of at least 0"),
    (["nosuch"], "invalid choice: 'nosuch'"),
    (["train-default"], "the following arguments are required: --output"),  # it wrote into the installed package
])
def test_a_threshold_that_is_nan_infinite_or_out_of_range_is_one_line(argv, expected, capsys):
    """NaN once passed a 5-point accuracy drop through compare and answered every request 504 in serve (#37)."""
    with pytest.raises(SystemExit) as exited:
        main(argv)
    err = capsys.readouterr().err
    assert exited.value.code == 2 and expected in err and err.count("\n") == 1, err
    assert err.rstrip().endswith(f"see fastbert-variants {argv[0] if argv[0] != 'nosuch' else ''}".rstrip() + " --help")


@pytest.mark.parametrize("option", ["--fastbert-max-accuracy-drop=nan", "--fastbert-max-relative-drop=-1", "--fastbert-p99-budget-ms=0"])
def test_a_pytest_gate_threshold_that_is_nan_or_out_of_range_is_a_usage_error(option):
    """pytest `--max-accuracy-drop nan` once failed every variant with "drop 0.00 points > allowed nan pts"."""
    import subprocess
    import sys
    from pathlib import Path

    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--co", "-q", option],
                          capture_output=True, text=True, timeout=300, cwd=Path(__file__).parents[1])
    assert done.returncode == 4 and "give a finite number" in done.stderr and "Traceback" not in done.stderr, done.stderr


def test_the_load_generator_refuses_nan_and_a_missing_texts_file_in_one_line(tmp_path):
    from fastbert_variants import mlperf

    texts = tmp_path / "texts.json"
    texts.write_text('["a text"]')
    common = ["--seconds", "1", "--budget-ms", "100", "--log-dir", str(tmp_path)]
    with pytest.raises(SystemExit) as exited:
        mlperf.main(["http://127.0.0.1:1/predict", "--texts", str(texts), "--rate", "nan", *common])
    assert exited.value.code == 2
    assert mlperf.main(["http://127.0.0.1:1/predict", "--texts", str(tmp_path / "none.json"), "--rate", "1", *common]) == 2


@pytest.mark.parametrize("where", ["missing folder", "a folder"])
def test_an_accuracy_json_that_cannot_be_written_is_refused_at_the_start(where, tmp_path):
    """It once crashed at the end of the run (INTERNALERROR), every score lost after minutes of scoring."""
    import subprocess
    import sys
    from pathlib import Path

    path = tmp_path / "nope" / "accuracy.json" if where == "missing folder" else tmp_path
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--co", "-q",
                           f"--fastbert-accuracy-json={path}"], capture_output=True, text=True, timeout=300,
                          cwd=Path(__file__).parents[1])
    expected = "does not exist; create it first" if where == "missing folder" else "is a folder; name a file in it"
    assert done.returncode == 4 and expected in done.stderr and "Traceback" not in done.stderr, done.stderr


@pytest.mark.parametrize("lengths, status, expected", [
    ("2", 4, "--fastbert-seq-lens 2 leaves no room for text between the [CLS] and [SEP] tokens; give lengths of 3"),
    ("16,1024", 4, "--fastbert-seq-lens 1024 is past the model's maximum of 512 tokens; give lengths up to 512"),
])
def test_sequence_lengths_that_cannot_be_measured_fail_the_run_instead_of_skipping_it(lengths, status, expected,
                                                                                      unit_cache_dir):
    """Every timed test skipped and the run exited 0 having measured nothing (#37)."""
    import subprocess
    import sys
    from pathlib import Path

    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "benchmarks/test_latency.py",
                           "--fastbert-variants", "torch-fp32", f"--fastbert-seq-lens={lengths}",
                           "--fastbert-batch-sizes", "1", f"--fastbert-cache-dir={unit_cache_dir}"],
                          capture_output=True, text=True, timeout=600, cwd=Path(__file__).parents[1])
    out = done.stdout + done.stderr
    assert done.returncode == status and expected in out and "Traceback" not in out, out[-3000:]


def _run_with_server_points(tmp_path, points, capacity=120.0) -> str:
    from test_scenarios import server

    info = {**server("openvino-int8", 120.0).to_json(), "capacity_per_s": capacity, "points": points}
    path = tmp_path / "benchmark.json"
    path.write_text(json.dumps({"benchmarks": [{"name": "t", "extra_info": info}], "machine_info": {}}))
    return str(path)


@pytest.mark.parametrize("points, capacity, expected", [
    ([{}], 120.0, "a server load has no 'offered_per_s'"),
    ([5], 120.0, "a server rate point is 5, not a JSON object"),
    ([{"offered_per_s": 100, "sent": 4, "answered": 4, "errors": 0, "p50_ms": 1, "p99_ms": "9", "achieved_per_s": 99}],
     120.0, "'p99_ms' is '9', not a finite number of at least 0"),
    ([], 1e309, "'capacity_per_s' is inf, not a finite number of at least 0"),
])
def test_a_server_record_with_a_wrong_number_is_one_line_not_a_figure(tmp_path, capsys, points, capacity, expected):
    """A capacity of Infinity once printed "inf requests/s ... infx"; points [{}] carried a dataclass sentinel into the
    results, [5] or a p99 given as a string crashed the report."""
    one_line(["report", _run_with_server_points(tmp_path, points, capacity), "--out", str(tmp_path / "r")], capsys,
             expected)


def test_report_out_naming_a_file_is_one_line_before_anything_is_written(tmp_path, capsys):
    """It once printed the recommendations, then a FileExistsError traceback."""
    run = _run_with_server_points(tmp_path, [])
    one_line(["report", run, "--out", run], capsys, "is a file; name a folder for summary.md")


def test_what_the_suite_writes_is_readable_by_others_under_the_usual_umask(tmp_path):
    """mkstemp's 0600 once reached accuracy.json and summary.md: a CI step publishing them as another user failed."""
    import os

    from fastbert_variants.files import write_atomically

    old = os.umask(0o022)
    try:
        write_atomically(tmp_path / "summary.md", "x")
    finally:
        os.umask(old)
    assert (tmp_path / "summary.md").stat().st_mode & 0o777 == 0o644


@pytest.mark.parametrize("body, expected", [("[" * 3000 + "]" * 3000, "RecursionError"),
                                            ('{"benchmarks": [], "x": ' + "9" * 5000 + "}", "ValueError: Exceeds")])
def test_a_hostile_run_json_is_one_line(tmp_path, capsys, body, expected):
    """Nested 3,000 deep or an integer of 5,000 digits: a traceback from every reader (report, compare, history add)."""
    path = tmp_path / "run.json"
    path.write_text(body)
    one_line(["report", str(path), "--out", str(tmp_path / "r")], capsys, f"is not a run's JSON ({expected}")


def test_history_show_refuses_a_count_below_one_and_a_cell_no_run_timed(tmp_path, capsys):
    """--last 0 and --last -2 once showed every run; --cell nosuch --plot ended in ZeroDivisionError."""
    from test_compare_report import accuracy_json, benchmark_json, write_run

    db = f"sqlite:///{tmp_path / 'h.sqlite'}"
    run = write_run(tmp_path / "run", benchmark_json(), accuracy_json())
    assert main(["history", "add", str(run), "--branch", "main", "--db", db]) == 0
    capsys.readouterr()
    for last in ("0", "-2"):
        with pytest.raises(SystemExit) as exited:
            main(["history", "show", "--last", last, "--db", db])
        assert exited.value.code == 2 and "give a whole number of at least 1" in capsys.readouterr().err
    one_line(["history", "show", "--cell", "nosuch", "--plot", str(tmp_path / "x.png"), "--db", db], capsys,
             "--cell nosuch: no stored run timed that cell")
    one_line(["history", "show", "--plot", str(tmp_path), "--db", db], capsys,  # it wrote DIR.png, said "wrote DIR"
             "name a .png file to draw into")


def test_a_baseline_worse_than_always_the_most_common_label_is_refused_not_gated(monkeypatch):
    """A model whose labels do not match the dataset's (FP32 at 0.0000) once passed every gate: a drop from it meant
    nothing. FP32 below the most common label's share stops the run in one line."""
    from types import SimpleNamespace

    import numpy as np

    from fastbert_variants.accuracy import Scorer

    scorer = Scorer.__new__(Scorer)
    labels = np.array([0] * 70 + [1] * 30)
    scorer.__dict__.update(labels=labels, max_length=128,
                           dataset=SimpleNamespace(name="flipped.csv", texts=["t"] * 100, unlabelled_dropped=0))
    always_wrong = np.eye(2)[1 - labels]
    monkeypatch.setattr(Scorer, "logits", lambda self, name, device, max_rows=None: always_wrong)
    with pytest.raises(UserError, match=r"torch-fp32 scores 0.0000 on 100 rows of 'flipped.csv', worse than always "
                                        r"answering its most common label \(0.7000\)"):
        scorer.evaluate("ort-fp32", "cpu")


def test_an_accuracy_that_is_not_a_share_is_one_line(tmp_path, capsys):
    """An accuracy of 5.0 once printed as 5.0000 and compared as a gain of 413 points."""
    from test_compare_report import accuracy_json, benchmark_json, write_run

    accuracy = accuracy_json()
    first = next(iter(accuracy))
    accuracy[first]["scores"]["accuracy"] = 5.0
    run = write_run(tmp_path / "run", benchmark_json(), accuracy)
    one_line(["report", str(run / "benchmark.json"), "--accuracy", str(run / "accuracy.json"), "--out",
              str(tmp_path / "r")], capsys, "scores.accuracy = 5.0, not a share from 0 to 1")


@pytest.mark.parametrize("extra, change, expected", [
    (["--branch", "b" * 201], {}, "its branch is 201 characters long (the history keeps 200); give --branch of at most 200"),
    (["--branch", "main", "--commit", "c" * 65], {}, "its commit_id is 65 characters long (the history keeps 64)"),
    (["--branch", "main"], {"dirty": "yes"}, "commit_info.dirty is 'yes', not true or false"),
])
def test_history_add_refuses_what_postgresql_would_reject_in_one_line(tmp_path, capsys, extra, change, expected):
    """SQLite kept a 300-character branch that PostgreSQL refuses with a DataError; dirty "yes" was a 94-line
    SQLAlchemy traceback. Checked before the database sees them, whichever database it is."""
    from test_compare_report import accuracy_json, benchmark_json, write_run

    bench = benchmark_json()
    bench["commit_info"] = {**bench.get("commit_info", {}), "id": "abc", **change}
    run = write_run(tmp_path / "run", bench, accuracy_json())
    one_line(["history", "add", str(run), "--db", f"sqlite:///{tmp_path / 'h.sqlite'}", *extra], capsys, expected)


@pytest.mark.parametrize("rows, where, expected", [
    ("a,label\nx,1\n", "before the first test", "dataset file {csv} has no column 'text'"),
    ("text,label\nx,1\ny,1\nz,1\n", "found by a test", "dataset '{csv}' has a single label in its 3 scored rows"),
])
def test_bad_input_in_pytest_is_a_usage_error_not_pytest_exit(tmp_path, unit_cache_dir, rows, where, expected):
    """It printed `! _pytest.outcomes.Exit: ... !` on stdout and exited 2 (#37 item 17): now pytest's own form, as for
    its options: `ERROR: ...` on stderr and exit 4, found before the first test where it can be."""
    import subprocess
    import sys
    from pathlib import Path

    csv = tmp_path / "data.csv"
    csv.write_text(rows)
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "accuracy",
                           "--fastbert-variants", "torch-fp32,ort-fp32", f"--fastbert-dataset={csv}",
                           f"--fastbert-cache-dir={unit_cache_dir}"],
                          capture_output=True, text=True, timeout=600, cwd=Path(__file__).parents[1])
    out = done.stdout + done.stderr
    line = f"ERROR: fastbert-variants: {expected.format(csv=csv)}"
    assert done.returncode == 4 and line in done.stderr and "Traceback" not in out and "outcomes.Exit" not in out, out
    assert ("no tests ran" in done.stdout) == (where == "before the first test"), done.stdout
