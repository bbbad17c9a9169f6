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


def _log_axis(axis, values, limits: tuple[float, float] | None = None, labels: int = 7) -> None:
    """Log scale with plain-number ticks (0.5, 1, 2): only those inside `limits`, thinned to about `labels` evenly
    spaced on the log scale, so that tick labels never run into each other; no minor labels."""
    from matplotlib.ticker import FixedLocator, NullFormatter, StrMethodFormatter

    ticks = sorted(v for v in values if limits is None or limits[0] <= v <= limits[1])
    if len(ticks) > labels:
        spacing, kept = math.log(ticks[-1] / ticks[0]) / labels, [ticks[0]]
        for tick in ticks[1:]:
            if math.log(tick / kept[-1]) >= spacing:
                kept.append(tick)
        ticks = kept
    axis.set_major_locator(FixedLocator(ticks))
    axis.set_major_formatter(StrMethodFormatter("{x:g}"))
    axis.set_minor_formatter(NullFormatter())


def _plain_log_y(ax) -> None:
    """A log y axis labelled 20, 50, 100, 200 (not 2x10^1): ticks at 1, 2 and 5 of each decade."""
    from matplotlib.ticker import LogLocator, NullFormatter, StrMethodFormatter

    ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(StrMethodFormatter("{x:g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())


SPEEDUP_TICKS = (0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 4, 6, 8, 12, 16, 32)
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "h")


def _styles(variants) -> dict[str, dict]:
    """One look per variant for every plot of a run: FP32 black and thick; the others 20 distinct colours (tab20),
    each with its own marker too, so no two series look alike however many there are."""
    from matplotlib import colormaps

    colours = colormaps["tab20"].colors
    others = sorted(v for v in set(variants) if v != BASELINE)
    styles = {v: {"color": colours[i % 20], "marker": MARKERS[(i + i // 20) % len(MARKERS)], "linewidth": 1.3}
              for i, v in enumerate(others)}
    styles[BASELINE] = {"color": "black", "marker": "o", "linewidth": 2.6}
    return styles


def _legend_right(fig, axes) -> None:
    """One legend for the whole figure, right of the plots (never over the data); each label once."""
    labelled = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            labelled.setdefault(label, handle)
    if labelled:
        fig.legend(labelled.values(), labelled.keys(), loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8,
                   frameon=False)


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
    styles = _styles(r.variant for r in latency)
    fig, axes = _grid(plt, len(panels))
    for ax, (device, batch_size) in zip(axes, panels, strict=True):
        results = [r for r in latency if r.device == device and r.batch_size == batch_size]
        for variant in sorted({r.variant for r in results}, key=lambda v: (v != BASELINE, v)):
            points = sorted((r.seq_len, r.median_ms) for r in results if r.variant == variant)
            ax.plot(*zip(*points, strict=True), label=variant, **styles[variant])
        ax.set(xscale="log", yscale="log", xlabel="sequence length (tokens)", ylabel="median latency (ms, log)",
               title=f"{device}, batch {batch_size}")
        _log_axis(ax.xaxis, {r.seq_len for r in results})
        _plain_log_y(ax)
        ax.grid(True, which="both", alpha=0.3)
    _legend_right(fig, axes)
    return _save(fig, path)


def speedup_per_cell(latency: list, path: Path) -> Path:
    """Interleaved speedup over FP32 with its 95% interval, one panel per cell; the line at 1 is FP32."""
    plt = _pyplot()
    cells = list(dict.fromkeys(r.cell for r in latency))
    fig, axes = _grid(plt, len(cells), width=5.2, height=0.35 * len({r.variant for r in latency}) + 1.4)
    for ax, cell in zip(axes, cells, strict=True):
        results = sorted((r for r in latency if r.cell == cell and r.variant != BASELINE), key=lambda r: r.speedup.median)
        medians = [r.speedup.median for r in results]
        errors = [[m - r.speedup.ci95[0] for m, r in zip(medians, results, strict=True)],
                  [r.speedup.ci95[1] - m for m, r in zip(medians, results, strict=True)]]
        colors = ["tab:green" if r.speedup.ci95[0] > 1 else "tab:red" if r.speedup.ci95[1] < 1 else "tab:gray"
                  for r in results]
        ax.barh([r.variant for r in results], medians, xerr=errors, color=colors, capsize=3)
        ax.axvline(1.0, color="black", linewidth=1)
        limits = (min([*(r.speedup.ci95[0] for r in results), 1.0]) / 1.3,
                  max([*(r.speedup.ci95[1] for r in results), 1.0]) * 1.3)
        ax.set(xscale="log", xlabel=f"speedup over {BASELINE} (log; 95% CI)", title=cell, xlim=limits)
        _log_axis(ax.xaxis, SPEEDUP_TICKS, limits, labels=5)
        ax.tick_params(axis="y", labelsize=8)
    return _save(fig, path)


def accuracy_against_speedup(latency: list, accuracy: dict, recommendations: list, path: Path) -> Path:
    """Each variant's accuracy drop against its speedup, per cell, with the gate and the recommended variant.

    Variants told apart by colour and marker (the legend), not by labels on the points: near zero drop a dozen
    of them sit within a few pixels. The recommended one is ringed and named; one past its gate is drawn hollow."""
    plt = _pyplot()
    recommended = {rec.cell: rec.variant for rec in recommendations}
    cells = list(dict.fromkeys(r.cell for r in latency))
    styles = _styles(r.variant for r in latency)
    gates = [rec.gate.max_points for rec in accuracy.values()]
    gate = max(set(gates), key=gates.count) if gates else None
    fig, axes = _grid(plt, len(cells), width=4.4)
    for ax, cell in zip(axes, cells, strict=True):
        shown = []
        for r in sorted((r for r in latency if r.cell == cell), key=lambda r: (r.variant != BASELINE, r.variant)):
            record = accuracy.get(accuracy_key(r.device, r.variant))
            if r.variant != BASELINE and record is None:
                continue
            drop = 0.0 if record is None else record.drop_points
            style, failed = styles[r.variant], record is not None and not record.passed
            ax.scatter(r.speedup.median, drop, marker=style["marker"], s=42, zorder=3, label=r.variant,
                       facecolors="none" if failed else style["color"], edgecolors=style["color"],
                       linewidths=1.5)
            shown.append((r.speedup.median, drop))
            if recommended.get(cell) == r.variant:
                ax.scatter(r.speedup.median, drop, s=300, facecolors="none", edgecolors="tab:green", linewidths=2,
                           zorder=4, clip_on=False, label="recommended (ringed)")
                ax.annotate(r.variant, (r.speedup.median, drop), textcoords="offset points", xytext=(0, 14),
                            ha="center", fontsize=8, color="tab:green")
        if gate is not None:
            ax.axhline(gate, color="tab:red", linestyle="--", linewidth=1, label=f"accuracy gate ({gate:g} points)")
        ax.axvline(1.0, color="black", linewidth=0.8)
        speeds, drops = [x for x, _ in shown] or [1.0], [y for _, y in shown] or [0.0]
        limits = (min([*speeds, 1.0]) / 1.25, max([*speeds, 1.0]) * 1.25)
        top = 1.3 * max([gate or 0.0, *drops, 0.1])
        ax.set(xscale="log", xlabel=f"speedup over {BASELINE} (log)", ylabel="accuracy drop (points)", title=cell,
               xlim=limits, ylim=(-0.08 * top, top))
        _log_axis(ax.xaxis, SPEEDUP_TICKS, limits, labels=5)
        ax.grid(True, alpha=0.3)
    _legend_right(fig, axes)
    fig.text(0.01, 0.005, "hollow: past its accuracy gate", fontsize=7)
    return _save(fig, path)


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110, bbox_inches="tight")  # the legend right of the plots is kept, nothing clipped
    fig.clear()
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path


def offline_throughput(offline, path: Path) -> Path:
    """Steady texts/s against batch size, one line per variant (dashed: length buckets), one panel per device."""
    plt = _pyplot()
    devices = list(dict.fromkeys(r.device for r in offline))
    styles = _styles(r.variant for r in offline)
    fig, axes = _grid(plt, len(devices), width=6.4, height=4.6)
    for ax, device in zip(axes, devices, strict=True):
        results = [r for r in offline if r.device == device]
        series = sorted({(r.variant, r.strategy) for r in results}, key=lambda s: (s[0] != BASELINE, s))
        for variant, strategy in series:
            points = sorted((r.batch_size, r.texts_per_s) for r in results if (r.variant, r.strategy) == (variant, strategy))
            buckets = strategy == "length-buckets"
            ax.plot(*zip(*points, strict=True), linestyle="--" if buckets else "-",
                    label=f"{variant} (length buckets)" if buckets else variant, **styles[variant])
        title = f"{device}: offline, {results[0].texts} of the dataset's texts"
        if any(r.strategy == "length-buckets" for r in results):
            title += "\n(dashed: sorted into length buckets first)"
        ax.set(xscale="log", yscale="log", xlabel="batch size", ylabel="texts/s (steady; log)", title=title)
        _log_axis(ax.xaxis, {r.batch_size for r in results})
        _plain_log_y(ax)
        ax.grid(True, which="both", alpha=0.3)
    _legend_right(fig, axes)
    return _save(fig, path)


def server_p99(server, path: Path) -> Path:
    """p99 latency against offered Poisson rate per served variant, at its batcher setting: every load a point, the
    line through each rate's worst load, in order of rate; the budget drawn, each variant's capacity dotted."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.0, 4.6))
    styles = _styles(r.variant for r in server)
    for r in server:
        loads = sorted((p.offered_per_s, p.p99_ms) for p in r.points)
        if not loads:
            continue
        style = styles[r.variant]
        worst = {rate: p99 for rate, p99 in loads}  # sorted: the last of a rate is its highest p99
        ax.plot(list(worst), list(worst.values()), color=style["color"], linewidth=style["linewidth"],
                label=f"{r.variant} (batch {r.max_batch_size}, wait {r.max_wait_ms:g} ms)")
        ax.scatter(*zip(*loads, strict=True), color=style["color"], marker=style["marker"], s=24, zorder=3)
        stopped = [(p.offered_per_s, p.p99_ms) for p in r.points if p.stopped_at_s is not None]
        if stopped:  # the load stopped once over budget: its p99 is at least this
            ax.scatter(*zip(*stopped, strict=True), marker="^", s=60, color=style["color"], zorder=3)
        if r.capacity_per_s:
            ax.axvline(r.capacity_per_s, color=style["color"], linestyle=":", linewidth=1.2,
                       label=f"{r.variant}: capacity {r.capacity_per_s:.0f}/s")
    budget = server[0].p99_budget_ms
    ax.axhline(budget, color="tab:red", linestyle="--", linewidth=1, label=f"p99 budget {budget:g} ms")
    ax.set(yscale="log", xlabel="offered rate (requests/s, Poisson)", ylabel="p99 latency (ms, log)",
           title="server: p99 against offered rate (a point per load)")
    _plain_log_y(ax)
    ax.grid(True, which="both", alpha=0.3)
    _legend_right(fig, [ax])
    return _save(fig, path)


def history_plot(series: dict[str, dict[str, list[tuple[int, float]]]], out: Path, title: str) -> Path:
    """Speedup over FP32 by run, one panel per machine kind and cell, one line per variant.

    `series`: panel title -> variant -> [(run id, speedup)], oldest first.
    """
    plt = _pyplot()
    fig, axes = _grid(plt, len(series), width=6.0, height=4.0)
    styles = _styles(v for lines in series.values() for v in lines)
    for ax, (panel, lines) in zip(axes, series.items(), strict=True):
        for variant, points in sorted(lines.items()):
            ids, speedups = zip(*points, strict=True)
            ax.plot(ids, speedups, markersize=4, label=variant, **styles[variant])
        ax.axhline(1.0, color="grey", linewidth=0.8, linestyle="--")
        ax.set_yscale("log")
        _log_axis(ax.yaxis, SPEEDUP_TICKS)
        ax.set_title(panel, fontsize=8)
        ax.set_xlabel("run (history id)")
        ax.set_ylabel("speedup over torch-fp32")
        ax.xaxis.get_major_locator().set_params(integer=True)
    _legend_right(fig, axes)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return out
