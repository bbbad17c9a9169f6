"""Options shared by the CLI and the pytest plugin, declared once as data, each range and type checked by its type.

Both argparse's `add_argument` and pytest's `parser.addoption` take the same arguments, so one
table serves both (pytest's names carry the prefix --fastbert-: pytest_plugin/options.py); `dataset_spec`
and friends read the parsed values back from either. One spelling per idea: `--devices cpu,cuda` in
`list`, `build` and pytest alike.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from .cache import DEFAULT_CACHE_DIR
from .datasets import DatasetSpec
from .errors import UserError

MODEL_OPTIONS = [
    (("--model", "--model-id"), dict(dest="model", default="default", metavar="SPEC",
     help="`default` (embedded offline MiniLM sentiment model), a local model folder, a hub id, or random:<preset>")),
    (("--revision",), dict(default=None, metavar="REV",
     help="a hub model's branch, tag or commit: pins it for a reproducible gate (the results record the commit)")),
    (("--trust-remote-code",), dict(action="store_true", default=False,
     help="let transformers run code shipped with a hub model (off by default)")),
    # pytest keeps its own cache in the ini option cache_dir (.pytest_cache); this option is ours alone.
    (("--cache-dir", "--variant-cache-dir"), dict(dest="variant_cache_dir", default=str(DEFAULT_CACHE_DIR), metavar="DIR",
     help="where built variants are kept (default $FASTBERT_VARIANTS_CACHE or ~/.cache/fastbert-variants)")),
    (("--threads",), dict(type=lambda text: integer(1)(text), default=None, metavar="N",
     help="threads for torch and ONNX Runtime alike (default: the physical cores)")),
]
DATASET_OPTIONS = [
    (("--dataset",), dict(default="default", metavar="SPEC",
     help="`default` (held-out tweets), a hub dataset name, or a local .csv/.tsv/.jsonl/.parquet file")),
    (("--dataset-config",), dict(default=None, help="hub dataset config, e.g. sst2")),
    (("--dataset-split",), dict(default=None, help="split to score (hub datasets; default test)")),
    (("--dataset-revision",), dict(default=None, metavar="REV",
     help="a hub dataset's branch, tag or commit (recorded with the dataset's name)")),
    (("--calibration-split",), dict(default="train", help="split whose texts calibrate static int8 (hub datasets)")),
    (("--text-column", "--dataset-input-column"), dict(dest="text_column", default="text", help="column with the text")),
    (("--label-column",), dict(default="label", help="column with the label")),
    (("--normalize-labels",), dict(action="store_true", default=False,
     help="labels are the numeric prefix of the label column: '0_not_relevant' -> 0")),
    (("--drop-unlabelled",), dict(action="store_true", default=False,
     help="score only the rows that have a label (without it, unlabelled rows are refused); the table says how many")),
    (("--max-samples",), dict(type=lambda text: integer(1)(text), default=None, metavar="N",
     help="score only the first N rows")),
]
SELECTION_OPTIONS = [
    (("--variants",), dict(default="all", help="comma-separated variant names, or all")),
    (("--devices", "--device"), dict(dest="devices", default=None,
     help="comma-separated devices: cpu,cuda (default: cpu, plus cuda when torch sees a GPU)")),
]


ASPECTS = ("model", "threads", "machine", "cells")  # what makes two runs comparable (comparable.py)

# How a run is judged against another's (`compare`, and pytest's --benchmark-compare): the between-run gate.
JUDGE_OPTIONS = [
    (("--max-speedup-loss",), dict(default="10%", help="largest allowed fall of a speedup (default 10%%)")),
    (("--noise",), dict(default=None, metavar="NOISE.json", help="the between-run spread to judge by, as `replicate` "
     "or `noise` wrote it on this kind of machine (default: the base runs' own where there are 3 or more, else the "
     "package's default, measured elsewhere)")),
    (("--significance",), dict(default="0.01", help="the chance of any false alarm when nothing changed, over all "
     "comparisons together (default 0.01)")),
    (("--allow-different",), dict(default=None, metavar="ASPECTS", help="compare runs that differ in these, knowingly: "
     "model, threads, machine, cells (comma-separated, or all); the verdict says so")),
]


def number(minimum: float = 0.0, above: bool = False):
    """An argparse (and pytest) option type: a finite number of at least `minimum` (above it, with `above`); NaN, an
    infinity or one out of range is a usage error of one line, never a gate that passes or fails everything."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not math.isfinite(value) or value < minimum or (above and value == minimum):
            raise argparse.ArgumentTypeError(
                f"{text!r}: give a finite number {'above' if above else 'of at least'} {minimum:g}")
        return value

    parse.__name__ = "number"  # what argparse names the type in its message
    return parse


