"""Comparisons across runs: the between-run noise, the gate judged by it, what is refused, what the history keeps.

Runs are written the way the suite writes them (the records' own to_json), with every speedup moved by a seeded
between-run factor, as replicate runs of unchanged code move on a shared machine."""

import json
import math

import numpy as np
import pytest

from fastbert_variants.cli import main
from fastbert_variants.noise import Noise, Spread, conservative, measure_noise
from fastbert_variants.regression import adjusted, smallest_caught
from fastbert_variants.results import LatencyResult, OfflineResult, Speedup
from fastbert_variants.runs import Run, load_run

MACHINE = {"cpu": "AMD EPYC", "cpu_isa": "avx512_vnni", "gpu": None}
SPEEDUPS = {"ort-fp32": 1.3, "ort-int8-dynamic": 2.1, "openvino-int8": 3.0, "torchscript": 1.05}
SEQ_LENS, BATCHES = (16, 128, 512), (1, 8, 32)
BETWEEN_RUNS = 0.04  # sd of ln speedup between runs of the same code (the A/A runs on the Zen 4 saw 1-8%)


def _speedup(value: float) -> Speedup:
    return Speedup(value, (value * 0.97, value * 1.03), blocks=10, calls_per_block=5, ratios=(value,) * 10)


def run_json(seed: int, slower: dict | None = None, threads: int = 2, model: str = "default",
             seq_lens=SEQ_LENS, machine=MACHINE) -> dict:
    """One run: fixed cells and offline batch sizes of every variant; `slower` divides a variant's speedups."""
    rng = np.random.default_rng(seed)
    records = []
    for variant, speedup in {"torch-fp32": 1.0, **SPEEDUPS}.items():
        run_factor = 1.0 if variant == "torch-fp32" else math.exp(rng.normal(0, BETWEEN_RUNS))  # the run's state
        speedup = speedup * run_factor / (slower or {}).get(variant, 1.0)
        for seq_len in seq_lens:
            value = 1.0 if variant == "torch-fp32" else speedup * math.exp(rng.normal(0, 0.02))
            records.append(LatencyResult(variant, "cpu", 1, seq_len, 10.0 / value, _speedup(value), threads=threads,
                                         model=model))
        for batch in BATCHES:
            value = 1.0 if variant == "torch-fp32" else speedup * math.exp(rng.normal(0, 0.02))
            records.append(OfflineResult(variant, "cpu", batch, "dynamic", 192, 100 * value, _speedup(value), 100.0,
                                         2.0, 2, 0.3, 24.0, threads=threads, model=model))
    return {"machine_info": {"fastbert_variants": machine}, "datetime": f"2026-12-05T10:{seed % 60:02d}:00",
            "commit_info": {"id": f"c0ffee{seed}", "branch": "main", "dirty": False},
            "benchmarks": [{"name": f"test_{r.KIND}[{r.where}-{r.variant}]", "extra_info": r.to_json()} for r in records]}


def write(path, data: dict):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path


@pytest.fixture
def replicates(tmp_path):
    return [write(tmp_path / f"rep{i}" / "benchmark.json", run_json(i)) for i in range(6)]


@pytest.fixture
def noise_file(tmp_path, replicates):
    noise = measure_noise([load_run(p) for p in replicates])
    return write(tmp_path / "noise.json", noise.to_json())


def test_the_spread_of_a_group_is_measured_across_runs_not_divided_by_its_cells(replicates):
    noise = measure_noise([load_run(p) for p in replicates])
    group = noise.groups["cells cpu ort-fp32"]
    assert group.runs == 6 and 0.01 < group.sd < 0.12  # the run's own factor (4%) is not averaged away by 3 cells
    assert set(noise.cells["offline cpu ort-fp32"]) == {f"cpu-offline-b{b}-dynamic ort-fp32" for b in BATCHES}
    assert "cells cpu torch-fp32" not in noise.groups  # FP32 is the yardstick, not a figure
    widest = conservative(noise)
    assert widest.groups == {} and widest.pooled["cells/group"][0] == max(
        s.sd for g, s in noise.groups.items() if g.startswith("cells"))
    assert Noise.from_json(json.loads(json.dumps(noise.to_json()))) == noise


def test_unchanged_code_passes_every_pair(tmp_path, replicates, noise_file, capsys):
    """A/A: every pair of six replicate runs compared as CI would, 0 regressions (15 pairs, 80 comparisons each)."""
    for i, base in enumerate(replicates):
        for new in replicates[i + 1:]:
            assert main(["compare", str(base.parent), str(new.parent), "--noise", str(noise_file)]) == 0
            assert "0 regression(s)" in capsys.readouterr().out


