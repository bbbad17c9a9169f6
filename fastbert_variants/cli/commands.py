"""What each `fastbert-variants` command does: parse its arguments into the library's terms, call it, print.

The work (builds, scoring, reports, comparisons, the history, serving) is the library's; a command
here prints what comes back and returns the exit status (UserError: one line, exit 2, in main).
"""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path

from tabulate import tabulate

from .. import options
from ..errors import UserError


def _workbench(args, hash_contents: bool = True):
    from ..workbench import Workbench

    return Workbench(args.model, options.dataset_spec(args), options.cache_dir(args), options.threads(args),
                     args.trust_remote_code, hash_contents=hash_contents, revision=args.revision)


def cmd_info(args) -> int:
    bench = _workbench(args)
    model = bench.source.describe()
    print(f"model        {model['spec']}  ({model['folder']})")
    print(f"architecture {model['architecture']}  weights: {model['weights']}")
    print(f"parameters   {model['parameters']:,} ({model['parameters'] / 1e6:.1f}M)")
    print(f"layers       {model['layers']}  hidden size {model['hidden_size']}  max positions {model['max_positions']}")
    print(f"labels       {model['labels']}")
    if args.dataset_given or args.score:
        data, lengths = bench.dataset, bench.token_lengths()
        print(f"dataset      {data.name}: {len(data)} rows to score, {len(data.calibration_texts)} for calibration")
        print(f"label counts {data.label_counts()}")
        print(f"tokens       mean {lengths.mean():.1f}, max {lengths.max()} (texts past {model['max_positions']} "
              f"are truncated: {int((lengths > model['max_positions']).sum())})")
    if args.score:
        from ..accuracy import baseline_scores

        if not bench.source.trained:
            raise UserError(f"{args.model} has random weights: there is nothing to score; use a trained model")
        started = time.perf_counter()
        scores, rows = baseline_scores(bench, "cpu")
        print(f"torch-fp32 on cpu, {bench.threads} threads, {time.perf_counter() - started:.1f} s: "
              f"precision_macro={scores.precision_macro:.4f}, recall_macro={scores.recall_macro:.4f}, "
              f"f1_macro={scores.f1_macro:.4f}")
        print(f"accuracy={scores.accuracy:.4f} n={rows}")
    return 0


def cmd_list(args) -> int:
    from ..hardware import cpu_family_model, cpu_isa, cpu_name
    from ..variants import DEVICES, REGISTRY, pairs

    print(f"cpu: {cpu_name()}{f' ({cpu_family_model()})' if cpu_family_model() else ''}, best ISA {cpu_isa()}")
    by_distribution: dict[str, list[str]] = {}
    for family, distribution in REGISTRY.families.items():
        by_distribution.setdefault(distribution, []).append(family)
    print("variant families: " + "; ".join(f"{', '.join(f)} (from {d})" for d, f in by_distribution.items()))
    rows = []
    from ..plan import device_names

    for device, name in pairs(devices=tuple(device_names(args.devices) or DEVICES)):
        variant = REGISTRY[name]
        reason, slow = variant.unavailable_reason(device), variant.slow_reason(device)
        available = f"no: {reason}" if reason else f"yes, slow here: {slow}" if slow else "yes"
        rows.append((name, device, variant.recipe.describe(), available, variant.library))
    print(tabulate(rows, headers=("variant", "device", "recipe", "available here", "built by"), tablefmt="plain"))
    return 0


