"""What a torch variant ships (`fastbert-variants export`): the FP32 model folder (safetensors weights, config,
tokenizer), or a saved program beside it, and the lines of the family's recipe that make the variant from it.

A torch variant that this package makes at load (a cast, quantize_dynamic, torchao's quantize_, torch.compile) ships
as that: the weights plus the same lines, so the folder needs torch (and torchao or zentorch where the recipe does),
transformers and numpy, not this package. The lines name the layers the recipe keeps in float, as computed for this
model, so the folder makes the variant that was measured. Not a family: it registers nothing.
"""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path

from .base import BuildContext, Shipment

MANIFEST = "fastbert-manifest.json"  # the store's own record of a cached folder: not shipped

LOAD_MODEL = """\
from transformers import AutoModelForSequenceClassification
model = AutoModelForSequenceClassification.from_pretrained(folder, torch_dtype=torch.{dtype}, attn_implementation="sdpa")
model = model.eval()"""
FORWARD = """\
with torch.inference_mode():
    logits = model(**{name: torch.from_numpy(batch[name]) for name in %r}).logits.float().numpy()"""
# The setting every CPU compile of a measured run had (compile_state.run_settings): weights folded as constants, so
# that int8 linears become oneDNN's kernels; one shape-generic graph for every batch and length.
COMPILE = """\
import torch._inductor.config as inductor_config
inductor_config.freezing = True
model = torch.compile(model, dynamic=True{backend})  # compiles at the first call (20-60 s on 2 cores)"""


def requirement(package: str) -> str:
    return f"{package}=={version(package)}"


def model_files(context: BuildContext) -> dict[str, Path]:
    """The FP32 model folder's files: weights, config, tokenizer."""
    folder = context.source.folder
    return {p.name: p for p in sorted(folder.iterdir()) if p.is_file() and p.name != MANIFEST}


def weights_shipment(context: BuildContext, make: str = "", dtype: str = "float32", compiled: bool = False,
                     backend: str = "", packages: tuple[str, ...] = ()) -> Shipment:
    """The model folder and the lines that load it in `dtype`, apply `make` (the recipe's lines, given `model`), and
    compile it as the measured run did where the family compiles."""
    lines = [LOAD_MODEL.format(dtype=dtype), make.strip("\n")]
    if compiled:
        lowerings = run_lowerings()
        lines += [f"import {module}  # noqa: E402,F401  (inductor lowerings the measured run had)" for module in lowerings]
        lines.append(COMPILE.format(backend=f', backend="{backend}"' if backend else ""))
        packages = (*packages, *(m.split(".")[0] for m in lowerings if m.split(".")[0] not in packages))
    lines.append(FORWARD % (list(context.source.input_names),))
    return Shipment(model_files(context), tuple(requirement(p) for p in ("torch", *packages)),
                    "\n".join(line for line in lines if line))


def run_lowerings() -> list[str]:
    """The modules whose import registers inductor lowerings, imported for every compile of a run (Workbench.runner):
    without torchao's x86 int8 lowerings, torchao-int8-dynamic compiled to other kernels, its logits 0.49 away from
    the measured ones on four texts (6 December)."""
    from . import REGISTRY

    return sorted({module for variant in REGISTRY.values() for module in variant.lowering_modules})


def kept_float_lines(kept: list[str]) -> str:
    return f"kept_in_float = {kept!r}  # the recipe's layers left in floating point, named for this model"
