"""Ship a variant: a folder its own runtime loads without this package (`fastbert-variants export`).

The family says what ships (variants.base.Shipment: the cached files under the names its runtime
expects, its pip requirement, the lines that run it); this module writes the folder around them:
`classify.py` (tokenizer and labels from the folder's own config, the family's lines for the logits),
a README with the ten lines and what was measured, and `fastbert-export.json` (every file's sha256).
The folder is made beside the target and renamed into place: a failed export leaves nothing behind.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict
from importlib.metadata import version
from pathlib import Path

from .cache import file_sha256
from .errors import UserError
from .files import write_atomically

EXAMPLE_TEXT = "I love how fast this is!"
CLASSIFY = '''\
"""{variant}, exported by fastbert-variants: python classify.py "a text" ["another text" ...]"""
import os
import sys

os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")  # quiet: classify.py prints only its labels
import numpy  # noqa: E402
import {runtime}  # noqa: E402
from transformers import AutoConfig, AutoTokenizer  # noqa: E402

folder = os.path.dirname(os.path.abspath(__file__))
texts = sys.argv[1:] or [{example!r}]
tokenizer, config = AutoTokenizer.from_pretrained(folder), AutoConfig.from_pretrained(folder)
batch = tokenizer(texts, padding=True, truncation=True, max_length={max_length}, return_tensors="np")
{classify}
for text, row in zip(texts, logits):
    print(config.id2label[int(numpy.argmax(row))], text, sep="\\t")
'''


def pick_of(recommendation: Path, where: str | None) -> dict:
    """The pick of a run's recommendation.json to ship: the one at `where`, else the first (offline, batch 1)."""
    verdict = _read_recommendation(Path(recommendation).expanduser())
    picks = [p for p in verdict["picks"] if where is None or p["where"] == where]
    if not picks:
        known = ", ".join(p["where"] for p in verdict["picks"]) or "none"
        raise UserError(f"{recommendation} has no pick at {where}; give --where one of: {known}")
    return {**picks[0], "machine": verdict["machine"], "model": verdict["model"], "threads": verdict["threads"]}


def _read_recommendation(path: Path) -> dict:
    again = "give the recommendation.json that a run wrote beside --benchmark-json (or `report --out`)"
    try:
        data = json.loads(path.read_text())
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        raise UserError(f"{path} is not a file; {again}") from None
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise UserError(f"{path} is not JSON ({type(exc).__name__}); {again}") from None
    picks = data.get("picks") if isinstance(data, dict) else None
    if not isinstance(data, dict) or data.get("kind") != "recommendation" or data.get("format") != 1 \
            or not isinstance(picks, list) or not all(isinstance(p, dict) and isinstance(p.get("where"), str)
                                                      and isinstance(p.get("variant"), str) for p in picks):
        raise UserError(f"{path} is not a recommendation of format 1; {again}")
    return data


def export(bench, name: str, out: Path, measured: dict | None = None) -> list[Path]:
    """Write `name`'s shipment from the cache (built first if it is not there) into the new folder `out`."""
    out = Path(out).expanduser()
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UserError(f"{out} exists and is not an empty folder; give a new or empty folder")
    variant = bench.variant(name)
    reason = variant.unavailable_reason("cpu")
    if reason:
        raise UserError(f"{name} cannot be built on this machine ({reason}); export it where it runs")
    shipment = variant.shipment(bench.context("cpu"))
    if shipment is None:
        raise UserError(f"{name} ({variant.library}) has no export yet: its family says nothing about what ships")
    staging = out.parent / f".{out.name}.export-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        for target, source in shipment.files.items():
            shutil.copyfile(source, staging / target)
        runtime = shipment.requirements[0].split("==")[0]
        classify = CLASSIFY.format(variant=name, runtime=runtime, example=EXAMPLE_TEXT, classify=shipment.classify,
                                   max_length=min(512, bench.source.max_positions))
        (staging / "classify.py").write_text(classify)
        (staging / "README.md").write_text(_readme(bench, variant, shipment, classify, measured))
        record = {"kind": "export", "format": 1, "variant": name, "model": bench.source.recorded_as,
                  "recipe": asdict(variant.recipe), "requirements": [*shipment.requirements, *_tokenizer_requirements()],
                  "fastbert_variants": version("fastbert-variants"), "measured": measured,
                  "files": {p.name: file_sha256(p) for p in sorted(staging.iterdir())}}
        write_atomically(staging / "fastbert-export.json", json.dumps(record, indent=1) + "\n")
        if out.exists():
            out.rmdir()  # empty, checked above
        staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return sorted(out.iterdir())


def _tokenizer_requirements() -> list[str]:
    return [f"transformers=={version('transformers')}", f"numpy=={version('numpy')}"]


def _readme(bench, variant, shipment, classify: str, measured: dict | None) -> str:
    pins = " ".join([*shipment.requirements, *_tokenizer_requirements()])
    runtime = shipment.requirements[0].split("==")[0]
    if measured:
        figures = (f"Chosen by fastbert-variants at {measured['where']} on {measured['machine']}: "
                   f"{measured['figure']} against torch-fp32; accuracy drop "
                   + ("not gated" if measured.get("drop_points") is None else f"{measured['drop_points']:.2f} points")
                   + " from torch-fp32 on the run's labelled rows. Another CPU can rank the variants differently.")
    else:
        figures = ("Exported by name, not from a run's recommendation: measure it on your machine with "
                   f"`pytest --fastbert-variants torch-fp32,{variant.name}` before shipping it.")
    return f"""# {variant.name}, exported by fastbert-variants {version('fastbert-variants')}

{variant.description}. Model: `{bench.source.recorded_as}`; recipe: `{json.dumps(asdict(variant.recipe))}`.

{figures}

## Run it ({"no fastbert-variants" if runtime == "torch" else "no fastbert-variants, no torch"})

    pip install {pins}
    python classify.py "{EXAMPLE_TEXT}"

`classify.py`:

```python
{classify}```

The files and their sha256: `fastbert-export.json`.
"""