def cmd_build(args) -> int:
    """Make every cached artifact; with --check, also load each variant and compare it with FP32.

    A cache hit is judged by each file's size and mtime against the entry's manifest; the sha256 of every
    byte is checked when a variant is loaded to run (--check here, and every benchmark or accuracy run).
    """
    from .. import plan
    from ..workbench import CHECK_TEXTS

    bench = _workbench(args, hash_contents=args.check)
    started = time.perf_counter()
    disagreeing = []
    builds = (made for device in plan.device_names(args.devices) or ["cpu"]
              for made in bench.build_each(plan.variant_names(args.variants), device, check=args.check))
    for made in builds:
        if made.disagreement:
            disagreeing.append(made)
        if made.skipped:
            print(f"skip  {made.variant:26} {made.skipped}", flush=True)
            continue
        line = f"{made.variant:26} {made.device:4}  {made.seconds:6.2f} s  "
        line += ("nothing to cache: made from the FP32 weights at load" if made.folder is None else
                 f"cached (first build {made.first_build_s:.1f} s)  {made.size_mb:7.1f} MB  {made.folder}")
        if made.max_logit_diff is not None:
            line += (f"\n{'':33}checked: max|logit - fp32| {made.max_logit_diff:.4f}, same label on "
                     f"{made.same_label:.0%} of {CHECK_TEXTS} texts")
        if made.disagreement:
            line += f"\n{'':33}DISAGREES: {made.disagreement}"
        print(line, flush=True)
    if bench.cache.rebuilt:
        print(f"rebuilt {len(bench.cache.rebuilt)} cache entries found incomplete or corrupt: "
              f"{', '.join(bench.cache.rebuilt)}")
    print(f"total {time.perf_counter() - started:.2f} s; cache {bench.cache.root}")
    for made in disagreeing:  # one line each, last: what a CI log shows
        print(f"check failed: {made.variant} on {made.device}: {made.disagreement} on {CHECK_TEXTS} texts")
    return 1 if disagreeing else 0


def cmd_report(args) -> int:
    """Markdown summary and PNG plots of a run, led by the recommendation per scenario."""
    from ..files import write_atomically
    from ..report import Report
    from ..runs import NoResults, load_run

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
    report, out = Report(run), Path(args.out)
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} is a file; name a folder for summary.md, recommendation.json and the plots")
    if (args.db or args.branch) and not args.html:
        raise UserError("--db and --branch add the history's trend to report.html; give --html too")
    if args.html and importlib.util.find_spec("plotly") is None:
        raise UserError("--html draws its charts with plotly, not installed: pip install 'fastbert-variants[html]'")
    markdown = report.markdown(report.draw())  # rendered first: a result it cannot read writes nothing
    for title, lines in report.blocks():
        print("\n".join([f"recommended, {title}:", *lines]))
    made = report.draw(out)
    write_atomically(out / "summary.md", markdown)
    wrote = [out / "summary.md"]
    from ..verdict import verdict_of, write_json

    verdict = verdict_of(report) if run.measured or args.html else None  # one verdict for the JSON and the page
    if run.measured:
        wrote.append(write_json(verdict, out / "recommendation.json"))
    if args.html:
        from ..html_report import write_html

        trend = _history_trend(args.db, args.branch, run.machine_kind) if args.db else None
        wrote.append(write_html(report, verdict, out / "report.html", trend))
    print(f"wrote {' and '.join(map(str, wrote))} and {len(made)} plots: {', '.join(p.name for p in made)}")
    return 0


def _history_trend(db: str, branch: str | None, machine_kind: str) -> tuple[str, dict]:
    """(where the runs came from, without credentials; speedups by run) of this machine kind's stored runs."""
    from .. import history

    url = history.database_url(db, Path("."))
    runs = history.stored_runs(history.open_history(url, create=False), branch, machine_kind, 30)
    return f"{len(runs)} run(s) of {machine_kind} in {history.shown_url(url)}", history.speedup_series(runs)


def _warm_up_texts(path: str) -> list[str]:
    """--warm-up-texts: a JSON list of strings, or one line saying what is wrong."""
    import json

    try:
        texts = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"--warm-up-texts {path}: cannot read it as JSON ({exc}); give a file holding a JSON list of "
                        "texts") from None
    if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
        raise UserError(f"--warm-up-texts {path}: not a JSON list of texts (strings); give e.g. [\"a text\", ...]")
    return texts


