"""Write docs/reference/cli.md from the CLI's own parser: python tools/cli_reference.py"""
from pathlib import Path

from fastbert_variants.cli import reference_markdown

path = Path(__file__).resolve().parents[1] / "docs" / "reference" / "cli.md"
path.write_text(reference_markdown())
print(f"wrote {path}")
