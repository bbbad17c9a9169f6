"""report --html: one self-contained file, opened in headless Chromium: the verdict and every chart drawn, no script
error (#35 part 3)."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from fastbert_variants.cli import main

RUN = Path(__file__).parent / "data" / "runs" / "quick-2026-12-02-before"
BROWSER = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    pytest.importorskip("plotly", reason="report --html needs plotly: pip install 'fastbert-variants[html]'")
    out = tmp_path_factory.mktemp("report")
    assert main(["report", str(RUN / "benchmark.json"), "--accuracy", str(RUN / "accuracy.json"), "--out", str(out),
                 "--html"]) == 0
    return out / "report.html"


def test_the_page_needs_no_network(page):
    text = page.read_text()
    assert not re.search(r"<script[^>]*\bsrc=|<link\b|<img\b|@import", text)  # every script and style inline
    assert text.count("Plotly.newPlot") == 2 and "openvino" in text


def rendered(path: Path) -> str:
    """The page's DOM after its scripts ran, as headless Chromium has it."""
    if BROWSER is None:
        pytest.skip("headless Chromium is not installed (Debian: apt-get install chromium); .ci/run installs it")
    done = subprocess.run([BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=10000",
                           "--dump-dom", path.as_uri()], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_chromium_draws_the_verdict_and_every_chart_without_an_error(page):
    dom = rendered(page)
    assert re.search(r'<pre id="page-errors"></pre>', dom), re.search(r'<pre id="page-errors">.*?</pre>', dom, re.S)
    charts = re.findall(r'<div id="([a-z-]+)" class="plotly-graph-div([^"]*)"', dom)
    assert [name for name, _ in charts] == ["speedup-per-cell", "accuracy-against-speedup"]
    assert all("js-plotly-plot" in classes for _, classes in charts)  # plotly drew each one
    assert 'data-charts="drawn"' in dom and dom.count("main-svg") >= 2 * len(charts)
    verdict = dom[dom.index('<section id="verdict">'):dom.index('<section id="charts">')]
    assert "<td>cpu-b1-s128</td>" in verdict


def test_a_script_error_on_the_page_is_caught(page, tmp_path):
    broken = tmp_path / "broken.html"
    broken.write_text(page.read_text().replace("</body>", "<script>notAFunction();</script></body>"))
    assert "notAFunction is not defined" in re.search(r'<pre id="page-errors">(.*?)</pre>', rendered(broken), re.S)[1]


def test_with_a_history_each_answer_has_its_trend_and_no_credential(tmp_path):
    pytest.importorskip("plotly", reason="report --html needs plotly: pip install 'fastbert-variants[html]'")
    db = f"sqlite:///{tmp_path / 'history.sqlite'}"
    assert main(["history", "add", str(RUN / "benchmark.json"), "--accuracy", str(RUN / "accuracy.json"),
                 "--db", db, "--branch", "main"]) == 0
    out = tmp_path / "report"
    assert main(["report", str(RUN / "benchmark.json"), "--accuracy", str(RUN / "accuracy.json"), "--out", str(out),
                 "--html", "--db", db, "--branch", "main"]) == 0
    text = (out / "report.html").read_text()
    assert 'id="history-cpu-b1-s128"' in text and "1 run(s) of " in text
    assert main(["report", str(RUN / "benchmark.json"), "--out", str(out), "--db", db]) == 2  # --db without --html


def test_a_click_on_a_header_sorts_its_table_in_the_browser(page, tmp_path):
    clicked = tmp_path / "clicked.html"
    probe = """<script>window.addEventListener("load", () => {
      const table = document.querySelector("#tables table.sortable"), header = table.querySelectorAll("th")[0];
      const firsts = () => [...table.tBodies[0].rows].map(row => row.cells[0].textContent);
      header.click(); const up = firsts(); header.click(); const down = firsts();
      document.body.dataset.sorted = JSON.stringify({up, down});
    });</script></body>"""
    clicked.write_text(page.read_text().replace("</body>", probe))
    import html
    import json

    sorted_ = json.loads(html.unescape(re.search(r'data-sorted="([^"]*)"', rendered(clicked))[1]))
    assert sorted_["up"] == sorted(sorted_["up"]) and sorted_["down"] == sorted(sorted_["up"], reverse=True)
    assert len(set(sorted_["up"])) > 1
