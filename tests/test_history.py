"""The results history, the same tests on SQLite and on a real PostgreSQL server started for them."""

import json
import socket
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from fastbert_variants.cli import main

MACHINE = {"cpu": "AMD EPYC", "cpu_isa": "avx2", "gpu": None, "versions": {"torch": "2.13.0"}}
SPEEDUPS = {"ort-fp32": 1.3, "ort-int8-dynamic": 1.6, "torchscript": 1.02}
CELLS = ("cpu-b1-s16", "cpu-b1-s128")


def benchmark_json(seed: int, commit: str, slower: dict | None = None) -> dict:
    """A run as the suite writes it: per result 12 block ratios around its speedup (3% noise)."""
    rng = np.random.default_rng(seed)
    results = []
    for cell in CELLS:
        for variant, speedup in {"torch-fp32": 1.0, **SPEEDUPS}.items():
            speedup /= (slower or {}).get(variant, 1.0)
            ratios = [1.0] * 12 if variant == "torch-fp32" else list(speedup * rng.normal(1, 0.03, 12))
            results.append({"variant": variant, "device": "cpu", "batch_size": 1, "seq_len": int(cell.split("s")[-1]),
                            "cell": cell, "threads": 2, "median_ms": 10 / speedup, "model": "default",
                            "speedup_vs_fp32": float(np.median(ratios)), "speedup_ci95": [min(ratios), max(ratios)],
                            "speedup_block_ratios": ratios})
    return {"machine_info": {"fastbert_variants": MACHINE}, "datetime": "2026-11-23T10:00:00",
            "commit_info": {"id": commit, "branch": "main", "dirty": False},
            "benchmarks": [{"name": f"test_latency[{r['cell']}-{r['variant']}]", "extra_info": r} for r in results]}


def accuracy_json(ort_int8: float = 0.8600) -> dict:
    def record(variant, accuracy, fp32=0.8628):
        return {"variant": variant, "device": "cpu", "rows": 4506, "fp32": {"accuracy": fp32},
                "scores": {"accuracy": accuracy},
                "comparison": {"flipped_to_wrong": 2, "flipped_to_right": 1, "mcnemar_p": 1.0},
                "drop_points": 100 * (fp32 - accuracy), "drop_relative_percent": 0.0, "passed": fp32 - accuracy <= 0.01,
                "gate": {"max_points": 1.0, "max_relative_percent": 1.0}}

    return {"cpu/ort-fp32": record("ort-fp32", 0.8628), "cpu/ort-int8-dynamic": record("ort-int8-dynamic", ort_int8)}


def write_run(folder: Path, bench: dict, acc: dict) -> Path:
    folder.mkdir(parents=True)
    (folder / "benchmark.json").write_text(json.dumps(bench))
    (folder / "accuracy.json").write_text(json.dumps(acc))
    return folder


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'history.sqlite'}"
    url = request.getfixturevalue("postgres_url")
    from sqlalchemy import create_engine, text

    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as connection:  # each test on an empty database
        connection.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()
    return url


