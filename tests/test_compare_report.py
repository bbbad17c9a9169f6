"""`fastbert-variants compare` and `report` on run JSON written the way the suite writes it."""

import copy
import json

import pytest

from fastbert_variants.cli import main
from fastbert_variants.noise import Noise
from fastbert_variants.results import LatencyResult, read_accuracy
from fastbert_variants.runs import Run
from fastbert_variants.scenarios import SCENARIOS
from fastbert_variants.scenarios.cells import recommendation_lines


def recommend(latency, accuracy):
    """The fixed cells' recommendations of these records."""
    return SCENARIOS["cells"].recommend(Run.of(*latency, accuracy=accuracy))

# (variant, speedup over FP32, 95% CI) per cell; FP32's own median in ms.
CELLS = {"cpu-b1-s16": 10.0, "cpu-b1-s128": 30.0}
SPEEDUPS = {"ort-fp32": (1.30, [1.20, 1.40]), "ort-int8-dynamic": (1.60, [1.50, 1.70]),
            "torchscript": (1.02, [0.95, 1.10]), "torchao-int8-dynamic": (0.10, [0.09, 0.11])}


def latency_result(cell: str, variant: str, speedup: float, ci95: list[float]) -> dict:
    seq_len = int(cell.rsplit("s", 1)[1])
    return {"variant": variant, "device": "cpu", "batch_size": 1, "seq_len": seq_len, "cell": cell, "threads": 2,
            "median_ms": CELLS[cell] / speedup, "speedup_vs_fp32": speedup, "speedup_ci95": ci95,
            "warmup_rounds": 2, "model": "default", "cpu_isa": "avx2", "gpu": None, "versions": {"torch": "2.13.0"}}


def benchmark_json() -> dict:
    results = [latency_result(cell, "torch-fp32", 1.0, [1.0, 1.0]) for cell in CELLS]
    results += [latency_result(cell, v, s, ci) for cell in CELLS for v, (s, ci) in SPEEDUPS.items()]
    return {"machine_info": {}, "commit_info": {}, "version": "5.1.0",
            "benchmarks": [{"name": f"test_latency[{r['cell']}-{r['variant']}]", "group": r["cell"], "extra_info": r,
                            "stats": {"median": r["median_ms"] / 1e3}} for r in results]}


def accuracy_record(variant: str, accuracy: float, fp32: float = 0.8628, max_points: float = 1.0) -> dict:
    drop = 100 * (fp32 - accuracy)
    return {"variant": variant, "device": "cpu", "rows": 4506, "fp32": {"accuracy": fp32}, "scores": {"accuracy": accuracy},
            "comparison": {"flipped_to_wrong": 3, "flipped_to_right": 1, "mcnemar_p": 0.6}, "drop_points": drop,
            "drop_relative_percent": drop / fp32, "passed": drop <= max_points,
            "gate": {"max_points": max_points, "max_relative_percent": 1.0}}


def accuracy_json() -> dict:
    scores = {"ort-fp32": 0.8628, "ort-int8-dynamic": 0.8489, "torchscript": 0.8628, "torchao-int8-dynamic": 0.8600}
    return {f"cpu/{v}": accuracy_record(v, a) for v, a in scores.items()}


def write_run(folder, bench: dict, acc: dict):
    folder.mkdir()
    (folder / "benchmark.json").write_text(json.dumps(bench))
    (folder / "accuracy.json").write_text(json.dumps(acc))
    return folder


@pytest.fixture
def base_run(tmp_path):
    return write_run(tmp_path / "base", benchmark_json(), accuracy_json())


def noise_file(folder, sd: float = 0.03) -> str:
    """A between-run spread of `sd` for every group and cell, as replicate runs of these runs' setup would measure."""
    spread = Noise("unknown CPU (avx2), 2 threads", "default", 2, [f"run{i}" for i in range(6)], {}, {}, {},
                   {"cells/group": (sd, 30), "cells/figure": (sd, 30)})
    path = folder / f"noise-{sd}.json"
    path.write_text(json.dumps(spread.to_json()))
    return str(path)


