"""The `fastbert-variants` command: info, list, build, export-model, report, compare, replicate, noise, history, serve,
train-default.

This module parses; `commands` calls the library and prints; a UserError is one line on stderr and exit 2.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from .. import options, progress
from ..errors import UserError
from ..variants.base import DEVICES
from . import across_runs, commands

log = logging.getLogger("fastbert_variants")


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("fastbert-variants")
    except PackageNotFoundError:  # imported from a source tree that was never installed
        return "(not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = options.OneLineParser(prog="fastbert-variants", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}",
                        help="print the installed version and exit")
    subcommands = parser.add_subparsers(dest="command", required=True)

    info = subcommands.add_parser("info", help="describe the model and dataset; --score scores FP32")
    options.add_options(info.add_argument, options.MODEL_OPTIONS + options.DATASET_OPTIONS)
    info.add_argument("--score", action="store_true", help="score torch-fp32 on the dataset's evaluation rows")
    info.set_defaults(func=commands.cmd_info)

    listing = subcommands.add_parser("list", help="every variant, per device, and whether it can run here")
    options.add_options(listing.add_argument, [o for o in options.SELECTION_OPTIONS if "--devices" in o[0]])
    listing.set_defaults(func=commands.cmd_list)

    build = subcommands.add_parser("build", help="build variants into the cache, printing time and size")
    options.add_options(build.add_argument, options.MODEL_OPTIONS + options.DATASET_OPTIONS)
    options.add_options(build.add_argument, options.SELECTION_OPTIONS)
    build.add_argument("--check", action="store_true",
                       help="also run each on 16 texts against torch-fp32; exit 1 when one is past its recipe's tolerance")
    build.set_defaults(func=commands.cmd_build)

    export = subcommands.add_parser("export-model", help="write the model (default: the embedded one) as a self-contained "
                                 "folder, its weights in fp32, fp16 or bf16, for --model elsewhere")
    options.add_options(export.add_argument, options.MODEL_OPTIONS)
    export.add_argument("--dtype", default="fp16", choices=["fp32", "fp16", "bf16"], help="the weights' dtype (fp16)")
    export.add_argument("--out", required=True, metavar="DIR", help="a new or empty folder")
    export.set_defaults(func=commands.cmd_export_model)

    ship = subcommands.add_parser(
        "export", help="write a variant as a folder its own runtime loads without this package (ONNX Runtime, OpenVINO)",
        description="Copy a variant out of the cache as a folder that onnxruntime or OpenVINO loads alone: the model, "
                    "its config and tokenizer, classify.py and a README with what was measured. Example: "
                    "fastbert-variants export --recommended out/cpu/recommendation.json --out ship/")
    chosen = ship.add_mutually_exclusive_group(required=True)
    chosen.add_argument("--variant", metavar="NAME", help="the variant to export (fastbert-variants list names them)")
    chosen.add_argument("--recommended", metavar="RECOMMENDATION.json",
                        help="export what a run recommended (the file beside its --benchmark-json)")
    ship.add_argument("--where", metavar="PICK",
                      help="with --recommended: the pick to export, e.g. cpu-offline-b8 (default: the file's first)")
    options.add_options(ship.add_argument, options.MODEL_OPTIONS + options.DATASET_OPTIONS)
    ship.add_argument("--out", required=True, metavar="DIR", help="a new or empty folder")
    ship.set_defaults(func=commands.cmd_export)

    report = subcommands.add_parser("report", help="Markdown summary and PNG plots of a run, led by the recommendation")
    report.add_argument("run", metavar="RUN.json", help="what --benchmark-json wrote (or the folder holding it)")
    report.add_argument("--accuracy", metavar="ACC.json", help="what --accuracy-json wrote")
    report.add_argument("--out", required=True, metavar="DIR", help="folder for summary.md and the plots")
    report.add_argument("--html", action="store_true",
                        help="also report.html: one self-contained file (no network) with the verdict, interactive "
                             "charts and sortable tables (needs plotly: pip install 'fastbert-variants[html]')")
    report.add_argument("--db", metavar="URL", help="with --html: also the trend of each answer's figure over the runs "
                        "of this machine kind in this history (an SQLAlchemy URL, as history's --db)")
    report.add_argument("--branch", help="with --db: only this branch's runs")
    report.add_argument("--allow-empty", action="store_true",
                        help="exit 0 with a note when the run measured nothing (tox -e cuda on a machine without a GPU)")
    report.set_defaults(func=commands.cmd_report)

    compare = subcommands.add_parser("compare", help="exit 1 when NEW's speedups over FP32 or accuracies regressed from "
                                  "BASE, or from the median of a branch's last runs in the history")
    compare.add_argument("runs", nargs="+", metavar="RUN", help="BASE NEW: each a benchmark JSON, or the folder "
                         "holding benchmark.json and accuracy.json; or NEW alone with --against-history")
    compare.add_argument("--base-accuracy", metavar="ACC.json", help="BASE's accuracy JSON, if not in BASE's folder")
    compare.add_argument("--new-accuracy", metavar="ACC.json", help="NEW's accuracy JSON, likewise")
    compare.add_argument("--max-accuracy-loss", "--max-accuracy-drop", dest="max_accuracy_drop", type=options.number(0),
                         default=0.5, help="largest allowed fall of a variant's accuracy from BASE to NEW, in points "
                         "(default 0.5; --max-accuracy-drop is its old name: in pytest --fastbert-max-accuracy-drop is the "
                         "gate on the drop from FP32, another thing)")
    options.add_options(compare.add_argument, options.JUDGE_OPTIONS)
    compare.add_argument("--against-history", metavar="BRANCH", help="BASE is BRANCH's last runs on the same kind of "
                         "machine, from the history (fastbert-variants history add); their spread is the noise")
    compare.add_argument("--last", type=options.integer(1), default=5, metavar="N", help="runs of BRANCH to take (default 5)")
    compare.add_argument("--variants", default="all", help="compare only these variants (comma-separated, or all)")
    _history_options(compare)
    compare.set_defaults(func=across_runs.cmd_compare)

    replicate = subcommands.add_parser("replicate", help="run the timed tests K times in fresh processes and measure how "
                                       "far each speedup moves between runs: the noise `compare --noise` judges by")
    replicate.add_argument("--runs", type=options.integer(2), default=6, help="runs to make (default 6)")
    replicate.add_argument("--out", required=True, metavar="DIR", help="folder for run-01/ ... and noise.json")
    replicate.add_argument("pytest_args", nargs=argparse.REMAINDER, metavar="-- PYTEST_ARGS",
                           help="what pytest runs each time (default: the shipped fixed cells and offline scenario, "
                                "quick profile, CPU)")
    replicate.set_defaults(func=across_runs.cmd_replicate)
    noise = subcommands.add_parser("noise", help="the between-run spread of runs already made (replicates of one setup)")
    noise.add_argument("runs", nargs="+", metavar="RUN", help="two or more benchmark JSONs, or folders holding them")
    noise.add_argument("--out", required=True, metavar="NOISE.json", help="where to write it")
    noise.set_defaults(func=across_runs.cmd_noise)

    history = subcommands.add_parser("history", help="keep every run in a database and show the trend")
    history_commands = history.add_subparsers(dest="history_command", required=True)
    add = history_commands.add_parser("add", help="store a run: its commit, branch, machine and every result")
    add.add_argument("run", metavar="RUN", help="the benchmark JSON a run wrote, or the folder holding it")
    add.add_argument("--accuracy", metavar="ACC.json", help="the run's accuracy JSON, if not in RUN's folder")
    add.add_argument("--branch", help="the git branch (default: the run's, from pytest-benchmark's commit_info)")
    add.add_argument("--commit", help="the commit id (default: the run's)")
    _history_options(add)
    add.set_defaults(func=across_runs.cmd_history_add)
    show = history_commands.add_parser("show", help="each variant's speedup over time, per machine kind and cell")
    show.add_argument("--branch", help="only this branch's runs")
    show.add_argument("--cell", help="only these cells, e.g. cpu-b1-s128,cpu-b1-s512")
    show.add_argument("--last", type=options.integer(1), default=None, metavar="N", help="only the last N runs")
    show.add_argument("--plot", metavar="PNG", help="also draw it to this PNG file")
    _history_options(show)
    show.set_defaults(func=across_runs.cmd_history_show)

    serve = subcommands.add_parser("serve", help="serve one variant over HTTP: POST /predict {\"texts\": [...]}")
    options.add_options(serve.add_argument, options.MODEL_OPTIONS + options.DATASET_OPTIONS)
    serve.add_argument("--variant", default="torch-fp32", help="the variant to serve (default torch-fp32)")
    serve.add_argument("--device", default="cpu", choices=DEVICES)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--max-batch-size", type=int, default=32, help="texts per model call (default 32)")
    serve.add_argument("--max-wait-ms", type=options.number(0), default=5.0, help="how long a batch waits to fill (default 5)")
    serve.add_argument("--no-batching", action="store_true", help="one request per model call")
    serve.add_argument("--max-texts", type=int, default=64, help="texts allowed per request (default 64)")
    serve.add_argument("--max-chars", type=int, default=5000, help="characters allowed per text (default 5000)")
    serve.add_argument("--max-queue-texts", type=int, default=256,
                       help="texts that may wait for the model; past it a request gets 503 and Retry-After (default 256)")
    serve.add_argument("--deadline-ms", type=options.number(0, above=True), default=1000.0,
                       help="a request not answered by then gets 504, its texts dropped if not computed (default 1000)")
    serve.add_argument("--hang-s", type=options.number(0, above=True), default=30.0,
                       help="a model call running longer turns /health to 503 (default 30)")
    serve.add_argument("--warm-up-texts", metavar="JSON", default=None,
                       help="a JSON list of texts like the traffic's: before answering, call the model once at every "
                            "batch size up to --max-batch-size and every length these texts pad to (a runtime "
                            "prepares each new input shape on its first call)")
    serve.set_defaults(func=commands.cmd_serve)

    train = subcommands.add_parser("train-default", help="retrain the default model's sentiment head (about 3 minutes)")
    train.add_argument("--output", required=True, metavar="FILE",
                       help="where to write the head (safetensors); to make it the package's default, copy it over "
                            "fastbert_variants/default_model/head.safetensors in a source checkout")
    train.add_argument("--train-tweets", type=int, default=6000)
    train.set_defaults(func=commands.cmd_train_default)
    _describe(subcommands)
    _describe(history_commands, "history ")
    return parser


EXAMPLES = {  # one line a user can paste, for each command's --help
    "info": "fastbert-variants info --model my-org/my-bert --dataset rows.csv --score",
    "list": "fastbert-variants list --devices cpu,cuda",
    "build": "fastbert-variants build --variants ort-int8-dynamic,openvino-int8 --check",
    "export-model": "fastbert-variants export-model --dtype fp16 --out model-fp16/",
    "export": "fastbert-variants export --recommended out/recommendation.json --out ship/",
    "report": "fastbert-variants report out/benchmark.json --accuracy out/accuracy.json --out report/ --html",
    "compare": "fastbert-variants compare baseline/ out/ --noise noise/noise.json",
    "replicate": "fastbert-variants replicate --runs 6 --out noise/",
    "noise": "fastbert-variants noise runs/1 runs/2 runs/3 --out noise.json",
    "history": "fastbert-variants history add out/ --branch main",
    "history add": "fastbert-variants history add out/ --branch main --db postgresql://ci@db/bench",
    "history show": "fastbert-variants history show --branch main --last 10 --plot history.png",
    "serve": "fastbert-variants serve --variant ort-int8-dynamic --port 8080",
    "train-default": "fastbert-variants train-default --output head.safetensors",
}


def _describe(subcommands, prefix: str = "") -> None:
    """Each command's --help: its one-line summary as the description (unless it has a longer one), and an example."""
    summaries = {action.dest: action.help for action in subcommands._choices_actions}
    for name, command in subcommands.choices.items():
        if not command.description and summaries.get(name):
            command.description = summaries[name][0].upper() + summaries[name][1:] + "."
        if prefix + name in EXAMPLES:
            command.epilog = f"example: {EXAMPLES[prefix + name]}"