def test_a_variant_made_slower_fails_with_its_group_and_says_why(tmp_path, replicates, noise_file, capsys):
    slower = write(tmp_path / "slow" / "benchmark.json", run_json(99, slower={"ort-int8-dynamic": 1.35}))
    assert main(["compare", str(replicates[0].parent), str(slower.parent), "--noise", str(noise_file)]) == 1
    out = capsys.readouterr().out
    regressed = [line for line in out.splitlines() if line.startswith("REGRESSED")]
    assert regressed and all("ort-int8-dynamic" in line for line in regressed)
    assert any("cells cpu ort-int8-dynamic (3 cells)" in line for line in regressed)
    assert "between-run sd" in regressed[0] and "adjusted" in regressed[0]
    assert "Benjamini-Hochberg over the comparisons at 0.01" in out.splitlines()[-1]
    assert "2 regression(s) in 8 comparisons" in out.splitlines()[-1]  # 4 variants x 2 scenarios: the groups
    cell = next(line for line in out.splitlines() if line.startswith("(cell)") and "ort-int8-dynamic" in line)
    assert "not gated alone: its group is" in cell


def test_against_the_history_the_runs_are_their_own_noise_and_offline_is_gated(tmp_path, replicates, capsys):
    db = f"sqlite:///{tmp_path / 'h.sqlite'}"
    for path in replicates:
        assert main(["history", "add", str(path), "--db", db]) == 0
    assert "15 latency, 15 offline, 0 accuracy results" in capsys.readouterr().out
    assert main(["history", "add", str(replicates[0]), "--db", db]) == 2  # the same run is not pooled twice
    assert "already in the history as run #1" in capsys.readouterr().err

    same = write(tmp_path / "same" / "benchmark.json", run_json(50))
    assert main(["compare", str(same), "--against-history", "main", "--last", "6", "--db", db]) == 0
    out = capsys.readouterr().out
    assert "BASE: the last 6 run(s) of main" in out and "of the 6 base runs themselves" in out

    # the offline scenario 40% slower, the fixed cells unchanged: gated through the history too
    data = run_json(51)
    for entry in data["benchmarks"]:
        info = entry["extra_info"]
        if info["kind"] == "offline" and info["variant"] != "torch-fp32":
            info["speedup_vs_fp32"] *= 0.6
    slower = write(tmp_path / "offline-slower" / "benchmark.json", data)
    assert main(["compare", str(slower), "--against-history", "main", "--last", "6", "--db", db]) == 1
    regressed = [line for line in capsys.readouterr().out.splitlines() if line.startswith("REGRESSED")]
    assert regressed and all("offline" in line for line in regressed)

    assert main(["history", "show", "--db", db, "--cell", "cpu-offline-b8-dynamic"]) == 0
    assert "cpu-offline-b8-dynamic  (speedup over torch-fp32, by run)" in capsys.readouterr().out


@pytest.mark.parametrize(("change", "named"), [({"threads": 64}, "threads: 2 in BASE, 64 in NEW"),
                                               ({"model": "random:bert-large"}, "model: default in BASE"),
                                               ({"machine": {"cpu": "Intel Xeon", "cpu_isa": "amx"}}, "machine: AMD"),
                                               ({"seq_lens": (32, 64)}, "cells: cpu-b1-s128")])
def test_runs_that_cannot_be_compared_are_refused_in_one_line(tmp_path, replicates, noise_file, capsys, change, named):
    other = write(tmp_path / "other" / "benchmark.json", run_json(7, **change))
    assert main(["compare", str(replicates[0]), str(other), "--noise", str(noise_file)]) == 2
    err = capsys.readouterr().err
    assert named in err and "--allow-different" in err and len(err.splitlines()) == 1
    aspect = named.split(":")[0]
    code = main(["compare", str(replicates[0]), str(other), "--allow-different", aspect + ",machine,model"])
    out = capsys.readouterr().out
    assert f"compared knowingly across different {aspect}" in out
    if aspect == "cells":  # BASE's cells that NEW did not time are regressions: compared knowingly, still said
        assert code == 1 and "not measured in NEW" in out
    else:  # the same speedups drawn on another setup: within the noise
        assert code == 0 and "0 regression(s)" in out


def test_a_noise_file_of_another_machine_is_refused(tmp_path, replicates, noise_file, capsys):
    elsewhere = write(tmp_path / "xeon" / "benchmark.json", run_json(3, machine={"cpu": "Intel Xeon", "cpu_isa": "amx"}))
    assert main(["compare", str(elsewhere), str(elsewhere), "--noise", str(noise_file)]) == 2
    assert "was measured on another setup: machine" in capsys.readouterr().err


def test_without_a_noise_file_or_history_the_package_default_is_used_and_named(tmp_path, replicates, capsys):
    assert main(["compare", str(replicates[0]), str(replicates[1])]) == 0
    assert "the package's default" in capsys.readouterr().out.splitlines()[-1]


