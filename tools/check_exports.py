"""Export every CPU variant available here and check each folder as a user would run it: its own classify.py in a
fresh interpreter (this package not imported), its logits against the suite's runner on the same texts.

    python tools/check_exports.py [--variants a,b] [--out DIR]

tests/test_export.py checks one variant of each way of shipping in every run; this checks them all (the compiled
ones compile at their first call: about a minute each on 2 cores).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from tabulate import tabulate

from fastbert_variants.errors import UserError
from fastbert_variants.export import export
from fastbert_variants.inputs import padded_batches
from fastbert_variants.variants import REGISTRY
from fastbert_variants.workbench import Workbench

TEXTS = ["I love how fast this is!", "this is awful, it broke again", "meh", "@united thanks for the quick rebooking"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", default="all")
    parser.add_argument("--out", default=None, help="where the exported folders go (default: a temporary folder)")
    args = parser.parse_args()
    bench = Workbench("default", cache_dir=os.environ.get("FASTBERT_VARIANTS_CACHE", "~/.cache/fastbert-variants"),
                      threads=2)
    names = [n for n, v in REGISTRY.items() if "cpu" in v.devices] if args.variants == "all" else args.variants.split(",")
    out = Path(args.out or tempfile.mkdtemp(prefix="exports-"))
    batch = next(padded_batches(bench.source.tokenizer, TEXTS, len(TEXTS), 512))
    id2label = bench.source.config.id2label
    rows, failed = [], 0
    for name in names:
        reason = bench.variant(name).unavailable_reason("cpu")
        if reason:
            rows.append([name, "skipped", reason, "", ""])
            continue
        started = time.perf_counter()
        try:
            files = export(bench, name, out / name)
        except UserError as exc:
            rows.append([name, "not exported", str(exc), "", ""])
            failed += 1
            continue
        probe = (f"import json, runpy, sys; sys.argv = ['classify.py', *{TEXTS!r}]; "
                 f"found = runpy.run_path({str(out / name / 'classify.py')!r}, run_name='__main__'); "
                 "assert 'fastbert_variants' not in sys.modules; print(json.dumps(found['logits'].tolist()))")
        done = subprocess.run([sys.executable, "-I", "-c", probe], capture_output=True, text=True, cwd=out)
        seconds = time.perf_counter() - started
        if done.returncode:
            rows.append([name, "classify.py failed", done.stderr.strip().splitlines()[-1][:120], "", f"{seconds:.0f}"])
            failed += 1
            continue
        *labels, logits = done.stdout.splitlines()
        shipped = np.array(json.loads(logits))
        expected = bench.runner(name, "cpu")(batch)
        bench.release(name, "cpu")
        same = [line.split("\t")[0] for line in labels] == [id2label[int(i)] for i in expected.argmax(-1)]
        size = sum(p.stat().st_size for p in files) / 1e6
        diff = float(np.abs(shipped - expected).max())
        ok = same and diff <= 2e-3
        failed += not ok
        rows.append([name, "ok" if ok else "DIFFERS", f"{len(files)} files, {size:.1f} MB", f"{diff:.1e}",
                     f"{seconds:.0f}"])
    print(tabulate(rows, headers=["variant", "result", "folder", "max |logit diff| vs runner", "export + classify s"]))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
