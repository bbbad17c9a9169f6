"""The registry: variant name -> Variant, filled by the variant families found through entry points.

A family is a module that calls `register(...)` for each of its variants when imported, declared in
its distribution's entry points under `fastbert_variants.families` (this package's own families in
its pyproject.toml, a third party's in theirs). The families are imported the first time anything
reads the registry, not when this package is imported, so a family module can import `register`
from here without an import cycle. Adding a family: one module, one entry point, one extra.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from importlib import import_module, metadata

from ..cache import VERSIONED_PACKAGES, library_versions
from ..errors import UserError
from .base import DEVICES, BuildContext, Runner, Variant, VariantUnavailable, required_versions

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "fastbert_variants.families"
OWN_DISTRIBUTION = "fastbert-variants"
BASELINE = "torch-fp32"


def family_entry_points() -> list[metadata.EntryPoint]:
    """This package's families first, then other distributions' families by distribution name; within a distribution,
    by entry-point name (the order setuptools writes them in)."""
    found = list(metadata.entry_points(group=ENTRY_POINT_GROUP))

    def distribution(ep) -> str:
        return (ep.dist.name if ep.dist else "").lower().replace("_", "-")

    own = [ep for ep in found if distribution(ep) == OWN_DISTRIBUTION]
    return own + sorted((ep for ep in found if distribution(ep) != OWN_DISTRIBUTION), key=distribution)


class Registry(Mapping[str, Variant]):
    """Variants by name: the baseline first, then in the order their families were found (the order of every table).
    Families are imported on first read."""

    def __init__(self) -> None:
        self._variants: dict[str, Variant] = {}
        self._families: dict[str, str] = {}  # family name (its entry point's) -> the distribution that declared it
        self._state = "empty"  # empty -> loading -> loaded

    def add(self, variant: Variant) -> Variant:
        if variant.name in self._variants:
            raise ValueError(f"variant {variant.name!r} is registered twice")
        self._variants[variant.name] = variant
        return variant

    @property
    def families(self) -> dict[str, str]:
        """{family module: the distribution that declared it}, for every family that imported."""
        self._load()
        return dict(self._families)

    def _load(self) -> None:
        if self._state != "empty":
            return
        self._state = "loading"
        try:
            entry_points = family_entry_points()
            if not entry_points:
                raise UserError(f"no variant family is installed (no `{ENTRY_POINT_GROUP}` entry points): install "
                                "the package, `pip install -e .` in a checkout, so that its families are found")
            for ep in entry_points:
                distribution = ep.dist.name if ep.dist else "?"
                try:
                    import_module(ep.value.split(":")[0])
                except Exception as exc:
                    if distribution.lower().replace("_", "-") == OWN_DISTRIBUTION:
                        raise
                    # Another distribution's family must not take the suite down: its variants are left out, saying why.
                    log.warning("variant family %s (from %s) failed to import and is left out: %s: %s",
                                ep.value, distribution, type(exc).__name__, exc)
                    continue
                self._families[ep.name] = distribution
            if BASELINE in self._variants:  # every table and every cell leads with the baseline
                self._variants = {BASELINE: self._variants[BASELINE], **self._variants}
        finally:
            self._state = "loaded"

    def __getitem__(self, name: str) -> Variant:
        self._load()
        return self._variants[name]

    def __iter__(self) -> Iterator[str]:
        self._load()
        return iter(self._variants)

    def __len__(self) -> int:
        self._load()
        return len(self._variants)


REGISTRY = Registry()


def register(variant: Variant) -> Variant:
    """Make a variant known by its name; a family module calls this for each of its variants at import."""
    return REGISTRY.add(variant)


def get(name: str) -> Variant:
    if name not in REGISTRY:
        raise UserError(f"unknown variant {name!r}; known variants: {', '.join(REGISTRY)}")
    return REGISTRY[name]


def pairs(names: list[str] | None = None, devices: tuple[str, ...] = DEVICES) -> list[tuple[str, str]]:
    """(device, variant name) for every variant that lists the device, in registry order."""
    chosen = [get(n) for n in names] if names else list(REGISTRY.values())
    return [(device, v.name) for device in devices for v in chosen if device in v.devices]


def installed_versions() -> dict[str, str]:
    """Versions of the libraries every entry depends on and of every library a known variant requires: what a run's
    results depend on (its machine facts)."""
    modules = tuple(dict.fromkeys(m for v in REGISTRY.values() for m in v.requires))
    return dict(sorted({**library_versions(VERSIONED_PACKAGES), **required_versions(modules)}.items()))


__all__ = ["BASELINE", "DEVICES", "REGISTRY", "BuildContext", "Registry", "Runner", "Variant", "VariantUnavailable",
           "family_entry_points", "get", "installed_versions", "pairs", "register"]
