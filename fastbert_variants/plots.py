"""PNG plots of a run (matplotlib, no display needed): latency, speedup, and accuracy against speed."""

from __future__ import annotations

import math
from pathlib import Path

from .results import accuracy_key
from .variants import BASELINE


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only: CI and servers have no display
    import matplotlib.pyplot as plt

    return plt


def _log_axis(axis, values) -> None:
    """Log scale with plain-number ticks (0.5, 1, 2) and no crowded minor labels."""
    from matplotlib.ticker import FixedLocator, NullFormatter, ScalarFormatter

    axis.set_major_locator(FixedLocator(sorted(values)))
    axis.set_major_formatter(ScalarFormatter())
    axis.set_minor_formatter(NullFormatter())


SPEEDUP_TICKS = (0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 4, 8, 16)


def _grid(plt, count: int, width: float = 4.8, height: float = 3.6):
    columns = min(count, 3)
    rows = math.ceil(count / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(width * columns, height * rows), squeeze=False)
    for ax in axes.flat[count:]:
        ax.set_visible(False)
    return fig, list(axes.flat[:count])


def latency_by_seq_len(latency: list, path: Path) -> Path:
    """Median latency against sequence length, one line per variant, one panel per (device, batch size)."""
    plt = _pyplot()
    panels = list(dict.fromkeys((r.device, r.batch_size) for r in latency))
    fig, axes = _grid(plt, len(panels))
    for ax, (device, batch_size) in zip(axes, panels, strict=True):
        results = [r for r in latency if r.device == device and r.batch_size == batch_size]
        for variant in dict.fromkeys(r.variant for r in results):
            points = sorted((r.seq_len, r.median_ms) for r in results if r.variant == variant)
            ax.plot(*zip(*points, strict=True), marker="o", label=variant,
                    linewidth=2.5 if variant == BASELINE else 1.2, color="black" if variant == BASELINE else None)
        ax.set(xscale="log", yscale="log", xlabel="sequence length (tokens)", ylabel="median latency (ms)",
               title=f"{device}, batch {batch_size}")
        _log_axis(ax.xaxis, {r.seq_len for r in results})
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend(fontsize=7)
    return _save(fig, path)


def speedup_per_cell(latency: list, path: Path) -> Path:
    """Interleaved speedup over FP32 with its 95% interval, one panel per cell; the line at 1 is FP32."""
    plt = _pyplot()
    cells = list(dict.fromkeys(r.cell for r in latency))
    fig, axes = _grid(plt, len(cells), height=0.35 * len({r.variant for r in latency}) + 1.2)
    for ax, cell in zip(axes, cells, strict=True):
        results = sorted((r for r in latency if r.cell == cell and r.variant != BASELINE), key=lambda r: r.speedup.median)
        medians = [r.speedup.median for r in results]
        errors = [[m - r.speedup.ci95[0] for m, r in zip(medians, results, strict=True)],
                  [r.speedup.ci95[1] - m for m, r in zip(medians, results, strict=True)]]
        colors = ["tab:green" if r.speedup.ci95[0] > 1 else "tab:red" if r.speedup.ci95[1] < 1 else "tab:gray"
                  for r in results]
        ax.barh([r.variant for r in results], medians, xerr=errors, color=colors, capsize=3)
        ax.axvline(1.0, color="black", linewidth=1)
        ax.set(xscale="log", xlabel=f"speedup over {BASELINE} (log; 95% CI)", title=cell)
        _log_axis(ax.xaxis, SPEEDUP_TICKS)
        ax.set_xlim(min(low for low in [*(r.speedup.ci95[0] for r in results), 1.0]) / 1.3,
                    max(high for high in [*(r.speedup.ci95[1] for r in results), 1.0]) * 1.3)
        ax.tick_params(axis="y", labelsize=8)
    return _save(fig, path)


