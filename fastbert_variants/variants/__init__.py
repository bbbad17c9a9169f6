"""The registry: variant name -> Variant, filled by each family module at import.

Adding a variant is one class (or one instance of an existing class) in a family module and
one `register(...)` call there; nothing else names variants.
"""

from __future__ import annotations

import importlib

from .base import DEVICES, BuildContext, Runner, Variant

REGISTRY: dict[str, Variant] = {}
BASELINE = "torch-fp32"


def register(variant: Variant) -> Variant:
    if variant.name in REGISTRY:
        raise ValueError(f"variant {variant.name!r} is registered twice")
    REGISTRY[variant.name] = variant
    return variant


def get(name: str) -> Variant:
    from ..errors import UserError

    if name not in REGISTRY:
        raise UserError(f"unknown variant {name!r}; known variants: {', '.join(REGISTRY)}")
    return REGISTRY[name]


def pairs(names: list[str] | None = None, devices: tuple[str, ...] = DEVICES) -> list[tuple[str, str]]:
    """(device, variant name) for every variant that lists the device, in registry order."""
    chosen = [get(n) for n in names] if names else list(REGISTRY.values())
    return [(device, v.name) for device in devices for v in chosen if device in v.devices]


# Family modules register their variants on import; this order is the order of every table.
FAMILIES = ("torch_eager", "torchscript", "torch_compile", "torch_int8", "torchao_int8", "torch_pt2e", "onnxruntime",
            "openvino")
for _family in FAMILIES:
    importlib.import_module(f"{__name__}.{_family}")

__all__ = ["REGISTRY", "BASELINE", "DEVICES", "BuildContext", "Runner", "Variant", "register", "get", "pairs"]