def test_the_models_match_the_migrations(db):
    """Alembic's autogenerate finds nothing to do after upgrading to head: the schema is the migrations' alone."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from fastbert_variants import history

    engine = history.open_history(history.database_url(db, Path(".")))
    with engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), history.Base.metadata) == []
        assert MigrationContext.configure(connection).get_current_revision() == "0002"


def test_three_runs_added_shown_plotted_then_gating_a_new_run(db, tmp_path, capsys):
    from fastbert_variants.results import RatePoint, ServerResult

    for i in range(3):
        bench = benchmark_json(i, f"c0ffee{i}")
        capacity, fp32 = 150.0 * (1 - 0.2 * i), 50.0 * (1 - 0.2 * i)  # the machine slows, the ratio holds
        served = ServerResult("ort-int8-dynamic", "cpu", 100.0, capacity, 8, 2.0, (RatePoint(capacity, 500, 500, 0,
                              10.0, 40.0, capacity),) * 2, 1, 9, 0.1, "not pinned", 2, "default",
                              baseline_capacity_per_s=fp32)
        bench["benchmarks"].append({"name": "test_server[cpu-ort-int8-dynamic]", "extra_info": served.to_json()})
        run = write_run(tmp_path / f"run{i}", bench, accuracy_json())
        assert main(["history", "add", str(run), "--db", db]) == 0
        assert f"stored run #{i + 1}" in capsys.readouterr().out

    plot = tmp_path / "history.png"
    assert main(["history", "show", "--db", db, "--plot", str(plot)]) == 0
    shown = capsys.readouterr().out
    assert "AMD EPYC (avx2), 2 threads: cpu-b1-s128" in shown
    capacities, ratios = (shown.split(f"({what}, by run)")[1].splitlines()[2].split() for what in (
        "server capacity, requests/s", "server capacity over torch-fp32's, in alternating loads"))
    assert capacities == ["ort-int8-dynamic", "150.00", "120.00", "90.00"] and ratios[1:] == ["3.00"] * 3
    assert any(line.split() == ["variant", "#1", "#2", "#3"] for line in shown.splitlines())
    assert plot.stat().st_size > 10_000

    same = write_run(tmp_path / "same", benchmark_json(7, "c0ffee7"), accuracy_json())
    assert main(["compare", str(same), "--against-history", "main", "--last", "5", "--db", db]) == 0
    out = capsys.readouterr().out
    assert "BASE: the last 3 run(s) of main on AMD EPYC (avx2), 2 threads" in out and "0 regression(s)" in out
    assert "of the 3 base runs themselves" in out

    slower = write_run(tmp_path / "slower", benchmark_json(8, "bad", slower={"ort-int8-dynamic": 1.2}), accuracy_json())
    assert main(["compare", str(slower), "--against-history", "main", "--db", db]) == 1
    lines = capsys.readouterr().out.splitlines()
    regressed = [line for line in lines if line.startswith("REGRESSED")]
    assert len(regressed) == 1 and "cells cpu ort-int8-dynamic (2 cells)" in regressed[0] and "between-run sd" in regressed[0]

    lossy = write_run(tmp_path / "lossy", benchmark_json(9, "lossy"), accuracy_json(ort_int8=0.8400))
    assert main(["compare", str(lossy), "--against-history", "main", "--db", db]) == 1
    assert "cpu/ort-int8-dynamic" in capsys.readouterr().out


def test_history_errors_are_one_line(db, tmp_path, capsys):
    bench = benchmark_json(0, "abc")
    bench["commit_info"] = {"error": "not a git repository"}
    run = write_run(tmp_path / "nobranch", bench, accuracy_json())
    assert main(["history", "add", str(run), "--db", db]) == 2
    assert "does not say its git branch" in capsys.readouterr().err
    assert main(["history", "add", str(run), "--db", db, "--branch", "feature"]) == 0
    capsys.readouterr()
    assert main(["compare", str(run), "--against-history", "main", "--db", db]) == 2
    err = capsys.readouterr().err
    assert "holds no run of branch 'main'" in err and "feature on AMD EPYC" in err and len(err.splitlines()) == 1
    assert main(["history", "show", "--db", "nonsense://x"]) == 2
    assert len(capsys.readouterr().err.splitlines()) == 1


@pytest.mark.parametrize("where", ["machine_info", "the latency result"])
def test_nan_anywhere_in_a_run_is_one_line_on_every_database(db, tmp_path, capsys, where):
    """PostgreSQL refused NaN in the JSON it keeps with a DataError traceback; SQLite kept it as text (#37 item 8)."""
    import copy

    bench = copy.deepcopy(benchmark_json(0, "abc"))
    if where == "machine_info":
        bench["machine_info"]["fastbert_variants"]["cpu_share"] = {"seconds": float("nan"), "ours": 0.9, "others": 0.0}
    else:
        bench["benchmarks"][1]["extra_info"]["size_mb"] = float("inf")
    run = write_run(tmp_path / "nan", bench, accuracy_json())
    assert main(["history", "add", str(run), "--db", db]) == 2
    err = capsys.readouterr().err
    assert where in err and "NaN or Infinity" in err and len(err.splitlines()) == 1
    assert main(["history", "add", str(write_run(tmp_path / "ok", benchmark_json(0, "abc"), accuracy_json())),
                 "--db", db]) == 0  # nothing half-added: the clean run goes in


def test_a_history_that_cannot_be_reached_is_one_line(tmp_path, capsys):
    port = _free_port()  # nothing listens there once it is closed
    started = time.monotonic()
    assert main(["history", "show", "--db", f"postgresql://nobody@127.0.0.1:{port}/none"]) == 2
    err = capsys.readouterr().err
    assert "cannot open the history at postgresql+psycopg://nobody@127.0.0.1" in err and len(err.splitlines()) == 1
    assert time.monotonic() - started < 30


def test_a_password_is_never_printed_even_in_a_url_that_does_not_parse(capsys):
    assert main(["history", "show", "--db", "postgresql://alice:S3cretPW@host:54x2/db"]) == 2
    err = capsys.readouterr().err
    assert "S3cretPW" not in err and "alice:***@host" in err and len(err.splitlines()) == 1


def test_read_only_commands_never_create_a_database(tmp_path, capsys):
    typo = tmp_path / "histroy.sqlite"
    run = write_run(tmp_path / "run", benchmark_json(0, "abc"), accuracy_json())
    assert main(["history", "show", "--db", f"sqlite:///{typo}"]) == 2
    assert main(["compare", str(run), "--against-history", "main", "--db", f"sqlite:///{typo}"]) == 2
    err = capsys.readouterr().err
    assert f"no history at {typo}" in err and not typo.exists()


def _add(db_url: str, run: Path) -> subprocess.CompletedProcess:
    import sys

    return subprocess.run([sys.executable, "-m", "fastbert_variants.cli", "history", "add", str(run), "--db", db_url],
                          capture_output=True, text=True, timeout=120)


def test_four_first_opens_at_once_all_succeed(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    url = f"sqlite:///{tmp_path / 'new.sqlite'}"
    runs = [write_run(tmp_path / f"run{i}", benchmark_json(i, f"c{i}"), accuracy_json()) for i in range(4)]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda r: _add(url, r), runs))
    assert all(r.returncode == 0 for r in results), [r.stderr[-500:] for r in results]