def test_benjamini_hochberg_and_the_smallest_fall_caught():
    assert adjusted([0.001, 0.02, 0.5]) == pytest.approx([0.003, 0.03, 0.5])
    from fastbert_variants.regression import Allowance

    tight, loose = Allowance(0.02, 60, "pooled"), Allowance(0.08, 5, "own")
    assert smallest_caught(tight, 30, 0.01, bases=1) < 0.15 < smallest_caught(loose, 30, 0.01, bases=1)
    assert smallest_caught(tight, 30, 0.01, bases=6) < smallest_caught(tight, 30, 0.01, bases=1)


def test_noise_needs_replicates_of_one_setup(tmp_path, capsys):
    one = write(tmp_path / "a" / "benchmark.json", run_json(1))
    other = write(tmp_path / "b" / "benchmark.json", run_json(2, threads=4))
    assert main(["noise", str(one), "--out", str(tmp_path / "n.json")]) == 2
    assert "needs 2 runs or more" in capsys.readouterr().err
    assert main(["noise", str(one), str(other), "--out", str(tmp_path / "n.json")]) == 2
    assert "is not a replicate of" in capsys.readouterr().err and not (tmp_path / "n.json").exists()
    assert main(["compare", str(one), str(one), "--noise", str(one)]) == 2
    assert "is not a between-run noise file" in capsys.readouterr().err


def test_replicate_runs_pytest_in_fresh_processes(tmp_path, capsys):
    test_file = tmp_path / "test_tiny.py"
    test_file.write_text("def test_tiny(benchmark):\n    benchmark(sum, range(10))\n")
    assert main(["replicate", "--runs", "2", "--out", str(tmp_path / "out"), "--", str(test_file),
                 "-p", "no:fastbert_variants"]) == 2  # timed, but no speedups over FP32 in it: nothing to spread
    out, err = capsys.readouterr()
    assert "run 2/2: pytest exit 0" in out and (tmp_path / "out" / "run-02" / "benchmark.json").is_file()
    assert len(err.splitlines()) == 1
    with pytest.raises(SystemExit) as exited:  # argparse's own usage error, one line
        main(["replicate", "--runs", "1", "--out", str(tmp_path / "o")])
    assert exited.value.code == 2 and "at least 2" in capsys.readouterr().err
    assert main(["replicate", "--out", str(tmp_path / "o"), "--", "--benchmark-json", "x.json"]) == 2
    assert "leave --benchmark-json out" in capsys.readouterr().err


def test_a_run_of_a_busy_machine_is_left_out_of_the_noise_and_named_in_a_verdict(tmp_path, replicates, capsys):
    busy = write(tmp_path / "busy" / "benchmark.json",
                 run_json(8, machine={**MACHINE, "cpu_share": {"seconds": 90.0, "ours": 0.6, "others": 0.37}}))
    assert main(["noise", *map(str, replicates[:3]), str(busy), "--out", str(tmp_path / "n.json")]) == 0
    out = capsys.readouterr().out
    assert "left out: " in out and "other processes took 37.0% of the machine" in out
    noise = json.loads((tmp_path / "n.json").read_text())
    assert len(noise["sources"]) == 3 and len(noise["left_out"]) == 1
    assert main(["compare", str(replicates[0]), str(busy), "--noise", str(tmp_path / "n.json")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-2].startswith("note: NEW ran on a busy machine") and "regression(s)" in lines[-1]


def test_a_history_of_busy_runs_falls_back_to_the_default_noise_and_says_why(tmp_path, capsys):
    db = f"sqlite:///{tmp_path / 'h.sqlite'}"
    busy = {**MACHINE, "cpu_share": {"seconds": 90.0, "ours": 0.6, "others": 0.3}}
    for seed in range(3):
        assert main(["history", "add", str(write(tmp_path / f"b{seed}" / "benchmark.json", run_json(seed, machine=busy))),
                     "--db", db]) == 0
    new = write(tmp_path / "new" / "benchmark.json", run_json(9, machine=busy))
    assert main(["compare", str(new), "--against-history", "main", "--db", db]) == 0
    last = capsys.readouterr().out.splitlines()[-1]
    assert "the package's default" in last and "3 of 3 ran on a busy machine" in last


def test_a_spread_reads_back_and_a_damaged_file_is_one_line(tmp_path, capsys):
    spread = Spread.of([0.1, 0.12, 0.09])
    assert spread.runs == 3 and spread.low < spread.median < spread.high
    broken = write(tmp_path / "noise.json", {"kind": "between-run-noise", "format": 1, "groups": {"x": {"sd": 1}}})
    run = write(tmp_path / "r" / "benchmark.json", run_json(1))
    assert main(["compare", str(run), str(run), "--noise", str(broken)]) == 2
    assert "damaged noise file" in capsys.readouterr().err
    assert Run.of().machine_kind == "unknown CPU (?), ? threads"