def _history_options(command) -> None:
    command.add_argument("--db", metavar="URL", help="the history's database: an SQLAlchemy URL such as "
                         "postgresql://user@host/db (default $FASTBERT_VARIANTS_DB, else history.sqlite in --cache-dir)")
    command.add_argument("--machine-kind", metavar="TEXT", help="the kind of machine runs are grouped by (default: "
                         "CPU model, instruction set, threads and GPU, from the run)")
    options.add_options(command.add_argument, [o for o in options.MODEL_OPTIONS if "--cache-dir" in o[0]])


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    args.dataset_given = any(a.startswith("--dataset") for a in argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    progress.quiet_libraries()
    if sys.stderr.isatty() and os.environ.get("TERM") != "dumb" and args.func is not commands.cmd_serve:
        progress.enable(sys.stderr.fileno())
    try:
        return args.func(args)
    except UserError as exc:
        print(f"fastbert-variants: error: {exc}", file=sys.stderr)
        return 2



def reference_markdown() -> str:
    """docs/reference/cli.md, made from the parser itself (tools/cli_reference.py writes it; a test keeps it current)."""
    import os

    width = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "110"  # argparse wraps to the terminal's width: the page must not depend on it
    try:
        return _reference(build_parser())
    finally:
        if width is None:
            os.environ.pop("COLUMNS")
        else:
            os.environ["COLUMNS"] = width


def _reference(parser) -> str:
    pages = ["# The command line", "", "Generated from the parser by `python tools/cli_reference.py`; "
             "`fastbert-variants COMMAND --help` prints the same.", "", "```", parser.format_help().rstrip(), "```"]
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, command in commands.choices.items():
        pages += ["", f"## {name}", "", "```", command.format_help().rstrip(), "```"]
        nested = [a for a in command._actions if isinstance(a, argparse._SubParsersAction)]
        for inner_name, inner in (nested[0].choices.items() if nested else []):
            pages += ["", f"### {name} {inner_name}", "", "```", inner.format_help().rstrip(), "```"]
    return "\n".join(pages) + "\n"