def test_a_migration_killed_midway_leaves_a_database_that_opens(tmp_path, monkeypatch):
    from sqlalchemy import inspect

    from fastbert_variants import history

    url = f"sqlite:///{tmp_path / 'killed.sqlite'}"
    real_upgrade = __import__("alembic.command", fromlist=["upgrade"]).upgrade

    def killed_after_the_tables(config, revision):
        real_upgrade(config, revision)
        raise KeyboardInterrupt  # the tables and the version row are written, the transaction not committed

    monkeypatch.setattr("alembic.command.upgrade", killed_after_the_tables)
    with pytest.raises(KeyboardInterrupt):
        history.open_history(url)
    monkeypatch.undo()
    assert inspect(history.create_engine(url)).get_table_names() == []  # rolled back whole, DDL included
    engine = history.open_history(url)
    assert "runs" in inspect(engine).get_table_names()


def test_a_lock_held_too_long_and_a_newer_revision_are_one_line(tmp_path, capsys):
    import sqlite3

    path = tmp_path / "h.sqlite"
    run = write_run(tmp_path / "run", benchmark_json(0, "abc"), accuracy_json())
    assert main(["history", "add", str(run), "--db", f"sqlite:///{path}"]) == 0
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        assert main(["history", "add", str(run), "--db", f"sqlite:///{path}"]) == 2
    finally:
        holder.execute("ROLLBACK")
    err = capsys.readouterr().err
    assert "database is locked; another process holds it" in err and len(err.splitlines()) == 1
    holder.execute("UPDATE alembic_version SET version_num = '9999_from_the_future'")
    holder.close()
    assert main(["history", "show", "--db", f"sqlite:///{path}"]) == 2
    err = capsys.readouterr().err
    assert "a newer release wrote it; upgrade fastbert-variants" in err and len(err.splitlines()) == 1


SECRET = "Pw5ecretXYZ"


def test_no_credential_in_any_output_or_figure_in_any_url_form(postgres_url, tmp_path, capsys, monkeypatch):
    """A password as userinfo, as a query parameter, or after a raw '@': found nowhere in what the history
    commands print, in the texts of the figure they draw, or in the PNG's bytes (#37)."""
    import matplotlib.figure
    import matplotlib.text
    from sqlalchemy import create_engine, text

    engine = create_engine(postgres_url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()
    drawn, savefig = [], matplotlib.figure.Figure.savefig

    def savefig_reading_texts(figure, *args, **kwargs):
        drawn.extend(t.get_text() for t in figure.findobj(matplotlib.text.Text))
        return savefig(figure, *args, **kwargs)

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", savefig_reading_texts)
    host = postgres_url.partition("@")[2]  # 127.0.0.1:PORT/postgres; the server trusts loopback, any password goes
    plot, printed = tmp_path / "history.png", []
    for number, url in enumerate((f"postgresql://fbv:{SECRET}@{host}", f"{postgres_url}?password={SECRET}")):
        run = write_run(tmp_path / f"run{number}", benchmark_json(number, f"c0ffee{number}"), accuracy_json())
        assert main(["history", "add", str(run), "--db", url]) == 0
        assert main(["history", "show", "--db", url, "--plot", str(plot)]) == 0
        assert main(["compare", str(run), "--against-history", "main", "--db", url]) == 0
        printed.append(capsys.readouterr())
    assert main(["history", "show", "--db", f"postgresql://fbv:hunter2@{SECRET}@{host}"]) == 2
    printed.append(capsys.readouterr())
    everything = "\n".join([*(out + err for out, err in printed), *drawn])
    assert drawn and "stored run #1" in printed[0].out and "***" in printed[-1].err
    assert SECRET not in everything and "hunter2" not in everything
    assert SECRET.encode() not in plot.read_bytes()
