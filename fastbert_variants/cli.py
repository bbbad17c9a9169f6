"""The `fastbert-variants` command: info, list, build, export-model, report, compare, history, serve, train-default."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time

from . import options
from .errors import UserError

log = logging.getLogger("fastbert_variants")


def _workbench(args, hash_contents: bool = True):
    from .workbench import Workbench

    return Workbench(args.model, options.dataset_spec(args), options.cache_dir(args), options.threads(args),
                     args.trust_remote_code, hash_contents=hash_contents)


def cmd_info(args) -> int:
    import numpy as np

    bench = _workbench(args)
    model = bench.source.describe()
    print(f"model        {model['spec']}  ({model['folder']})")
    print(f"architecture {model['architecture']}  weights: {model['weights']}")
    print(f"parameters   {model['parameters']:,} ({model['parameters'] / 1e6:.1f}M)")
    print(f"layers       {model['layers']}  hidden size {model['hidden_size']}  max positions {model['max_positions']}")
    print(f"labels       {model['labels']}")
    if args.dataset_given or args.score:
        data = bench.dataset
        lengths = np.asarray([len(ids) for ids in bench.source.tokenizer(data.texts, truncation=False)["input_ids"]])
        print(f"dataset      {data.name}: {len(data)} rows to score, {len(data.calibration_texts)} for calibration")
        print(f"label counts {data.label_counts()}")
        print(f"tokens       mean {lengths.mean():.1f}, max {lengths.max()} (texts past {model['max_positions']} "
              f"are truncated: {int((lengths > model['max_positions']).sum())})")
    if args.score:
        from .metrics import classification_scores, predict_logits

        if not bench.source.trained:
            raise UserError(f"{args.model} has random weights: there is nothing to score; use a trained model")
        labels = bench.dataset.labels_for(bench.source.id2label)
        started = time.perf_counter()
        logits = predict_logits(bench.runner("torch-fp32", "cpu"), bench.source.tokenizer, bench.dataset.texts,
                                bench.source.max_positions)
        scores = classification_scores(labels, logits.argmax(-1))
        print(f"torch-fp32 on cpu, {bench.threads} threads, {time.perf_counter() - started:.1f} s: " +
              ", ".join(f"{k}={v:.4f}" for k, v in scores.items() if k != "accuracy"))
        print(f"accuracy={scores['accuracy']:.4f} n={len(labels)}")
    return 0


def cmd_list(args) -> int:
    from .hardware import cpu_isa, cpu_name
    from .variants import REGISTRY, pairs

    print(f"cpu: {cpu_name()} ({cpu_isa()})")
    rows = [("variant", "device", "recipe", "available here", "built by")]
    for device, name in pairs(devices=tuple(args.devices)):
        variant = REGISTRY[name]
        reason, slow = variant.unavailable_reason(device), variant.slow_reason(device)
        available = f"no: {reason}" if reason else f"yes, slow here: {slow}" if slow else "yes"
        rows.append((name, device, variant.recipe.describe(), available, variant.library))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for row in rows:
        print("  ".join(cell.ljust(widths[i]) if i < 3 else cell for i, cell in enumerate(row)))
    return 0


def cmd_build(args) -> int:
    """Make every cached artifact; with --check, also load each variant and compare it with FP32."""
    import numpy as np

    from . import suite
    from .inputs import padded_batches
    from .variants import BASELINE, pairs
    from .workbench import VariantUnavailable

    # A cache hit is judged by each file's size and mtime against the entry's manifest; the sha256 of every
    # byte is checked when a variant is loaded to run (--check here, and every benchmark or accuracy run).
    bench = _workbench(args, hash_contents=args.check)
    names = suite.variant_names(args.variants)
    started = time.perf_counter()
    check_batch = reference = None
    if args.check:
        check_batch = next(padded_batches(bench.source.tokenizer, bench.dataset.texts[:16], 16, 128))
        reference = bench.runner(BASELINE, args.device)(check_batch)
    for device, name in pairs(names, devices=(args.device,)):
        variant = bench.variant(name)
        reason = variant.unavailable_reason(device)
        if reason:
            print(f"skip  {name:26} {reason}")
            continue
        t0 = time.perf_counter()
        made = variant.artifact(bench.context(device))
        line = f"{name:26} {device:4}  {time.perf_counter() - t0:6.2f} s  "
        if made is None:
            line += "nothing to cache: made from the FP32 weights at load"
        else:
            folder, manifest = made
            size = sum(meta["bytes"] for meta in manifest["files"].values())
            line += f"cached (first build {manifest['build_seconds']:.1f} s)  {size / 1e6:7.1f} MB  {folder}"
        if args.check:
            try:
                logits = bench.runner(name, device)(check_batch)
            except VariantUnavailable as reason:
                print(f"skip  {name:26} {reason}")
                continue
            line += (f"\n{'':33}checked: max|logit - fp32| {np.abs(logits - reference).max():.4f}, same label on "
                     f"{np.mean(logits.argmax(-1) == reference.argmax(-1)):.0%} of 16 texts")
            if name != BASELINE:
                bench.release(name, device)
        print(line, flush=True)
    if bench.cache.rebuilt:
        print(f"rebuilt {len(bench.cache.rebuilt)} cache entries found incomplete or corrupt: "
              f"{', '.join(bench.cache.rebuilt)}")
    print(f"total {time.perf_counter() - started:.2f} s; cache {bench.cache.root}")
    return 0


def cmd_report(args) -> int:
    """Markdown summary and PNG plots of a run, led by the recommendation per scenario."""
    from pathlib import Path

    from . import plots
    from .files import write_atomically
    from .report import Report
    from .runs import NoResults, load_run

    if args.allow_empty and not Path(args.run).exists():  # pytest-benchmark writes no JSON when nothing ran
        print(f"nothing to report: {args.run} was not written (every benchmark skipped? pytest's summary says why)")
        return 0
    try:
        run = load_run(args.run, *([args.accuracy] if args.accuracy else []))
    except NoResults as exc:
        if not args.allow_empty:
            raise
        print(f"nothing to report: {exc} (every test skipped? pytest's summary says why)")
        return 0
    report = Report(run)
    blocks = report.blocks()
    out = Path(args.out)
    plans = [(plots.offline_throughput, (run.offline,), "offline_throughput.png")] * bool(run.offline) + \
        [(plots.server_p99, (run.server,), "server_p99.png")] * bool(run.server) + \
        [(plots.latency_by_seq_len, (run.latency,), "latency_by_seq_len.png"),
         (plots.speedup_per_cell, (run.latency,), "speedup_per_cell.png")] * bool(run.latency) + \
        [(plots.accuracy_against_speedup, (run.latency, run.accuracy, report.cells),
          "accuracy_against_speedup.png")] * bool(run.latency and run.accuracy)
    made = [out / name for _, _, name in plans]
    markdown = report.markdown(made)  # rendered before anything is written: a result it cannot read writes nothing
    for title, lines in blocks:
        print("\n".join([f"recommended, {title}:", *lines]))
    out.mkdir(parents=True, exist_ok=True)
    for plot, plot_args, name in plans:
        plot(*plot_args, out / name)
    summary = out / "summary.md"
    write_atomically(summary, markdown)
    print(f"wrote {summary} and {len(made)} plots: {', '.join(p.name for p in made)}")
    return 0


def cmd_compare(args) -> int:
    """Exit 1 when NEW regressed from BASE (or from the history's last runs) in speedup over FP32 or in accuracy."""
    from .compare import changes_table, compare_runs, parse_percent, parse_significance
    from .runs import load_run

    loss = parse_percent(args.max_speedup_loss, "--max-speedup-loss")
    significance = parse_significance(args.significance)
    if args.max_accuracy_drop < 0:
        raise UserError(f"--max-accuracy-drop must be 0 or more points, got {args.max_accuracy_drop}")
    if args.against_history:
        if len(args.runs) != 1:
            raise UserError("with --against-history give the new run alone: compare NEW --against-history BRANCH")
        from . import history

        new = load_run(args.runs[0], *filter(None, [args.new_accuracy]))
        engine = history.open_history(history.database_url(args.db, options.cache_dir(args)), create=False)
        found = history.baseline(engine, args.against_history, args.machine_kind or history.machine_kind(new), args.last)
        base = found.run
        print(f"BASE: {found.describe()}")
    else:
        if len(args.runs) != 2:
            raise UserError("give BASE and NEW (two runs), or NEW alone with --against-history BRANCH")
        base = load_run(args.runs[0], *filter(None, [args.base_accuracy]))
        new = load_run(args.runs[1], *filter(None, [args.new_accuracy]))
    changes = compare_runs(base, new, loss, args.max_accuracy_drop, args.rule, significance)
    print("\n".join(changes_table(changes)))
    regressed = [c for c in changes if c.regressed]
    test = ("one-sided Mann-Whitney U on the block ratios" if args.rule == "mann-whitney"
            else "the 95% intervals of the median not meeting")
    print(f"{len(regressed)} regression(s) in {len(changes)} comparisons (speedup over torch-fp32 may fall by "
          f"{100 * loss:.0f}%, and a fall counts only beyond noise: {test}, at {significance:g}; accuracy may fall by "
          f"{args.max_accuracy_drop:g} points)")
    return 1 if regressed else 0


def cmd_history_add(args) -> int:
    from . import history
    from .runs import load_run

    run = load_run(args.run, *filter(None, [args.accuracy]))
    url = history.database_url(args.db, options.cache_dir(args))
    stored = history.add_run(history.open_history(url), run, args.branch, args.commit, args.machine_kind)
    print(f"stored run #{stored.id} in {history.shown_url(url)}: branch {stored.branch}, commit "
          f"{(stored.commit_id or '?')[:12]}, {stored.machine_kind}; {len(stored.latency)} latency and "
          f"{len(stored.accuracy)} accuracy results")
    return 0


def cmd_history_show(args) -> int:
    """Each variant's speedup over the stored runs, per machine kind and cell; with --plot, the same as a PNG."""
    from pathlib import Path

    from . import history

    url = history.database_url(args.db, options.cache_dir(args))
    runs = history.stored_runs(history.open_history(url, create=False), args.branch, args.machine_kind, args.last)
    if not runs:
        raise UserError(f"the history at {history.shown_url(url)} holds no runs"
                        + (f" of branch {args.branch}" if args.branch else "") + "; add one: fastbert-variants history "
                        "add RUN.json")
    series: dict[str, dict[str, list]] = {}
    for run in runs:
        for r in run.latency:
            if r.variant != "torch-fp32" and (not args.cell or r.cell in args.cell.split(",")):
                series.setdefault(f"{run.machine_kind}\n{r.cell}", {}).setdefault(r.variant, []).append((run.id, r.speedup))
    print("runs: " + "; ".join(f"#{r.id} {r.branch} {(r.commit_id or '?')[:8]} {(r.ran_at or str(r.added_at))[:16]}"
                               for r in runs))
    for panel, lines in series.items():
        ids = [r.id for r in runs if any(i == r.id for points in lines.values() for i, _ in points)]
        print(f"\n{panel.replace(chr(10), ': ')}  (speedup over torch-fp32, by run)")
        rows = [["variant", *(f"#{i}" for i in ids)]]
        for variant, points in sorted(lines.items()):
            by_id = dict(points)
            rows.append([variant, *(f"{by_id[i]:.2f}" if i in by_id else "-" for i in ids)])
        widths = [max(len(row[c]) for row in rows) for c in range(len(rows[0]))]
        print("\n".join("  ".join(cell.ljust(widths[c]) for c, cell in enumerate(row)).rstrip() for row in rows))
    if args.plot:
        from .plots import history_plot

        out = history_plot(series, Path(args.plot), f"speedup over torch-fp32 by run ({history.shown_url(url)})")
        print(f"wrote {out}")
    return 0


def cmd_serve(args) -> int:
    """Serve one variant over HTTP until interrupted."""
    from aiohttp import web

    from .serving import ServingPolicy, make_app, make_predict
    from .workbench import VariantUnavailable

    if not 0 < args.port < 65536:
        raise UserError(f"--port {args.port} is not a TCP port; give one from 1 to 65535")
    policy = ServingPolicy(max_batch_size=1 if args.no_batching else args.max_batch_size, max_wait_ms=args.max_wait_ms,
                           max_texts=args.max_texts, max_chars=args.max_chars, max_queue_texts=args.max_queue_texts,
                           deadline_ms=args.deadline_ms, hang_s=args.hang_s)
    bench = _workbench(args)
    try:
        runner = bench.runner(args.variant, args.device)
    except VariantUnavailable as exc:
        raise UserError(f"cannot serve {exc}") from None
    predict = make_predict(runner, bench.source.tokenizer, min(512, bench.source.max_positions))
    predict(["warm up"])
    batching = "off" if policy.max_batch_size == 1 else f"up to {policy.max_batch_size} texts or {policy.max_wait_ms:g} ms"
    print(f"serving {args.variant} on {args.device} at http://{args.host}:{args.port}/predict "
          f"(dynamic batching {batching}; {bench.threads} threads)", flush=True)
    try:  # handler_cancellation: a client that leaves cancels its request, so its texts are not computed
        web.run_app(make_app(predict, bench.source.id2label, policy, args.variant), host=args.host, port=args.port,
                    print=None, access_log=None, handler_cancellation=True)
    except OSError as exc:
        raise UserError(f"cannot listen on {args.host}:{args.port} ({exc.strerror or exc}): another server holds that "
                        "port? pass --port another") from None
    return 0


def cmd_train_default(args) -> int:
    from pathlib import Path

    from .default_model import HEAD_FILE
    from .default_model.train import train_head

    output = Path(args.output) if args.output else HEAD_FILE
    result = train_head(output, args.train_tweets)
    print(f"wrote {output}: trained on {result['train_tweets']} tweets; held-out accuracy "
          f"{result['held_out_accuracy']:.4f} on {result['held_out_tweets']} (majority {result['majority_baseline']:.4f})")
    return 0


def cmd_export_model(args) -> int:
    """A self-contained Hugging Face folder of the model (weights in --dtype, config, tokenizer): to carry to a machine
    that cannot make or download it. FP16 halves the default model (90 MB to 45 MB); `--model FOLDER` there then loads
    it back to FP32 for the baseline and every variant alike."""
    from pathlib import Path

    from .sources import export_model, resolve_model
    from .variants.torch_common import torch_dtype

    out = Path(args.out).expanduser()
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UserError(f"{out} exists and is not an empty folder; give a new or empty folder")
    source = resolve_model(args.model, options.cache_dir(args), args.trust_remote_code)
    written = export_model(source, out, torch_dtype(args.dtype))
    size = sum(p.stat().st_size for p in written)
    print(f"exported {source.spec} ({args.dtype} weights) to {out}: {len(written)} files, {size / 1e6:.1f} MB; "
          f"use it with --model {out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fastbert-variants", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress")
    commands = parser.add_subparsers(dest="command", required=True)

    info = commands.add_parser("info", help="describe the model and dataset; --score scores FP32")
    options.add_options(info.add_argument, options.MODEL_OPTIONS + options.DATASET_OPTIONS)
    info.add_argument("--score", action="store_true", help="score torch-fp32 on the dataset's evaluation rows")
    info.set_defaults(func=cmd_info)

    listing = commands.add_parser("list", help="every variant, per device, and whether it can run here")
    listing.add_argument("--devices", nargs="+", default=["cpu", "cuda"], choices=["cpu", "cuda"])
    listing.set_defaults(func=cmd_list)

    build = commands.add_parser("build", help="build variants into the cache, printing time and size")
    options.add_options(build.add_argument, options.MODEL_OPTIONS + options.DATASET_OPTIONS)
    build.add_argument("--variants", default="all", help="comma-separated names, or all")
    build.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    build.add_argument("--check", action="store_true", help="also run each on 16 texts and compare with torch-fp32")
    build.set_defaults(func=cmd_build)

    export = commands.add_parser("export-model", help="write the model (default: the embedded one) as a self-contained "
                                 "folder, its weights in fp32, fp16 or bf16, for --model elsewhere")
    options.add_options(export.add_argument, options.MODEL_OPTIONS)
    export.add_argument("--dtype", default="fp16", choices=["fp32", "fp16", "bf16"], help="the weights' dtype (fp16)")
    export.add_argument("--out", required=True, metavar="DIR", help="a new or empty folder")
    export.set_defaults(func=cmd_export_model)

    report = commands.add_parser("report", help="Markdown summary and PNG plots of a run, led by the recommendation")
    report.add_argument("run", metavar="RUN.json", help="what --benchmark-json wrote (or the folder holding it)")
    report.add_argument("--accuracy", metavar="ACC.json", help="what --accuracy-json wrote")
    report.add_argument("--out", required=True, metavar="DIR", help="folder for summary.md and the plots")
    report.add_argument("--allow-empty", action="store_true",
                        help="exit 0 with a note when the run measured nothing (tox -e cuda on a machine without a GPU)")
    report.set_defaults(func=cmd_report)

    compare = commands.add_parser("compare", help="exit 1 when NEW's speedups over FP32 or accuracies regressed from "
                                  "BASE, or from the median of a branch's last runs in the history")
    compare.add_argument("runs", nargs="+", metavar="RUN", help="BASE NEW: each a benchmark JSON, or the folder "
                         "holding benchmark.json and accuracy.json; or NEW alone with --against-history")
    compare.add_argument("--base-accuracy", metavar="ACC.json", help="BASE's accuracy JSON, if not in BASE's folder")
    compare.add_argument("--new-accuracy", metavar="ACC.json", help="NEW's accuracy JSON, likewise")
    compare.add_argument("--max-speedup-loss", default="10%", help="largest allowed fall of a speedup (default 10%%)")
    compare.add_argument("--max-accuracy-drop", type=float, default=0.5,
                         help="largest allowed fall of a variant's accuracy, in points (default 0.5)")
    compare.add_argument("--rule", default="mann-whitney", choices=["mann-whitney", "intervals"],
                         help="when a fall of a speedup is beyond noise: a one-sided Mann-Whitney U test on the runs' "
                              "block ratios (default), or the two 95%% intervals of the median not meeting (older runs)")
    compare.add_argument("--significance", default="0.01", help="the test's level (default 0.01)")
    compare.add_argument("--against-history", metavar="BRANCH", help="BASE is the median of BRANCH's last runs on the "
                         "same kind of machine, from the history (fastbert-variants history add)")
    compare.add_argument("--last", type=int, default=5, metavar="N", help="runs of BRANCH to take (default 5)")
    _history_options(compare)
    compare.set_defaults(func=cmd_compare)

    history = commands.add_parser("history", help="keep every run in a database and show the trend")
    history_commands = history.add_subparsers(dest="history_command", required=True)
    add = history_commands.add_parser("add", help="store a run: its commit, branch, machine and every result")
    add.add_argument("run", metavar="RUN", help="the benchmark JSON a run wrote, or the folder holding it")
    add.add_argument("--accuracy", metavar="ACC.json", help="the run's accuracy JSON, if not in RUN's folder")
    add.add_argument("--branch", help="the git branch (default: the run's, from pytest-benchmark's commit_info)")
    add.add_argument("--commit", help="the commit id (default: the run's)")
    _history_options(add)
    add.set_defaults(func=cmd_history_add)
    show = history_commands.add_parser("show", help="each variant's speedup over time, per machine kind and cell")
    show.add_argument("--branch", help="only this branch's runs")
    show.add_argument("--cell", help="only these cells, e.g. cpu-b1-s128,cpu-b1-s512")
    show.add_argument("--last", type=int, default=None, metavar="N", help="only the last N runs")
    show.add_argument("--plot", metavar="PNG", help="also draw it to this PNG file")
    _history_options(show)
    show.set_defaults(func=cmd_history_show)

    serve = commands.add_parser("serve", help="serve one variant over HTTP: POST /predict {\"texts\": [...]}")
    options.add_options(serve.add_argument, options.MODEL_OPTIONS + options.DATASET_OPTIONS)
    serve.add_argument("--variant", default="torch-fp32", help="the variant to serve (default torch-fp32)")
    serve.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--max-batch-size", type=int, default=32, help="texts per model call (default 32)")
    serve.add_argument("--max-wait-ms", type=float, default=5.0, help="how long a batch waits to fill (default 5)")
    serve.add_argument("--no-batching", action="store_true", help="one request per model call")
    serve.add_argument("--max-texts", type=int, default=64, help="texts allowed per request (default 64)")
    serve.add_argument("--max-chars", type=int, default=5000, help="characters allowed per text (default 5000)")
    serve.add_argument("--max-queue-texts", type=int, default=256,
                       help="texts that may wait for the model; past it a request gets 503 and Retry-After (default 256)")
    serve.add_argument("--deadline-ms", type=float, default=1000.0,
                       help="a request not answered by then gets 504, its texts dropped if not computed (default 1000)")
    serve.add_argument("--hang-s", type=float, default=30.0,
                       help="a model call running longer turns /health to 503 (default 30)")
    serve.set_defaults(func=cmd_serve)

    train = commands.add_parser("train-default", help="retrain the default model's sentiment head (about 3 minutes)")
    train.add_argument("--output", default=None, help="where to write head.safetensors (default: the package's)")
    train.add_argument("--train-tweets", type=int, default=6000)
    train.set_defaults(func=cmd_train_default)
    return parser


def _history_options(command) -> None:
    command.add_argument("--db", metavar="URL", help="the history's database: an SQLAlchemy URL such as "
                         "postgresql://user@host/db (default $FASTBERT_VARIANTS_DB, else history.sqlite in --cache-dir)")
    command.add_argument("--machine-kind", metavar="TEXT", help="the kind of machine runs are grouped by (default: "
                         "CPU model, instruction set, threads and GPU, from the run)")
    options.add_options(command.add_argument, [o for o in options.MODEL_OPTIONS if "--cache-dir" in o[0]])


def quiet_libraries() -> None:
    """Keep the libraries' notices (optional kernels not loaded, progress bars) out of our output.

    Through the environment variables they read at import, so that a command that needs no
    transformers (a `build` of cache hits) does not spend seconds importing it to quiet it.
    """
    for noisy in ("torchao", "torch._dynamo", "torch.utils._pytree", "optimum", "nncf"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    if "transformers" in sys.modules:  # imported before us (pytest plugins): tell it directly
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()
        transformers_logging.set_verbosity_error()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    args.dataset_given = any(a.startswith("--dataset") for a in argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    quiet_libraries()
    if sys.stderr.isatty() and os.environ.get("TERM") != "dumb" and args.func is not cmd_serve:
        from . import progress

        progress.enable(sys.stderr.fileno())
    try:
        return args.func(args)
    except UserError as exc:
        print(f"fastbert-variants: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
