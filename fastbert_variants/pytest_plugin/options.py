"""The suite's pytest options: the model and dataset options it shares with the CLI, and the run's own.

Every one carries the prefix `--fastbert-` in pytest (dest `fastbert_*`), as pytest-benchmark's carry `--benchmark-`:
the plugin loads in every pytest of the environment, and a user's conftest that declares `--model` or `--threads`
must keep working beside it. The CLI keeps the short names of the same table (`fastbert-variants info --model`).
"""

from __future__ import annotations

import re
from types import SimpleNamespace

from .. import gates, options, plan
from ..errors import UserError

RUN_OPTIONS = options.SELECTION_OPTIONS + [
    (("--profile",), dict(dest="suite_profile", default="full", choices=sorted(plan.PROFILES),
     help="quick: lengths 16,128,512, batch 1, fewer rounds, no compile-heavy variants; full: the whole matrix")),
    (("--seq-lens",), dict(default=None, help="override the profile's sequence lengths, e.g. 16,128")),
    (("--batch-sizes",), dict(default=None, help="override the profile's batch sizes, e.g. 1,8")),
    (("--max-accuracy-drop",), dict(type=options.number(0), default=1.0, help="largest accuracy drop from FP32, in points")),
    (("--max-relative-drop",), dict(type=options.number(0), default=1.0, help="largest accuracy drop from FP32, in percent of FP32")),
    (("--p99-budget-ms",), dict(type=options.number(0, above=True), default=100.0, metavar="MS",
     help="the server scenario's latency budget: capacity is the highest Poisson rate whose p99 stays within it "
          "(default 100)")),
    (("--server-baseline",), dict(default="profile", choices=("profile", "on", "off"),
     help="serve torch-fp32 in the server scenario too, its capacity search stepped in turn with each variant's, "
          "for a capacity ratio that a drift of the machine's speed does not move (on: about 2 minutes more on 2 "
          "cores); default: as the profile says (full: on, quick: off)")),
    (("--slow-variant-rows",), dict(type=options.integer(0), default=1500, metavar="N",
     help="rows a variant that runs many times slower than FP32 here (torchao int8 dynamic without VNNI) is gated "
          "on: a fixed sample, FP32 on the same rows (default 1500; 0 = all)")),
    (("--accuracy-max-length",), dict(type=options.integer(8), default=None, metavar="TOKENS",
     help="score texts up to this many tokens (default: the model's maximum, 512 for BERT; dynamic padding, so "
          "short texts cost nothing extra)")),
    (("--long-texts",), dict(default="auto", choices=("auto", "off"),
     help="also gate each variant on the long-text set (held-out tweets joined into 256-512 tokens) when the "
          "dataset is the default (auto), or not (off)")),
    (("--accuracy-json",), dict(default=None, metavar="PATH", help="write every variant's scores here")),
    (("--compare-fail",), dict(action="store_true", default=False,
     help="with --benchmark-compare: exit 1 when a variant's speedup over FP32 fell beyond the between-run noise "
          "(the suite's verdict, printed at the end; pytest-benchmark's --benchmark-compare-fail compares absolute "
          "times), exit 4 when the two runs cannot be compared")),
]
PREFIX = "fastbert"


def prefixed_name(option: str) -> str:
    """`--model` -> `--fastbert-model`: what a shared option is called in pytest."""
    return f"--{PREFIX}-{option.lstrip('-')}"


def for_pytest(table) -> list:
    """The table's options as pytest declares them: the first name prefixed, its aliases dropped, the dest prefixed."""
    declared = []
    for names, kwargs in table:
        dest = kwargs.get("dest") or names[0].lstrip("-").replace("-", "_")
        declared.append(((prefixed_name(names[0]),), {**kwargs, "dest": f"{PREFIX}_{dest}"}))
    return declared


ALL_OPTIONS = options.MODEL_OPTIONS + options.DATASET_OPTIONS + RUN_OPTIONS + options.JUDGE_OPTIONS
_PRIMARY = {name.lstrip("-"): names[0] for names, _ in ALL_OPTIONS for name in names}  # an alias -> its option
_BARE_NAME = re.compile(r"(?<![\w-])--(" + "|".join(map(re.escape, sorted(_PRIMARY, key=len, reverse=True)))
                        + r")(?![\w-])")


def in_pytest_words(message: str) -> str:
    """A message of the library, which names options as the CLI spells them (aliases too), with pytest's names."""
    return _BARE_NAME.sub(lambda found: prefixed_name(_PRIMARY[found.group(1)]), message)


def add_options(parser) -> None:
    group = parser.getgroup("fastbert-variants")
    options.add_options(group.addoption, for_pytest(ALL_OPTIONS))
    parser.addini("accuracy_thresholds", type="linelist", default=list(gates.DEFAULT_THRESHOLDS),
                  help="per-variant accuracy gates: `VARIANT = POINTS RELATIVE_PERCENT` per line "
                       f"(default: {'; '.join(gates.DEFAULT_THRESHOLDS)})")


def values(config) -> SimpleNamespace:
    """The run's options by their unprefixed names (`.model`, `.suite_profile`), as the library reads them."""
    return SimpleNamespace(**{dest[len(PREFIX) + 1:]: value for dest, value in vars(config.option).items()
                              if dest.startswith(PREFIX + "_")})


def refuse_a_moved_rootdir(config) -> None:
    """pytest finds its rootdir and config file before it loads plugins, so the value of one of our options given as a
    separate argument (`--cache-dir /tmp/cache`) counts there as a test path if it exists: the rootdir moves to it,
    the project's config (testpaths, markers) is not found, and pytest collects what it finds instead. Refused
    with the fix when it happened; `--cache-dir=/tmp/cache` is read after the plugins load."""
    try:
        from _pytest.config.findpaths import determine_setup
    except ImportError:  # a pytest that moved it: the check cannot be made
        return
    args = list(config.invocation_params.args)
    ours = {names[0] for names, kwargs in for_pytest(ALL_OPTIONS) if kwargs.get("action") != "store_true"}
    given = [(flag, value) for flag, value in zip(args, args[1:], strict=False)
             if flag in ours and not value.startswith("-") and (config.invocation_params.dir / value).exists()]
    if not given:
        return
    values = {value for _, value in given}
    try:
        rootpath, inipath, *_ = determine_setup(
            inifile=config.option.inifilename, override_ini=config.option.override_ini,
            args=[a for a in args if a not in values], rootdir_cmd_arg=config.option.rootdir or None,
            invocation_dir=config.invocation_params.dir)
    except TypeError:  # another signature: the check cannot be made
        return
    if (rootpath, inipath) != (config.rootpath, config.inipath):
        flag, value = given[0]
        raise UserError(f"{flag} {value}: pytest took {value} for a test path while it looked for its rootdir and "
                        f"config file (it reads plugins' options later), and found {config.inipath or config.rootpath} "
                        f"instead of {inipath or rootpath}; write {flag}={value}")
