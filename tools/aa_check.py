"""A/A: replicate runs of the same code compared as a user's CI would; every comparison should pass.

    python tools/aa_check.py noise/run-*/benchmark.json

Compares every pair of the runs (`compare A B --noise NOISE`, the noise measured from the same runs), and each run
against the others kept in a history (`compare RUN --against-history main`, leave one out: the other runs are
BASE and its noise). Prints one row per comparison: exit code, regressions, comparisons, the largest fall.
"""

from __future__ import annotations

import argparse
import itertools
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from tabulate import tabulate


def compare(*args: str) -> tuple[int, str]:
    done = subprocess.run([sys.executable, "-m", "fastbert_variants.cli", "compare", *args],
                          capture_output=True, text=True)
    return done.returncode, done.stdout + done.stderr


def row(what: str, code: int, out: str) -> list:
    summary = next((line for line in out.splitlines() if "regression(s) in" in line), out.strip()[-200:])
    counts = re.match(r"(\d+) regression\(s\) in (\d+) comparisons", summary)
    falls = [float(m) for line in out.splitlines() if " cells)" in line  # the gated groups' falls
             for m in re.findall(r"\s(-\d+\.\d)%\s", line)]
    flagged = [" ".join(line.split()[2:4]) for line in out.splitlines() if line.startswith("REGRESSED")]
    return [what, code, *(counts.groups() if counts else ("?", "?")), f"{min(falls, default=0):.1f}%",
            "; ".join(flagged) or "-"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+")
    args = parser.parse_args()
    runs = [Path(r) for r in args.runs]
    scratch = Path(tempfile.mkdtemp())
    noise = scratch / "noise.json"
    subprocess.run([sys.executable, "-m", "fastbert_variants.cli", "noise", *map(str, runs), "--out", str(noise)],
                   check=True, capture_output=True)
    rows = [row(f"{a.parent.name} vs {b.parent.name} (--noise)", *compare(str(a), str(b), "--noise", str(noise)))
            for a, b in itertools.combinations(runs, 2)]
    rows += [row(f"{a.parent.name} vs {b.parent.name} (package default)", *compare(str(a), str(b)))
             for a, b in itertools.combinations(runs, 2)]
    for left_out in runs:
        db = f"sqlite:///{scratch / f'history-{left_out.parent.name}.sqlite'}"
        for other in runs:
            if other != left_out:
                subprocess.run([sys.executable, "-m", "fastbert_variants.cli", "history", "add", str(other), "--db", db,
                                "--branch", "main"], check=True, capture_output=True)
        rows.append(row(f"{left_out.parent.name} vs the other {len(runs) - 1} (history)",
                        *compare(str(left_out), "--against-history", "main", "--last", str(len(runs) - 1), "--db", db)))
    print(tabulate(rows, ["comparison", "exit", "regressions", "comparisons", "largest fall of a group", "flagged"],
                   tablefmt="github"))
    false_alarms = sum(r[1] != 0 for r in rows)
    print(f"{false_alarms} of {len(rows)} comparisons of unchanged code failed")
    return 1 if false_alarms else 0


if __name__ == "__main__":
    sys.exit(main())
