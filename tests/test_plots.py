"""Plots a person can read: every series its own look, tick labels apart, the legend off the data (#35 part 4)."""

from types import SimpleNamespace

import pytest

from fastbert_variants import plots
from fastbert_variants.variants import BASELINE

VARIANTS = [BASELINE] + [f"variant-{i:02d}" for i in range(23)]  # more series than tab20 has colours


def latency_results():
    rows = []
    for i, variant in enumerate(VARIANTS):
        for seq_len in (16, 128, 512):
            speedup = 1.0 if variant == BASELINE else 0.5 + 0.3 * i
            rows.append(SimpleNamespace(
                device="cpu", batch_size=1, seq_len=seq_len, variant=variant, cell=f"cpu-b1-s{seq_len}",
                median_ms=seq_len / 8 / speedup, speedup=SimpleNamespace(median=speedup, ci95=(speedup * 0.9, speedup * 1.1))))
    return rows


@pytest.fixture
def figures(monkeypatch):
    """The figures the plot functions made, kept open for inspection instead of only written."""
    kept = []

    def keep(fig, path):
        fig.savefig(path, dpi=60, bbox_inches="tight")
        kept.append(fig)
        return path
    monkeypatch.setattr(plots, "_save", keep)
    return kept


def test_every_series_has_its_own_look_however_many_there_are():
    styles = plots._styles(VARIANTS)
    looks = {(style["color"], style["marker"]) for style in styles.values()}
    assert len(looks) == len(VARIANTS)
    assert styles[BASELINE]["color"] == "black"
    assert plots._styles(reversed(VARIANTS)) == styles  # the same variant looks the same in every plot of a run


def _overlapping(labels) -> list[tuple[str, str]]:
    boxes = [(label.get_text(), label.get_window_extent()) for label in labels if label.get_text() and label.get_visible()]
    return [(a, b) for (a, box_a), (b, box_b) in zip(boxes, boxes[1:], strict=False) if box_a.overlaps(box_b)]


def test_speedup_tick_labels_never_run_into_each_other(figures, tmp_path):
    latency = latency_results()
    plots.speedup_per_cell(latency, tmp_path / "speedup.png")
    plots.accuracy_against_speedup(latency, {}, [], tmp_path / "accuracy.png")
    for fig in figures:
        fig.canvas.draw()
        for ax in fig.axes:
            if ax.get_visible():
                assert _overlapping(ax.get_xticklabels()) == [], ax.get_title()


def test_the_legend_sits_beside_the_plots_not_on_the_data(figures, tmp_path):
    latency = latency_results()
    plots.latency_by_seq_len(latency, tmp_path / "latency.png")
    fig = figures[0]
    fig.canvas.draw()
    legend, = fig.legends
    assert {t.get_text() for t in legend.get_texts()} == set(VARIANTS)
    plot_area = fig.axes[0].get_window_extent()
    assert legend.get_window_extent().x0 >= plot_area.x1


def test_the_server_curve_follows_the_rate_and_keeps_every_load(figures, tmp_path):
    loads = [(150.0, 60.0), (225.0, 500.0), (150.0, 55.0), (166.0, 140.0), (184.0, 160.0)]  # in search order
    server = [SimpleNamespace(variant="ort-int8-dynamic", max_batch_size=1, max_wait_ms=0.0, capacity_per_s=150.0,
                              p99_budget_ms=100.0, points=[SimpleNamespace(offered_per_s=r, p99_ms=p, stopped_at_s=None)
                                                           for r, p in loads])]
    plots.server_p99(server, tmp_path / "server.png")
    ax = figures[0].axes[0]
    rates = list(ax.lines[0].get_xdata())
    assert rates == sorted(set(rates)) == [150.0, 166.0, 184.0, 225.0]  # no vertical zigzag through repeated rates
    assert len(ax.collections[0].get_offsets()) == len(loads)
