"""Tables of a run's results, for the terminal and for Markdown."""

from __future__ import annotations

from .variants import BASELINE


def speedup_table(results: list[dict]) -> str:
    """One row per variant, one column per cell: interleaved median speedup over FP32 (x), and its 95% CI."""
    cells = list(dict.fromkeys(r["cell"] for r in results))
    variants = list(dict.fromkeys(r["variant"] for r in results))
    by_key = {(r["variant"], r["cell"]): r for r in results}
    header = ["variant"] + cells
    rows = [header]
    for variant in variants:
        row = [variant]
        for cell in cells:
            r = by_key.get((variant, cell))
            if r is None:
                row.append("-")
            elif variant == BASELINE:
                row.append(f"1.00 ({r['median_ms']:.1f} ms)")
            else:
                low, high = r["speedup_ci95"]
                row.append(f"{r['speedup_vs_fp32']:.2f} [{low:.2f}-{high:.2f}]")
        rows.append(row)
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)) for row in rows]
    first = results[0]
    lines.append(f"threads={first['threads']} warmup_rounds={first['warmup_rounds']} cpu_isa={first['cpu_isa']} "
                 f"gpu={first['gpu']}; >1 is faster than torch-fp32; [95% CI of the median over ABBA blocks]")
    return "\n".join(lines)
