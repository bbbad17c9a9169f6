"""How small a slowdown the regression gate catches on this machine: a real slowdown of known size, judged by `compare`.

    python tools/regression_power.py --out /tmp/power --fraction 0.15 --bases 6 --tries 10

Runs the shipped timed tests (the fixed cells and the offline scenario, quick profile, CPU) over torch-fp32,
ort-int8-dynamic and the test-only `slowed-ort-int8-dynamic` (tests/data/slowed_family: ort-int8-dynamic, then a
spin of $FASTBERT_SLOWED_FRACTION of each call's time), each run in a fresh process: `--bases` runs unslowed,
kept in a history as main's, then `--tries` runs slowed by `--fraction`, each compared as a pull request's would
be (`compare TRY --against-history main`). Prints, per try, whether the slowed variant's fixed-cell group and
offline group were caught, and whether anything else was flagged (a false alarm).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

SLOWED = Path(__file__).resolve().parents[1] / "tests" / "data" / "slowed_family"
VARIANTS = "torch-fp32,ort-int8-dynamic,slowed-ort-int8-dynamic"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True)
    parser.add_argument("--fraction", type=float, default=0.15)
    parser.add_argument("--bases", type=int, default=6)
    parser.add_argument("--tries", type=int, default=10)
    args = parser.parse_args()
    out = Path(args.out)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(SLOWED), os.environ.get("PYTHONPATH")]))}
    pytest_args = ["--", "--pyargs", "fastbert_variants.testsuite.benchmarks.test_latency",
                   "fastbert_variants.testsuite.benchmarks.test_offline", "--fastbert-profile", "quick",
                   "--fastbert-devices", "cpu", "--fastbert-variants", VARIANTS]
    cli = [sys.executable, "-m", "fastbert_variants.cli"]
    db = f"sqlite:///{out / 'history.sqlite'}"
    if not list((out / "bases").glob("run-*/benchmark.json")):
        subprocess.run([*cli, "replicate", "--runs", str(args.bases), "--out", str(out / "bases"), *pytest_args],
                       env={**env, "FASTBERT_SLOWED_FRACTION": "0"}, check=True)
    if not (out / "history.sqlite").is_file():
        for run in sorted((out / "bases").glob("run-*/benchmark.json")):
            subprocess.run([*cli, "history", "add", str(run), "--db", db, "--branch", "main"], env=env, check=True)
    tries = out / f"slowed-{args.fraction:g}"
    subprocess.run([*cli, "replicate", "--runs", str(args.tries), "--out", str(tries), *pytest_args],
                   env={**env, "FASTBERT_SLOWED_FRACTION": str(args.fraction)}, check=False)
    caught = {"cells": 0, "offline": 0}
    false_alarms = 0
    for run in sorted(tries.glob("run-*/benchmark.json")):
        done = subprocess.run([*cli, "compare", str(run), "--against-history", "main", "--last", str(args.bases),
                               "--db", db], env=env, capture_output=True, text=True)
        regressed = [line for line in done.stdout.splitlines() if line.startswith("REGRESSED")]
        hit = {kind: any(re.search(rf"\b{kind} cpu slowed-ort-int8-dynamic", line) for line in regressed)
               for kind in caught}
        others = [line for line in regressed if "slowed-ort-int8-dynamic" not in line]
        false_alarms += bool(others)
        for kind in caught:
            caught[kind] += hit[kind]
        group_lines = [line for line in done.stdout.splitlines() if "cpu slowed-ort-int8-dynamic (" in line]
        print(f"{run.parent.name}: exit {done.returncode}; " + "; ".join(" ".join(line.split()[:9]) for line in group_lines)
              + (f"; OTHERS FLAGGED: {len(others)}" if others else ""))
    total = len(list(tries.glob("run-*/benchmark.json")))
    print(f"slowed by {100 * args.fraction:g}% of its call time: caught in the fixed cells {caught['cells']}/{total}, "
          f"offline {caught['offline']}/{total}; tries with any other variant flagged: {false_alarms}/{total}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
