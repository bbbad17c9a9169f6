"""One self-contained HTML file of a run (`report --html`): the verdict on top, interactive charts, sortable tables.

Plotly's offline HTML: plotly.js is inlined once, so the file opens with no network; every point carries its
figures on hover and a click on a legend entry hides or shows that variant. Plotly builds the charts from the
same records as the PNGs, in Python; Vega-Lite through Altair would need its three scripts inlined by hand, and
Bokeh's inline resources are several files' worth. A table sorts on a click on its header: a few lines of
script, no library. Any error a script throws while the page loads is written into the page (`#page-errors`),
where a test reads it back from headless Chromium.
"""

from __future__ import annotations

import html
import math
from pathlib import Path

from .results import accuracy_key
from .variants import BASELINE

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>fastbert-variants report: {title}</title>
<script>
window.pageErrors = [];
window.addEventListener("error", e => window.pageErrors.push(String(e.message)));
const consoleError = console.error;
console.error = (...args) => {{ window.pageErrors.push(args.join(" ")); consoleError(...args); }};
</script>
<style>
body {{ font: 14px/1.45 system-ui, sans-serif; margin: 1.5em auto; max-width: 1200px; padding: 0 1em; color: #222; }}
h1 {{ font-size: 1.4em; }} h2 {{ font-size: 1.15em; margin-top: 2em; border-bottom: 1px solid #ddd; }}
table {{ border-collapse: collapse; margin: .6em 0; font-size: 13px; }}
th, td {{ border: 1px solid #ddd; padding: 3px 8px; text-align: left; white-space: nowrap; }}
th {{ background: #f4f4f4; cursor: pointer; user-select: none; }}
th.sorted-up::after {{ content: " \\25B2"; }} th.sorted-down::after {{ content: " \\25BC"; }}
#verdict td:nth-child(2) {{ font-weight: 600; }} .note {{ color: #555; font-size: 12px; }}
.table-wrap {{ overflow-x: auto; }}
</style>
{plotly}
</head><body>
<h1>fastbert-variants: {title}</h1>
<section id="verdict"><h2>Verdict</h2>
<table><thead><tr><th>where</th><th>recommended</th><th>figure</th><th>accuracy drop from torch-fp32</th></tr></thead>
<tbody>{verdict}</tbody></table>
<p class="note">{conditions}</p>{not_measured}</section>
<section id="charts"><h2>Charts</h2>
<p class="note">Hover a point for its figures; click a legend entry to hide or show that variant.</p>
{charts}</section>
<section id="tables">{tables}</section>
<pre id="page-errors"></pre>
<script>
document.querySelectorAll("table.sortable th").forEach((header, column) => header.addEventListener("click", () => {{
  const table = header.closest("table"), body = table.tBodies[0], up = !header.classList.contains("sorted-up");
  const key = row => {{ const text = row.cells[column].textContent.trim(), number = parseFloat(text);
    return isNaN(number) ? text : number; }};
  const rows = [...body.rows].sort((a, b) => {{ const x = key(a), y = key(b);
    return (typeof x === typeof y ? (x > y) - (x < y) : (typeof x === "number" ? -1 : 1)) * (up ? 1 : -1); }});
  table.querySelectorAll("th").forEach(th => th.classList.remove("sorted-up", "sorted-down"));
  header.classList.add(up ? "sorted-up" : "sorted-down");
  rows.forEach(row => body.appendChild(row));
}}));
window.addEventListener("load", () => {{
  document.getElementById("page-errors").textContent = window.pageErrors.join("\\n");
  document.body.dataset.charts = document.querySelectorAll(".js-plotly-plot .main-svg").length ? "drawn" : "none";
}});
</script>
</body></html>
"""


def write_html(report, verdict, path: Path, trend: tuple[str, dict] | None = None) -> Path:
    """The report and its verdict as one HTML file at `path` (written atomically); `trend`: (where the runs came
    from, history.speedup_series of them), drawn for each answer's cell."""
    from plotly.offline import get_plotlyjs

    from .files import write_atomically

    charts = [figure.to_html(full_html=False, include_plotlyjs=False, div_id=name,
                             config={"displaylogo": False, "responsive": True})
              for name, figure in [*_figures(report), *_trend_figures(verdict, trend)]]
    not_measured = "".join(f"<li><code>{_e(v)}</code>: {_e(why)}</li>" for v, why in verdict.not_measured.items())
    page = PAGE.format(
        title=_e(f"{verdict.machine}, model {verdict.model}"),
        plotly=f"<script>{get_plotlyjs()}</script>",
        verdict="".join(f"<tr><td>{_e(p.where)}</td><td>{_e(p.variant)}</td><td>{_e(p.figure)}</td>"
                        f"<td>{'not scored' if p.drop_points is None else f'{p.drop_points:.2f} points'}</td></tr>"
                        for p in verdict.picks) or "<tr><td colspan=4>nothing timed in this run</td></tr>",
        conditions=_e(report.conditions()) if report.run.measured else "",
        not_measured=f"<p>Not measured, so not among the answers:</p><ul>{not_measured}</ul>" if not_measured else "",
        charts="\n".join(charts) or "<p>No timed results: no charts.</p>",
        tables="\n".join(_table(title, rows) for title, rows in report.tables()))
    write_atomically(path, page)
    return path


SPEEDUP_TICKS = (0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 4, 6, 8, 12, 16, 32)
ROUND_TICKS = tuple(m * 10 ** e for e in range(-1, 6) for m in (1, 2, 5))


def _log_axis(title: str, ticks=SPEEDUP_TICKS) -> dict:
    """A log axis labelled with plain numbers (0.5, 1, 2; 20, 50, 100), not plotly's bare digits between decades."""
    return {"type": "log", "title": title, "tickvals": list(ticks), "ticktext": [f"{t:g}" for t in ticks]}


def _e(text) -> str:
    return html.escape(str(text))


def _table(title: str, rows: list[list[str]]) -> str:
    head = "".join(f"<th>{_e(cell)}</th>" for cell in rows[0])
    body = "".join("<tr>" + "".join(f"<td>{_e(cell)}</td>" for cell in row) + "</tr>" for row in rows[1:])
    return (f"<h2>{_e(title[0].upper() + title[1:])}</h2><div class='table-wrap'><table class='sortable'>"
            f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>")


def _figures(report):
    """(div id, plotly Figure) for each chart the run's records allow."""
    import plotly.graph_objects as go
    from plotly.colors import qualitative

    run = report.run
    latency, offline, server = run.of_kind("latency"), run.of_kind("offline"), run.of_kind("server")
    layout = {"template": "plotly_white", "height": 430, "margin": {"l": 60, "r": 20, "t": 50, "b": 50},
              "legend": {"font": {"size": 11}}, "colorway": qualitative.Alphabet}  # 26 colours: one a variant
    if latency:
        figure = go.Figure(layout={**layout, "title": f"Speedup over {BASELINE} per fixed cell (95% CI; log)",
                                   "xaxis": _log_axis(f"speedup over {BASELINE}"), "barmode": "group",
                                   "height": 120 + 22 * len({r.variant for r in latency}) * len({r.cell for r in latency})})
        for cell in dict.fromkeys(r.cell for r in latency):
            rows = sorted((r for r in latency if r.cell == cell and r.variant != BASELINE), key=lambda r: r.speedup.median)
            figure.add_bar(name=cell, orientation="h", y=[r.variant for r in rows], x=[r.speedup.median for r in rows],
                           error_x={"type": "data", "symmetric": False,
                                    "array": [r.speedup.ci95[1] - r.speedup.median for r in rows],
                                    "arrayminus": [r.speedup.median - r.speedup.ci95[0] for r in rows]},
                           hovertemplate="%{y} at " + cell + ": %{x:.2f}x<extra></extra>")
        figure.add_vline(x=1, line_color="black", line_width=1)
        yield "speedup-per-cell", figure
        yield "accuracy-against-speedup", _accuracy_figure(go, layout, latency, run.accuracy or {})
    if offline:
        figure = go.Figure(layout={**layout, "title": "Offline: steady texts/s against batch size (log-log)",
                                   "xaxis": _log_axis("batch size", (1, 2, 4, 8, 16, 32, 64)),
                                   "yaxis": _log_axis("texts/s", ROUND_TICKS)})
        for variant, strategy in dict.fromkeys((r.variant, r.strategy) for r in offline):
            rows = sorted((r for r in offline if (r.variant, r.strategy) == (variant, strategy)), key=lambda r: r.batch_size)
            figure.add_scatter(name=variant if strategy == "dynamic" else f"{variant} ({strategy})", mode="lines+markers",
                               x=[r.batch_size for r in rows], y=[r.texts_per_s for r in rows],
                               line={"dash": "dash" if strategy == "length-buckets" else "solid",
                                     "width": 4 if variant == BASELINE else 2},
                               customdata=[[r.speedup.median, *r.speedup.ci95] for r in rows],
                               hovertemplate=(f"{variant}, b%{{x}}: %{{y:.1f}} texts/s, %{{customdata[0]:.2f}}x "
                                              f"{BASELINE} [%{{customdata[1]:.2f}}-%{{customdata[2]:.2f}}]<extra></extra>"))
        yield "offline-throughput", figure
    if server:
        figure = go.Figure(layout={**layout, "title": "Server: p99 of every load against its offered rate",
                                   "xaxis": {"title": "offered rate (requests/s, Poisson)"},
                                   "yaxis": _log_axis("p99 latency (ms)", ROUND_TICKS)})
        for r in server:
            loads = sorted((p.offered_per_s, p.p99_ms) for p in r.points if math.isfinite(p.p99_ms))
            if loads:
                figure.add_scatter(name=f"{r.variant} (capacity {r.capacity_per_s:.0f}/s)", mode="markers",
                                   x=[x for x, _ in loads], y=[y for _, y in loads],
                                   hovertemplate=f"{r.variant}: %{{x:.1f}}/s offered, p99 %{{y:.1f}} ms<extra></extra>")
        figure.add_hline(y=server[0].p99_budget_ms, line_dash="dash", line_color="red")
        yield "server-p99", figure


def _trend_figures(verdict, trend):
    """Per answer of the verdict, each variant's speedup over the stored runs at that cell (oldest first)."""
    if trend is None:
        return
    import plotly.graph_objects as go
    from plotly.colors import qualitative

    source, series = trend
    for pick in verdict.picks:
        lines = next((lines for panel, lines in series.items()
                      if panel.split("\n")[-1] in (pick.where, f"{pick.where}-dynamic")), None)
        if not lines:
            continue
        figure = go.Figure(layout={"template": "plotly_white", "height": 330, "colorway": qualitative.Alphabet,
                                   "title": f"History at {pick.where}: speedup over {BASELINE} by run ({source})",
                                   "title_font_size": 13, "xaxis": {"title": "run (history id)", "dtick": 1},
                                   "yaxis": _log_axis("speedup")})
        for variant, points in sorted(lines.items()):
            figure.add_scatter(name=variant, mode="lines+markers", x=[i for i, _ in points], y=[v for _, v in points],
                               line={"width": 4 if variant == pick.variant else 1.5},
                               hovertemplate=f"{variant}, run #%{{x}}: %{{y:.2f}}x<extra></extra>")
        yield f"history-{pick.where}", figure


def _accuracy_figure(go, layout, latency, accuracy):
    figure = go.Figure(layout={**layout, "title": "Accuracy drop against speedup (every fixed cell; log x)",
                               "xaxis": _log_axis(f"speedup over {BASELINE}"),
                               "yaxis": {"title": "accuracy drop (points)", "rangemode": "tozero"}})
    for variant in sorted({r.variant for r in latency}):
        record = accuracy.get(accuracy_key(latency[0].device, variant))
        if variant != BASELINE and record is None:
            continue
        rows = [r for r in latency if r.variant == variant]
        drop = 0.0 if record is None else record.drop_points
        gate = "" if record is None else ("within its gate" if record.passed else "PAST its gate")
        figure.add_scatter(name=variant, mode="markers", x=[r.speedup.median for r in rows], y=[drop] * len(rows),
                           text=[r.cell for r in rows], marker={"size": 10},
                           hovertemplate=f"{variant} at %{{text}}: %{{x:.2f}}x, drop %{{y:.2f}} points {gate}<extra></extra>")
    gates = [r.gate.max_points for r in accuracy.values()]
    if gates:
        figure.add_hline(y=max(set(gates), key=gates.count), line_dash="dash", line_color="red")
    return figure