def test_same_results_compare_clean(base_run, tmp_path, capsys):
    same = write_run(tmp_path / "same", benchmark_json(), accuracy_json())
    assert main(["compare", str(base_run), str(same), "--noise", noise_file(tmp_path)]) == 0
    assert "0 regression(s)" in capsys.readouterr().out


def test_a_variant_made_20_percent_slower_relative_to_fp32_fails(base_run, tmp_path, capsys):
    bench = benchmark_json()
    for entry in bench["benchmarks"]:
        info = entry["extra_info"]
        if info["variant"] == "ort-fp32":  # every cell: a slowdown of the variant, not of one shape
            info["speedup_vs_fp32"] *= 0.8
            info["speedup_ci95"] = [x * 0.8 for x in info["speedup_ci95"]]
    slower = write_run(tmp_path / "slower", bench, accuracy_json())
    assert main(["compare", str(base_run), str(slower), "--max-speedup-loss", "10%", "--noise", noise_file(tmp_path)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split()[:5] == ["REGRESSED", "speedup", "cells", "cpu", "ort-fp32"]  # regressions first
    assert "-20.0%" in lines[1]
    assert main(["compare", str(base_run), str(slower), "--max-speedup-loss", "25", "--noise", noise_file(tmp_path)]) == 0


def test_machine_speed_alone_is_no_regression(base_run, tmp_path):
    bench = benchmark_json()
    for entry in bench["benchmarks"]:
        entry["extra_info"]["median_ms"] *= 1.5  # a slower runner: every latency up, every ratio the same
    assert main(["compare", str(base_run), str(write_run(tmp_path / "slow-machine", bench, accuracy_json()))]) == 0


def test_an_accuracy_drop_past_the_bound_fails(base_run, tmp_path, capsys):
    acc = accuracy_json()
    acc["cpu/ort-fp32"] = accuracy_record("ort-fp32", 0.8550)  # 0.78 points lower than BASE, still inside its gate
    worse = write_run(tmp_path / "worse", benchmark_json(), acc)
    assert main(["compare", str(base_run), str(worse), "--max-accuracy-drop", "0.5"]) == 1
    first_row = capsys.readouterr().out.splitlines()[1]
    assert first_row.split()[:3] == ["REGRESSED", "accuracy", "cpu/ort-fp32"] and "-0.78 pts" in first_row
    assert main(["compare", str(base_run), str(worse), "--max-accuracy-loss", "1.0"]) == 0  # the new name; the old above


def test_a_variant_missing_from_the_new_run_fails(base_run, tmp_path, capsys):
    bench = benchmark_json()
    bench["benchmarks"] = [b for b in bench["benchmarks"] if b["extra_info"]["variant"] != "torchscript"]
    assert main(["compare", str(base_run), str(write_run(tmp_path / "fewer", bench, accuracy_json()))]) == 1
    assert "not measured in NEW" in capsys.readouterr().out


@pytest.mark.parametrize(("argv", "expected"), [
    (["compare", "/no/base.json", "/no/new.json"], "/no/base.json does not exist"),
    (["report", "/no/run.json", "--out", "/tmp/x"], "/no/run.json does not exist"),
])
def test_missing_run_files_are_one_line(argv, expected, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert expected in err and err.count("\n") == 1


def test_bad_speedup_bound_is_one_line(base_run, capsys):
    assert main(["compare", str(base_run), str(base_run), "--max-speedup-loss", "ten"]) == 2
    assert "is not a percentage" in capsys.readouterr().err


def test_recommendation_is_the_fastest_within_the_gate_and_beyond_noise():
    bench = benchmark_json()
    latency = [LatencyResult.from_json(b["extra_info"]) for b in bench["benchmarks"]]
    by_cell = {r.cell: r for r in recommend(latency, read_accuracy(accuracy_json()))}
    rec = by_cell["cpu-b1-s128"]
    assert rec.variant == "ort-fp32"  # ort-int8-dynamic is faster but fails its gate (1.39 points)
    assert "failed its accuracy gate" in rec.excluded["ort-int8-dynamic"]
    assert "not faster beyond noise" in rec.excluded["torchscript"]
    assert "slower than" in rec.excluded["torchao-int8-dynamic"]
    unchecked = recommend(latency, None)[0]
    assert unchecked.variant == "ort-int8-dynamic" and unchecked.drop_points is None


def test_report_writes_summary_and_three_plots(base_run, tmp_path, capsys):
    out = tmp_path / "report"
    assert main(["report", str(base_run / "benchmark.json"), "--accuracy", str(base_run / "accuracy.json"),
                 "--out", str(out)]) == 0
    summary = (out / "summary.md").read_text()
    assert summary.splitlines()[2] == "## Recommendation"
    assert "- cpu-b1-s128: ort-fp32, 1.30x faster" in summary
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert pngs == ["accuracy_against_speedup.png", "latency_by_seq_len.png", "speedup_per_cell.png"]
    assert all((out / p).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and (out / p).stat().st_size > 10_000 for p in pngs)
    assert "recommended, fixed cells" in capsys.readouterr().out


def test_compare_reads_accuracy_given_apart(base_run, tmp_path):
    acc = copy.deepcopy(accuracy_json())
    acc["cpu/torchscript"]["passed"] = False
    (tmp_path / "new-acc.json").write_text(json.dumps(acc))
    assert main(["compare", str(base_run / "benchmark.json"), str(base_run / "benchmark.json"),
                 "--base-accuracy", str(base_run / "accuracy.json"), "--new-accuracy", str(tmp_path / "new-acc.json")]) == 1


def test_a_fall_within_the_between_run_spread_is_noise_not_a_regression(base_run, tmp_path, capsys):
    bench = benchmark_json()
    for entry in bench["benchmarks"]:
        info = entry["extra_info"]
        if info["variant"] == "ort-fp32":
            info["speedup_vs_fp32"] *= 0.86  # -14%: past the 10% bound, but runs of this setup move 8%
    noisy = write_run(tmp_path / "noisy", bench, accuracy_json())
    assert main(["compare", str(base_run), str(noisy), "--noise", noise_file(tmp_path, sd=0.08)]) == 0
    out = capsys.readouterr().out
    assert "between-run sd 8.0% (pooled, df 30)" in out and "within noise" in out
    assert main(["compare", str(base_run), str(noisy), "--noise", noise_file(tmp_path, sd=0.02)]) == 1


def test_a_tie_goes_to_the_smaller_accuracy_drop_and_says_so():

    latency = [latency_result("cpu-b1-s128", "torch-fp32", 1.0, [1.0, 1.0]),
               {**latency_result("cpu-b1-s128", "torch-dynamic-int8", 1.25, [1.24, 1.28]), "size_mb": 40},
               {**latency_result("cpu-b1-s128", "ort-int8-dynamic", 1.24, [1.22, 1.27]), "size_mb": 35},
               {**latency_result("cpu-b1-s128", "ort-fp32", 1.10, [1.05, 1.15]), "size_mb": 90}]
    accuracy = {"cpu/torch-dynamic-int8": accuracy_record("torch-dynamic-int8", 0.8559),
                "cpu/ort-int8-dynamic": accuracy_record("ort-int8-dynamic", 0.8650),
                "cpu/ort-fp32": accuracy_record("ort-fp32", 0.8628)}
    (rec,) = recommend([LatencyResult.from_json(r) for r in latency], read_accuracy(accuracy))
    assert rec.variant == "ort-int8-dynamic" and rec.tied_with == ("torch-dynamic-int8",)
    assert rec.fastest == "torch-dynamic-int8"
    assert "a tie with torch-dynamic-int8" in recommendation_lines([rec])[0]
    # Intervals apart: the fastest wins outright, and no tie is claimed.
    latency[1] = {**latency[1], "speedup_vs_fp32": 1.40, "speedup_ci95": [1.35, 1.45]}
    (rec,) = recommend([LatencyResult.from_json(r) for r in latency], read_accuracy(accuracy))
    assert rec.variant == "torch-dynamic-int8" and not rec.tied_with and "tie" not in recommendation_lines([rec])[0]


def test_overlapping_intervals_are_told_apart_head_to_head_over_the_same_rounds():
    """The issue's case: ort-int8-dynamic 3.03x [2.93-3.25] beside openvino-int8-nncf-default 3.47x [3.25-3.84]. Both
    swing with the machine round by round, so their intervals touch; paired round by round, one is 14% faster."""
    swing = [0.93, 1.05, 0.97, 1.10, 0.95, 1.02, 1.08, 0.99, 0.96, 1.04, 1.01, 0.98]
    ov = [3.47 * w for w in swing]
    ort = [3.03 * w * (1 + 0.01 * ((i % 3) - 1)) for i, w in enumerate(swing)]

    def record(variant, ratios, ci):
        return {**latency_result("cpu-b1-s128", variant, sorted(ratios)[6], ci), "speedup_block_ratios": ratios}

    latency = [latency_result("cpu-b1-s128", "torch-fp32", 1.0, [1.0, 1.0]),
               record("openvino-int8-nncf-default", ov, [3.25, 3.84]), record("ort-int8-dynamic", ort, [2.93, 3.25])]
    accuracy = {"cpu/openvino-int8-nncf-default": accuracy_record("openvino-int8-nncf-default", 0.8600),
                "cpu/ort-int8-dynamic": accuracy_record("ort-int8-dynamic", 0.8628)}  # the smaller drop
    (rec,) = recommend([LatencyResult.from_json(r) for r in latency], read_accuracy(accuracy))
    assert rec.variant == "openvino-int8-nncf-default" and not rec.tied_with
    (beaten,) = rec.beaten
    assert beaten.other == "ort-int8-dynamic" and 1.12 < beaten.ratio < 1.16 and beaten.ci95[0] > 1.1
    assert "beats ort-int8-dynamic head to head by 1.14" in recommendation_lines([rec])[0]
    # Paired rounds that straddle 1: still a tie, decided by accuracy, and the line gives the head-to-head figures.
    latency[2] = record("ort-int8-dynamic", [x * (1.06 if i % 2 else 0.95) * 3.40 / 3.03 for i, x in enumerate(ort)],
                        [3.2, 3.8])
    (rec,) = recommend([LatencyResult.from_json(r) for r in latency], read_accuracy(accuracy))
    assert rec.variant == "ort-int8-dynamic" and rec.tied_with == ("openvino-int8-nncf-default",)
    line = recommendation_lines([rec])[0]
    assert "a tie with openvino-int8-nncf-default (" in line and "head to head" in line and "12 paired rounds" in line


def test_a_failed_advisory_gate_excludes_the_variant_and_says_so_in_the_table():
    from fastbert_variants.report import accuracy_rows

    latency = [latency_result("cpu-b1-s128", "torch-fp32", 1.0, [1.0, 1.0]),
               latency_result("cpu-b1-s128", "ort-int8-dynamic", 1.60, [1.50, 1.70]),
               latency_result("cpu-b1-s128", "ort-int8-dynamic-every-matmul", 2.06, [1.97, 2.22])]
    accuracy = {"cpu/ort-int8-dynamic": accuracy_record("ort-int8-dynamic", 0.8600),
                "cpu/ort-int8-dynamic-every-matmul": {**accuracy_record("ort-int8-dynamic-every-matmul", 0.8489),
                                                      "advisory_gate": True}}
    (rec,) = recommend([LatencyResult.from_json(r) for r in latency], read_accuracy(accuracy))
    assert rec.variant == "ort-int8-dynamic"
    assert "failed its accuracy gate" in rec.excluded["ort-int8-dynamic-every-matmul"]
    assert accuracy_rows(read_accuracy(accuracy))[-1][-1] == "FAIL (advisory)"


def test_a_gate_with_significance_fails_only_a_drop_unlikely_to_be_chance():
    from fastbert_variants.results import Comparison, Gate

    gate = Gate(1.0, 1.0, significance=0.05)
    one_flip = Comparison(1, 0, mcnemar_p=1.0, mcnemar_worse_p=0.5)  # 1 of 121 rows lost: 0.83 points, 1.01% of FP32
    many_flips = Comparison(17, 4, mcnemar_p=0.0072, mcnemar_worse_p=0.0036)
    assert not Gate(1.0, 1.0).check(0.8182, 0.8099)[0]  # the thresholds alone fail one flip
    assert gate.check(0.8182, 0.8099, one_flip)[0]
    assert not gate.check(0.8182, 0.7107, many_flips)[0]
    assert gate.check(0.8182, 0.8182, None)[0]  # within the thresholds, no test needed


def _one_line_exit_2(argv, capsys, expected: str):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert expected in err and err.count("\n") == 1, err


def test_an_empty_base_compares_nothing_and_is_refused(base_run, tmp_path, capsys):
    (tmp_path / "empty.json").write_text("{}")
    _one_line_exit_2(["compare", str(tmp_path / "empty.json"), str(base_run)], capsys, "holds no accuracy records")
    only_fp32 = benchmark_json()
    only_fp32["benchmarks"] = [b for b in only_fp32["benchmarks"] if b["extra_info"]["variant"] == "torch-fp32"]
    (tmp_path / "fp32.json").write_text(json.dumps(only_fp32))
    _one_line_exit_2(["compare", str(tmp_path / "fp32.json"), str(base_run)], capsys, "nothing to compare")


@pytest.mark.parametrize(("field", "value"), [("speedup_vs_fp32", float("nan")), ("speedup_vs_fp32", 0),
                                              ("speedup_ci95", [float("nan"), 1.0]), ("median_ms", -1.0)])
def test_a_nan_or_zero_speedup_is_refused_not_read_as_unchanged(base_run, tmp_path, capsys, field, value):
    bench = benchmark_json()
    bench["benchmarks"][3]["extra_info"][field] = value
    broken = write_run(tmp_path / "broken", bench, accuracy_json())
    _one_line_exit_2(["compare", str(base_run), str(broken)], capsys, "positive finite number")
    _one_line_exit_2(["compare", str(broken), str(base_run)], capsys, "positive finite number")


def test_an_accuracy_record_without_scores_is_refused(base_run, tmp_path, capsys):
    acc = accuracy_json()
    del acc["cpu/torchscript"]["scores"]
    broken = write_run(tmp_path / "broken", benchmark_json(), acc)
    _one_line_exit_2(["compare", str(base_run), str(broken)], capsys, "'cpu/torchscript' has no scores")


def test_benchmarks_that_are_not_a_list_are_refused(base_run, tmp_path, capsys):
    broken = write_run(tmp_path / "broken", {"benchmarks": 5}, accuracy_json())
    _one_line_exit_2(["compare", str(base_run), str(broken)], capsys, "'benchmarks' is int, not a list")


def test_report_of_a_malformed_run_writes_nothing(base_run, tmp_path, capsys):
    bench = benchmark_json()
    bench["benchmarks"][3]["extra_info"]["speedup_vs_fp32"] = float("nan")
    broken = write_run(tmp_path / "broken", bench, accuracy_json())
    out = tmp_path / "report"
    _one_line_exit_2(["report", str(broken), "--out", str(out)], capsys, "positive finite number")
    assert not out.exists()


def test_report_of_results_without_threads_writes_everything(base_run, tmp_path):
    bench = benchmark_json()
    for entry in bench["benchmarks"]:
        del entry["extra_info"]["threads"]
    out = tmp_path / "report"
    assert main(["report", str(write_run(tmp_path / "old", bench, accuracy_json())), "--out", str(out)]) == 0
    assert (out / "summary.md").is_file() and len(list(out.glob("*.png"))) == 3