def integer(minimum: int = 0):
    """An option type: a whole number of at least `minimum`; anything else is a one-line usage error."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{text!r}: give a whole number of at least {minimum}")
        return value

    parse.__name__ = "integer"
    return parse


class OneLineParser(argparse.ArgumentParser):
    """argparse, whose usage errors are one line (what is wrong, and where the help is) and exit 2."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message}; see {self.prog} --help\n")


def add_options(add, table) -> None:
    """Add every option of `table` with `add` (argparse's add_argument or pytest's addoption)."""
    for names, kwargs in table:
        add(*names, **kwargs)


def dataset_spec(values) -> DatasetSpec:
    return DatasetSpec(
        name=values.dataset, config=values.dataset_config, split=values.dataset_split,
        calibration_split=values.calibration_split, text_column=values.text_column,
        label_column=values.label_column, normalize_labels=values.normalize_labels, max_samples=values.max_samples,
        drop_unlabelled=values.drop_unlabelled, revision=values.dataset_revision,
    )


def threads(values) -> int:
    from .hardware import physical_cores

    count = values.threads if values.threads is not None else physical_cores()
    if count < 1:
        raise UserError(f"--threads must be at least 1, got {count}")
    return count


def cache_dir(values) -> Path:
    return Path(values.variant_cache_dir).expanduser()


def parse_list(text: str, convert=str, option: str = "") -> list:
    """'16,128' -> [16, 128]; an empty list or an empty item ('16,,128') is a usage error, never "all" or a skip."""
    parts = [part.strip() for part in str(text).split(",")]
    if not any(parts) or not all(parts):
        raise UserError(f"{option} {text!r} has an empty item; give a comma-separated list such as "
                        f"{'16,128' if convert is int else 'a,b'}")
    try:
        return [convert(part) for part in parts]
    except ValueError:
        raise UserError(f"{option} {text!r} is not a comma-separated list of {convert.__name__}s") from None


def as_cli_args(values, table) -> list[str]:
    """The argv that gives a `fastbert-variants` subprocess the same options (the server scenario's servers)."""
    argv = []
    for names, kwargs in table:
        dest = kwargs.get("dest") or names[0].lstrip("-").replace("-", "_")
        value = getattr(values, dest)
        if kwargs.get("action") == "store_true":
            argv += [names[0]] * bool(value)
        elif value is not None and value != kwargs.get("default"):
            argv += [names[0], str(value)]
    return argv


def check_output_file(path: str, option: str) -> None:
    """A file a run will write at its end: its folder must exist and the path must not be a folder."""
    target = Path(path).expanduser()
    if target.is_dir():
        raise UserError(f"{option} {path} is a folder; name a file in it, e.g. {option} {target / 'accuracy.json'}")
    if not target.parent.is_dir():
        raise UserError(f"{option} {path}: the folder {target.parent} does not exist; create it first "
                        f"(mkdir -p {target.parent})")


def parse_percent(text: str, option: str) -> float:
    """'10%' or '10' -> 0.10."""
    try:
        value = float(str(text).strip().rstrip("%"))
    except ValueError:
        raise UserError(f"{option} {text!r} is not a percentage; write it as 10% or 10") from None
    if not 0 <= value < 100:
        raise UserError(f"{option} must be between 0% and 100%, got {text!r}")
    return value / 100


def parse_significance(text: str | float) -> float:
    try:
        value = float(text)
    except ValueError:
        raise UserError(f"--significance {text!r} is not a number; write it as 0.01") from None
    if not 0 < value < 1:
        raise UserError(f"--significance must be between 0 and 1, e.g. 0.01; got {text!r}")
    return value


def parse_allowed(text: str | None) -> tuple[str, ...]:
    """--allow-different model,threads,machine,cells (or all)."""
    if not text:
        return ()
    names = tuple(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
    if names == ("all",):
        return ASPECTS
    unknown = [n for n in names if n not in ASPECTS]
    if unknown or not names:
        raise UserError(f"--allow-different: unknown {', '.join(unknown) or 'nothing'}; name any of {', '.join(ASPECTS)}, "
                        "or all")
    return names
