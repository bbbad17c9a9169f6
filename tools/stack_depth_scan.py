"""One variant's time a text, called from a stack N Python frames deeper, N = 0, 2, 4, ... (#33).

    python tools/stack_depth_scan.py torchao-int8-dynamic-eager --max-depth 160 --step 2

On CPython before the fix of python/cpython#142183 (3.11 and 3.12 among them), frames live in 16 KiB chunks, and a
chunk is freed as soon as its first frame returns: calls that cross a chunk's end allocate and free one every time.
A runtime whose calls go through many Python frames then runs slower or faster with how deep its caller is
(docs/measurements/2026-12-06-amd-epyc-zen4-torchao-eager-b1.md). The cache of $FASTBERT_VARIANTS_CACHE (built
variants), the default model, the dataset's first texts at batch 1; the best of two passes per depth.
"""
import argparse
import os
import sys
import time

from fastbert_variants.inputs import make_traffic
from fastbert_variants.workbench import Workbench


def one_pass(run, batches) -> float:
    started = time.perf_counter()
    for batch in batches:
        run(batch)
    return time.perf_counter() - started


def deeper(extra: int, fn, *args):
    return fn(*args) if extra == 0 else deeper(extra - 1, fn, *args)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("variant")
    parser.add_argument("--max-depth", type=int, default=160)
    parser.add_argument("--step", type=int, default=2)
    parser.add_argument("--texts", type=int, default=16)
    parser.add_argument("--depths", help="a comma-separated list instead of the range (as under strace: -c -f -e "
                                         "trace=mmap,munmap counts the chunks' allocations)")
    parser.add_argument("--thread", action="store_true", help="scan from a new thread's stack instead of the main's")
    args = parser.parse_args()
    if args.thread:
        import threading

        worker = threading.Thread(target=scan, args=(args,))
        worker.start()
        worker.join()
    else:
        scan(args)


def scan(args) -> None:
    bench = Workbench("default", cache_dir=os.environ.get("FASTBERT_VARIANTS_CACHE", "~/.cache/fastbert-variants"),
                      threads=2)
    runner = bench.runner(args.variant, "cpu")
    traffic = make_traffic("dynamic", bench.source.tokenizer, bench.dataset.texts[: args.texts], 1, 512, None)
    batches = [runner.prepare(b) for b in traffic.batches]
    one_pass(runner.run, batches)  # cold
    print(f"{args.variant}, ms a text (batch 1, {len(batches)} texts), by extra frames ({sys.version.split()[0]}):")
    depths = [int(d) for d in args.depths.split(",")] if args.depths else range(0, args.max_depth + 1, args.step)
    for extra in depths:
        best = min(deeper(extra, one_pass, runner.run, batches) for _ in range(2))
        print(f"{extra}:{1000 * best / len(batches):.1f}", end=" ", flush=True)
    print()


if __name__ == "__main__":
    main()