def accuracy_against_speedup(latency: list, accuracy: dict, recommendations: list, path: Path) -> Path:
    """Each variant's accuracy drop against its speedup, per cell, with the gate and the recommended variant."""
    plt = _pyplot()
    recommended = {rec.cell: rec.variant for rec in recommendations}
    cells = list(dict.fromkeys(r.cell for r in latency))
    fig, axes = _grid(plt, len(cells))
    for ax, cell in zip(axes, cells, strict=True):
        for index, r in enumerate(r for r in latency if r.cell == cell):
            record = accuracy.get(accuracy_key(r.device, r.variant))
            if r.variant != BASELINE and record is None:
                continue
            drop = 0.0 if record is None else record.drop_points
            failed = record is not None and not record.passed
            ax.scatter(r.speedup.median, drop, color="tab:red" if failed else "tab:blue", zorder=3)
            ax.annotate(r.variant, (r.speedup.median, drop), fontsize=7, textcoords="offset points",
                        xytext=(4, (3, -10, 12)[index % 3]))  # staggered: variants near 0 drop crowd together
            if recommended.get(cell) == r.variant:
                ax.scatter(r.speedup.median, drop, s=260, facecolors="none", edgecolors="tab:green",
                           linewidths=2, zorder=4, label="recommended")
        gates = [rec.gate.max_points for rec in accuracy.values()]
        if gates:
            ax.axhline(max(set(gates), key=gates.count), color="tab:red", linestyle="--", linewidth=1,
                       label="accuracy gate (default)")
        ax.axvline(1.0, color="black", linewidth=0.8)
        ax.set(xscale="log", xlabel=f"speedup over {BASELINE} (log)", ylabel="accuracy drop (points)", title=cell)
        _log_axis(ax.xaxis, SPEEDUP_TICKS)
        ax.grid(True, alpha=0.3)
        ax.set_ylim(top=1.3 * max([*gates, *(rec.drop_points for rec in accuracy.values()), 0.1]))
        ax.legend(fontsize=7, loc="upper left")
    return _save(fig, path)


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    fig.clear()
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path


def offline_throughput(offline, path: Path) -> Path:
    """Steady texts/s against batch size, one line per variant (dashed: length buckets), one panel per device."""
    plt = _pyplot()
    devices = list(dict.fromkeys(r.device for r in offline))
    fig, axes = _grid(plt, len(devices), width=6.4, height=4.6)
    for ax, device in zip(axes, devices, strict=True):
        results = [r for r in offline if r.device == device]
        for (variant, strategy) in dict.fromkeys((r.variant, r.strategy) for r in results):
            points = sorted((r.batch_size, r.texts_per_s) for r in results if (r.variant, r.strategy) == (variant, strategy))
            line, = ax.plot(*zip(*points, strict=True), marker="o", linewidth=2.5 if variant == BASELINE else 1.2,
                            color="black" if variant == BASELINE else None,
                            linestyle="--" if strategy == "length-buckets" else "-",
                            label=variant if strategy != "length-buckets" else None)
        ax.set(xscale="log", yscale="log", xlabel="batch size", ylabel="texts/s (steady; log)",
               title=f"{device}: offline, {results[0].texts} of the dataset's texts (dashed: length buckets)")
        _log_axis(ax.xaxis, {r.batch_size for r in results})
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    return _save(fig, path)


def server_p99(server, path: Path) -> Path:
    """p99 latency against offered Poisson rate per shortlisted variant, at its best batcher setting; the budget
    drawn, and each variant's capacity marked."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.0, 4.6))
    for r in server:
        points = sorted((p.offered_per_s, p.p99_ms) for p in r.points)
        if not points:
            continue
        line, = ax.plot(*zip(*points, strict=True), marker="o", label=f"{r.variant} (batch {r.max_batch_size}, "
                        f"wait {r.max_wait_ms:g} ms)", linewidth=2.5 if r.variant == BASELINE else 1.2)
        stopped = [(p.offered_per_s, p.p99_ms) for p in r.points if p.stopped_at_s is not None]
        if stopped:  # the load stopped once over budget: its p99 is at least this
            ax.scatter(*zip(*stopped, strict=True), marker="^", s=60, color=line.get_color(), zorder=3)
        if r.capacity_per_s:
            ax.axvline(r.capacity_per_s, color=line.get_color(), linestyle=":", linewidth=1)
    budget = server[0].p99_budget_ms
    ax.axhline(budget, color="tab:red", linestyle="--", linewidth=1, label=f"p99 budget {budget:g} ms")
    ax.set(yscale="log", xlabel="offered rate (requests/s, Poisson)", ylabel="p99 latency (ms, log)",
           title="server: p99 against offered rate (dotted: capacity found; ^: stopped once over, at least)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    return _save(fig, path)


def history_plot(series: dict[str, dict[str, list[tuple[int, float]]]], out: Path, title: str) -> Path:
    """Speedup over FP32 by run, one panel per machine kind and cell, one line per variant.

    `series`: panel title -> variant -> [(run id, speedup)], oldest first.
    """
    plt = _pyplot()
    fig, axes = _grid(plt, len(series), width=6.0, height=4.0)
    for ax, (panel, lines) in zip(axes, series.items(), strict=True):
        for variant, points in sorted(lines.items()):
            ids, speedups = zip(*points, strict=True)
            ax.plot(ids, speedups, marker="o", markersize=3, label=variant)
        ax.axhline(1.0, color="grey", linewidth=0.8, linestyle="--")
        ax.set_yscale("log")
        _log_axis(ax.yaxis, SPEEDUP_TICKS)
        ax.set_title(panel, fontsize=8)
        ax.set_xlabel("run (history id)")
        ax.set_ylabel("speedup over torch-fp32")
        ax.xaxis.get_major_locator().set_params(integer=True)
    axes[0].legend(fontsize=6, loc="best")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
