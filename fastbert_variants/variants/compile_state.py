"""Inductor's and dynamo's settings are process-wide: a family's settings reach its own compiles, and no other family's.

zentorch's backend sets `torch._inductor.config.joint_custom_post_pass` to its own graph rewrites at every compile
and never unsets it, so every inductor compile after a zentorch one ran zentorch's rewrites: on an AMD EPYC Zen 4,
torch-pt2e-int8-static checked at max|logit - fp32| 7.06 (50% of labels) after zentorch-bf16, 0.45 alone (#38).
Restored in the process rather than isolated in another one: the interleaved timing alternates FP32 and each
variant call by call, which needs every runner in one process (docs/measurements/2026-12-05-amd-epyc-zen4-family-isolation.md).
"""

from __future__ import annotations

import copy
import importlib
import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

log = logging.getLogger(__name__)

# Recompiles one compiled variant may make (one per input shape on CUDA) before dynamo would quietly fall back to
# eager for the rest: past it the run fails instead, so a compiled variant is never scored or timed as eager.
RECOMPILE_LIMIT = 64
# What torchao's `set_inductor_config` sets (torchao 0.18), applied to every compiled variant of a run alike instead
# of by torchao's quantize_ alone. Triton settings only: CPU code generation does not read them.
INDUCTOR_SETTINGS = {"coordinate_descent_tuning": True, "coordinate_descent_check_all_directions": True,
                     "force_fuse_int_mm_with_mul": True, "fx_graph_cache": True, "triton.unique_kernel_names": True}


def run_settings(device: str) -> dict[str, dict]:
    """{config: {setting: value}} every compile of the run gets, on top of the process's own settings."""
    import torch._dynamo.config as dynamo_config

    inductor = dict(INDUCTOR_SETTINGS)
    if device == "cpu":
        # Freezing (weights become constants, folded; int8 gets oneDNN's quantized-linear kernels), set on the config
        # as PyTorch's x86 quantization tutorial does: passed through torch.compile(options=...), the int8 weight
        # prepacking was left unfolded and inductor failed on onednn.qlinear_prepack (torch 2.13).
        inductor["freezing"] = True
    limit = "recompile_limit" if hasattr(dynamo_config, "recompile_limit") else "cache_size_limit"  # before torch 2.7
    dynamo = {limit: max(getattr(dynamo_config, limit), RECOMPILE_LIMIT)}
    if hasattr(dynamo_config, "fail_on_recompile_limit_hit"):
        dynamo["fail_on_recompile_limit_hit"] = True
    return {"inductor": inductor, "dynamo": dynamo}


def _configs() -> dict:
    import torch._dynamo.config as dynamo_config
    import torch._inductor.config as inductor_config

    return {"inductor": inductor_config, "dynamo": dynamo_config}


class _Snapshot:
    """One config's settings at a moment: the live objects (a replaced value is another object) and copies of the
    containers (one filled in place is the same object with other contents)."""

    def __init__(self, config) -> None:
        with warnings.catch_warnings():  # reading a deprecated setting warns; a user's pytest may make that an error
            warnings.simplefilter("ignore")
            self.values = {key: getattr(config, key) for key in config.get_config_copy()}
        self.contents = {key: copy.copy(value) for key, value in self.values.items()
                         if isinstance(value, (list, dict, set))}

    def changed_since(self, earlier: _Snapshot) -> dict:
        """{key: value now} of the settings that are not what they were in `earlier`."""
        changed = {}
        for key, value in self.values.items():
            old = earlier.values.get(key)
            if value is old:
                if key in earlier.contents and earlier.contents[key] != self.contents.get(key):
                    changed[key] = value
                continue
            try:
                if old == value:
                    continue
            except Exception:  # values that do not compare (objects with a strict __eq__): another object
                pass
            changed[key] = value
        return changed


def _restore(config, before: _Snapshot) -> None:
    """Every setting of `config` that is not what it was in `before`, put back (a container as it was then)."""
    config.load_config({key: before.contents.get(key, before.values[key])
                        for key in _Snapshot(config).changed_since(before) if key in before.values})


# {family module: {"inductor.<setting>": value}}: what each family's own code set in the compile settings, when it was
# built or compiled (torchao's PT2E quantizer sets inductor's pre-grad pass when imported, once a process; zentorch
# sets its graph pass at every compile). Given back to that family's compiles, and to no other family's.
FAMILY_SETTINGS: dict[str, dict] = {}


@contextmanager
def compile_settings(device: str, family: str) -> Iterator[dict]:
    """Within: the process's compile settings, the run's (`run_settings`), and what `family` set before; after, every
    setting of inductor's and dynamo's configs as it was before, whatever happened within. What the family's code
    changed within is kept for its later compiles; the context yields the family's settings ({"config.key": value})."""
    configs = _configs()
    before = {name: _Snapshot(config) for name, config in configs.items()}
    own = FAMILY_SETTINGS.setdefault(family, {})
    for name, settings in run_settings(device).items():
        configs[name].load_config(settings)  # dotted names ("triton.x") as the configs' own keys
    for name, config in configs.items():
        config.load_config({key.partition(".")[2]: value for key, value in own.items() if key.startswith(name + ".")})
    expected = {name: _Snapshot(config) for name, config in configs.items()}
    try:
        yield own
    finally:
        for name, config in configs.items():
            for key, value in _Snapshot(config).changed_since(expected[name]).items():
                log.info("%s set %s.%s; kept for its own compiles only", family, name, key)
                own[f"{name}.{key}"] = value
            _restore(config, before[name])


_LOWERINGS_IMPORTED: set[str] = set()


def import_lowerings(modules) -> None:
    """Import, once a process and before its first compile, every module that registers inductor lowerings when
    imported (torchao's x86 PT2E passes: pattern passes that also match torchao's own int8 graphs). Imported after
    some compile instead, they changed what later compiles lowered to: torchao-int8-dynamic checked at 0.62 from FP32
    after PT2E's build, 0.40 before it (AMD EPYC Zen 4). The config settings such an import makes are undone here: the
    family that needs them sets them in its build, and compile_settings gives them to its compiles alone."""
    configs = _configs()
    before = {name: _Snapshot(config) for name, config in configs.items()}
    for module in modules:
        if module in _LOWERINGS_IMPORTED:
            continue
        _LOWERINGS_IMPORTED.add(module)
        try:
            importlib.import_module(module)
        except (ImportError, OSError):  # not installed, or a library that does not load: its variants skip
            continue
    for name, config in configs.items():
        _restore(config, before[name])