def cmd_serve(args) -> int:
    """Serve one variant over HTTP until interrupted."""
    import gc

    from aiohttp import web

    from ..serving import ServingPolicy, make_app, make_predict, warm_up_shapes
    from ..workbench import VariantUnavailable

    if not 0 < args.port < 65536:
        raise UserError(f"--port {args.port} is not a TCP port; give one from 1 to 65535")
    policy = ServingPolicy(max_batch_size=1 if args.no_batching else args.max_batch_size, max_wait_ms=args.max_wait_ms,
                           max_texts=args.max_texts, max_chars=args.max_chars, max_queue_texts=args.max_queue_texts,
                           deadline_ms=args.deadline_ms, hang_s=args.hang_s)
    warm_up_texts = _warm_up_texts(args.warm_up_texts) if args.warm_up_texts else None  # checked before the model loads
    bench = _workbench(args)
    try:
        runner = bench.runner(args.variant, args.device)
    except VariantUnavailable as exc:
        raise UserError(f"cannot serve {exc}") from None
    max_length = min(512, bench.source.max_positions)
    predict = make_predict(runner, bench.source.tokenizer, max_length)
    predict(["warm up"])
    if warm_up_texts:
        shapes, seconds = warm_up_shapes(predict, bench.source.tokenizer, warm_up_texts, policy.max_batch_size,
                                         max_length)
        print(f"warmed up {shapes} input shapes (batch sizes 1-{policy.max_batch_size}) in {seconds:.1f} s", flush=True)
    # Everything loaded so far (torch, transformers, the model: some 450,000 objects) out of the collector's reach: a
    # full collection over them took 200 ms on the Zen 4, a stall of every request in flight that LoadGen's p99 saw.
    gc.freeze()
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
    from ..default_model.train import train_head

    output = Path(args.output)
    if output.is_dir() or not output.parent.is_dir():
        raise UserError(f"--output {output}: name a file in an existing folder, e.g. --output head.safetensors")
    result = train_head(output, args.train_tweets)
    print(f"wrote {output}: trained on {result['train_tweets']} tweets; held-out accuracy "
          f"{result['held_out_accuracy']:.4f} on {result['held_out_tweets']} (majority {result['majority_baseline']:.4f})")
    return 0


def cmd_export(args) -> int:
    """A variant as a folder its own runtime loads (export.py); from a run's recommendation, its figures kept."""
    from ..export import export, pick_of

    if args.where and not args.recommended:
        raise UserError("--where names a pick of --recommended's file; give --recommended RECOMMENDATION.json too")
    measured = pick_of(args.recommended, args.where) if args.recommended else None
    model, _, commit = (measured["model"] if measured else args.model).partition("@")  # a hub model: id@commit
    if model != args.model:
        raise UserError(f"{args.recommended} was measured on --model {model}, not {args.model}; give --model {model}")
    if commit and args.revision is None:
        args.revision = commit  # the weights that were measured
    name = measured["variant"] if measured else args.variant
    bench = _workbench(args)
    written = export(bench, name, Path(args.out), measured)
    size = sum(p.stat().st_size for p in written)
    where = f" (the pick at {measured['where']}: {measured['figure']})" if measured else ""
    print(f"exported {name}{where} to {args.out}: {len(written)} files, {size / 1e6:.1f} MB; "
          f"see {Path(args.out) / 'README.md'}")
    return 0


def cmd_export_model(args) -> int:
    """A self-contained Hugging Face folder of the model (weights in --dtype, config, tokenizer): to carry to a machine
    that cannot make or download it. FP16 halves the default model (90 MB to 45 MB); `--model FOLDER` there then loads
    it back to FP32 for the baseline and every variant alike."""
    from ..models import export_model, resolve_model

    out = Path(args.out).expanduser()
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UserError(f"{out} exists and is not an empty folder; give a new or empty folder")
    source = resolve_model(args.model, options.cache_dir(args), args.trust_remote_code)
    written = export_model(source, out, args.dtype)
    size = sum(p.stat().st_size for p in written)
    print(f"exported {source.spec} ({args.dtype} weights) to {out}: {len(written)} files, {size / 1e6:.1f} MB; "
          f"use it with --model {out}")
    return 0
