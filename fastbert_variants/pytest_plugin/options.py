"""The suite's pytest options: the model and dataset options it shares with the CLI, and the run's own."""

from __future__ import annotations

import importlib.util

import pytest

from .. import gates, options, plan
from ..errors import UserError

RUN_OPTIONS = [
    (("--variants",), dict(default="all", help="comma-separated variant names, or all")),
    (("--devices",), dict(default=None, help="cpu,cuda (default: cpu, plus cuda when a GPU is present)")),
    (("--suite-profile",), dict(default="full", choices=sorted(plan.PROFILES),
     help="quick: lengths 16,128,512, batch 1, fewer rounds, no compile-heavy variants; full: the whole matrix")),
    (("--seq-lens",), dict(default=None, help="override the profile's sequence lengths, e.g. 16,128")),
    (("--batch-sizes",), dict(default=None, help="override the profile's batch sizes, e.g. 1,8")),
    (("--max-accuracy-drop",), dict(type=float, default=1.0, help="largest accuracy drop from FP32, in points")),
    (("--max-relative-drop",), dict(type=float, default=1.0, help="largest accuracy drop from FP32, in percent of FP32")),
    (("--p99-budget-ms",), dict(type=float, default=100.0, metavar="MS",
     help="the server scenario's latency budget: capacity is the highest Poisson rate whose p99 stays within it "
          "(default 100)")),
    (("--slow-variant-rows",), dict(type=int, default=1500, metavar="N",
     help="rows a variant that runs many times slower than FP32 here (torchao int8 dynamic without VNNI) is gated "
          "on: a fixed sample, FP32 on the same rows (default 1500; 0 = all)")),
    (("--accuracy-max-length",), dict(type=int, default=None, metavar="TOKENS",
     help="score texts up to this many tokens (default: the model's maximum, 512 for BERT; dynamic padding, so "
          "short texts cost nothing extra)")),
    (("--long-texts",), dict(default="auto", choices=("auto", "off"),
     help="also gate each variant on the long-text set (held-out tweets joined into 256-512 tokens) when the "
          "dataset is the default (auto), or not (off)")),
    (("--accuracy-json",), dict(default=None, metavar="PATH", help="write every variant's scores here")),
]
# Old names kept for one release; each is added only where no other plugin owns it (pytest-profiling: --profile).
DEPRECATED_ALIASES = {"--profile": ("--suite-profile", "pytest_profiling")}


class DeprecatedOptionWarning(pytest.PytestWarning):
    """An option of ours renamed to leave room for another plugin's."""


def _owned_elsewhere(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def add_options(parser) -> None:
    group = parser.getgroup("fastbert-variants")
    options.add_options(group.addoption, options.MODEL_OPTIONS + options.DATASET_OPTIONS + RUN_OPTIONS)
    for old, (new, owner) in DEPRECATED_ALIASES.items():
        if not _owned_elsewhere(owner):
            group.addoption(old, dest=_dest(old, "deprecated_"), default=None,
                            help=f"deprecated: use {new} ({owner} owns {old})")
    parser.addini("accuracy_thresholds", type="linelist", default=list(gates.DEFAULT_THRESHOLDS),
                  help="per-variant accuracy gates: `VARIANT = POINTS RELATIVE_PERCENT` per line "
                       f"(default: {'; '.join(gates.DEFAULT_THRESHOLDS)})")


def _dest(option: str, prefix: str = "") -> str:
    return prefix + option.lstrip("-").replace("-", "_")


def apply_deprecated_aliases(config) -> None:
    """An old name given: its value goes to the new name, with a warning; both given: a usage error."""
    for old, (new, owner) in DEPRECATED_ALIASES.items():
        value = getattr(config.option, _dest(old, "deprecated_"), None)
        if value is None:
            continue
        if new in config.invocation_params.args or any(a.startswith(new + "=") for a in config.invocation_params.args):
            raise UserError(f"give {new} alone: {old} is its deprecated old name")
        setattr(config.option, _dest(new), value)
        config.issue_config_time_warning(DeprecatedOptionWarning(
            f"{old} is deprecated and will be removed in the next release: use {new} ({owner} owns {old})"), stacklevel=2)


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
    ours = {name for names, kwargs in options.MODEL_OPTIONS + options.DATASET_OPTIONS + RUN_OPTIONS
            if kwargs.get("action") != "store_true" for name in names}
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
