"""HTML reports (lbalgo.report.html) and the SVG charts they draw, checked as text and in headless Chromium.

The browser tests need Debian's ``chromium`` (``.ci/run`` installs it) and
``websocket-client``; without a browser they are skipped with the reason.
"""

import dataclasses
import io
import math
import re
import sys
from html.parser import HTMLParser

import numpy as np
import pytest

from lbalgo import cli, scenario
from lbalgo.report import compare
from lbalgo.report.html import CSP
from lbalgo.report.svg import Panel, compose, log_ticks, nice_ticks
from lbalgo.report.tidy import METRICS, comparison_columns, row_record
from lbalgo.sweeps import SweepResult, grid_from_dict
from tests.headless import Chromium, find_chromium

ALGORITHMS = ["rr", "wrr", "sh", "mh", "wlc", "iptables"]


@pytest.fixture(scope="module")
def small():
    """The built-in scenario (FIFO queues, a failure and a recovery) on 5,000 connections."""
    return compare(dataclasses.replace(scenario.default(), connections=5000), ALGORITHMS)


@pytest.fixture(scope="module")
def infinite():
    """The infinite server without pool events: no latency, no disruption."""
    sc = dataclasses.replace(
        scenario.default(),
        connections=3000,
        load=None,
        events=(),
        arrivals=scenario.Model("poisson", (("rate", 500.0),)),
        service=scenario.Service(model="infinite"),
    )
    return compare(sc, ["rr", "sh"])


class Page(HTMLParser):
    """What the tests look at in a report: tables, their rows, sections, references, scripts."""

    def __init__(self, text):
        super().__init__()
        self.rows = {}  # table id -> list of data-algorithm values of body rows
        self.table = None
        self.in_body = False
        self.ids = []
        self.refs = []  # src / href / xlink:href values
        self.metas = []
        self.svgs = 0  # charts: <svg> elements not inside another
        self.svg_depth = 0
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.append(a["id"])
        for name in ("src", "href", "xlink:href", "action", "data", "poster"):
            if name in a:
                self.refs.append(a[name])
        if tag == "table":
            self.table = a.get("id")
            self.rows[self.table] = []
        if tag == "tbody":
            self.in_body = True
        if tag == "tr" and self.in_body and "data-algorithm" in a:
            self.rows[self.table].append(a["data-algorithm"])
        if tag == "meta":
            self.metas.append(a)
        if tag == "svg":
            self.svgs += self.svg_depth == 0
            self.svg_depth += 1

    def handle_endtag(self, tag):
        if tag == "tbody":
            self.in_body = False
        if tag == "svg":
            self.svg_depth -= 1


def test_comparison_report_has_a_row_per_algorithm_and_every_section(small):
    text = small.to_html()
    page = Page(text)
    labels = [r.algorithm for r in small.rows]
    assert page.rows["summary-table"] == labels
    assert page.rows["shares-table-data"] == labels
    assert {"summary", "columns", "shares-table", "shares", "active", "latency", "disruption"} <= set(
        page.ids
    )
    # small multiples: a shares and an activity panel per algorithm, a latency panel per family, one per event
    families = {row_record(r)["family"] for r in small.rows}
    assert page.svgs == 2 * len(labels) + len(families) + len(small.event_times)
    for m in ("max dev", "Jain", "load max/mean", "sticky", "moved", "p99", "dropped", "Mconn/s"):
        assert f">{m}</th>" in text and f"<dt>{m}</dt>" in text
    assert "Interrupted" not in text


def test_report_loads_nothing_from_the_network(small):
    text = small.to_html()
    page = Page(text)
    assert all(ref.startswith("#") for ref in page.refs), page.refs
    assert {"http-equiv": "Content-Security-Policy", "content": CSP} in page.metas
    assert "default-src 'none'" in CSP
    # the only URLs are SVG's namespace name, which is never fetched
    assert set(re.findall(r"https?://[^\s\"'<>)]+", text)) == {"http://www.w3.org/2000/svg"}
    assert "@import" not in text and "url(http" not in text


def test_sections_that_do_not_apply_are_left_out(infinite):
    text = infinite.to_html(timing=False)
    page = Page(text)
    assert "latency" not in page.ids and "disruption" not in page.ids
    assert ">p99</th>" not in text and ">moved</th>" not in text and "Mconn/s" not in text
    assert page.rows["summary-table"] == ["rr", "sh"]


def test_best_values_are_marked_and_cells_carry_sortable_values(small):
    text = small.to_html()
    jain = [r.jain for r in small.rows]
    best = small.rows[int(np.argmax(jain))].algorithm
    row = re.search(rf'<tr data-algorithm="{best}">(.*?)</tr>', text).group(1)
    assert f'class="best" data-v="{max(jain)!r}"' in row


def test_an_interrupted_comparison_says_what_did_not_run(small):
    partial = dataclasses.replace(
        small, rows=small.rows[:2], missing=tuple(r.algorithm for r in small.rows[2:])
    )
    text = partial.to_html()
    assert "Interrupted: 2 of 6 algorithms ran; not run: sh, mh, wlc, iptables." in text
    assert Page(text).rows["summary-table"] == ["rr", "wrr"]
    nothing = dataclasses.replace(small, rows=(), missing=tuple(r.algorithm for r in small.rows))
    text = nothing.to_html()
    assert "Interrupted: 0 of 6 algorithms ran" in text and "<table" not in text


@pytest.mark.slow
def test_default_comparison_report_is_under_3_mb():
    # The report's size depends on the algorithms, backends, samples and quantiles, not on the number of
    # connections: the built-in scenario with every algorithm, cut to 20,000 connections, has the size
    # of the full default comparison's report.
    c = compare(dataclasses.replace(scenario.default(), connections=20_000))
    size = len(c.to_html().encode())
    assert 100_000 < size <= 3_000_000, size


def test_cli_writes_the_html_report(tmp_path, capsys):
    out = tmp_path / "report.html"
    code = cli.main(
        ["compare", "--connections", "3000", "--algorithms", "rr,sh", "--format", "html", "-o", str(out)]
    )
    captured = capsys.readouterr()
    assert code == 0 and captured.out == "" and captured.err == ""
    text = out.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and Page(text).rows["summary-table"] == ["rr", "sh"]


def test_to_pandas_has_a_row_per_algorithm(small):
    pd = pytest.importorskip("pandas")
    df = small.to_pandas()
    assert isinstance(df, pd.DataFrame)
    assert list(df["algorithm"]) == [r.algorithm for r in small.rows]
    assert list(df.columns) == ["algorithm", "scheduler", "family"] + [m.name for m in METRICS]
    assert df.loc[2, "jain"] == small.rows[2].jain
    assert df.loc[0, "latency_p99"] == small.rows[0].latency["p99"]
    assert "connections_per_second" not in small.to_pandas(timing=False).columns


def test_to_pandas_without_pandas_says_how_to_install_it(small, monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(RuntimeError, match="pip install pandas"):
        small.to_pandas()
    assert comparison_columns(small)["algorithm"] == [r.algorithm for r in small.rows]  # no pandas needed


# -- SVG ---------------------------------------------------------------------------------------------
def test_ticks():
    assert nice_ticks(0, 1, 5) == [0, 0.2, 0.4, 0.6000000000000001, 0.8, 1.0]
    assert nice_ticks(0.5, 0.95, 5) == pytest.approx([0.5, 0.6, 0.7, 0.8, 0.9])
    assert nice_ticks(0, 73_000, 4) == [0, 20_000, 40_000, 60_000]
    assert log_ticks(2e-3, 50) == [0.01, 0.1, 1.0, 10.0]
    assert log_ticks(0.02, 0.9) == pytest.approx([0.02, 0.05, 0.1, 0.2, 0.5])


def test_panel_lines_break_at_nan_and_bands_close():
    p = Panel(title="t", x=(0, 4), y=(0, 1))
    p.line([0, 1, 2, 3, 4], [0.1, 0.2, math.nan, 0.4, 0.5], "#000", series="a")
    p.band([0, 1, 2], [0.1, 0.1, 0.1], [0.3, 0.3, 0.3], "#f00", series="a")
    svg = p.render()
    assert svg.count("<polyline") == 2 and svg.count("<polygon") == 1
    polygon = re.search(r'<polygon[^>]*points="([^"]+)"', svg).group(1).split()
    assert len(polygon) == 6  # upper edge out, lower edge back
    x0, y_top = map(float, polygon[0].split(","))
    assert x0 == pytest.approx(p.sx(0)) and y_top == pytest.approx(float(p.sy(0.3)))
    assert 'data-s="a"' in svg and "<title>" not in svg
    doc = compose([p, p], columns=2, title="two", legend=[("a", "#000")])
    assert doc.startswith("<?xml") and doc.count("<svg") == 1 + 2 * 2  # a panel's marks are in an inner <svg>


# -- sweeps ----------------------------------------------------------------------------------------
def fake_sweep(replicates=3, algorithms=("rr", "wlc", "sh")):
    g = grid_from_dict(
        {
            "name": "fake",
            "replicates": replicates,
            "algorithms": list(algorithms),
            "base": {"connections": 1000},
            "axes": {"arrivals.load": [0.5, 0.7, 0.9], "pool.backends": [3, 5]},
        }
    )
    records = {}
    for run in g.runs():
        load = dict(run.cell.coords)["arrivals.load"]
        rows = [
            {
                "algorithm": a,
                "scheduler": a,
                "family": "Linux IPVS",
                "connections": 1000,
                "dropped": 0,
                "dropped_share": 0.0,
                "max_deviation": 0.1 * i + load / 10 + run.replicate / 100,
                "jain": 1 - load / (10 + i),
                "sticky": 0.5,
                "latency_p99": load * (i + 1) / 10,
            }
            for i, a in enumerate(algorithms)
        ]
        records[run.key] = {"key": run.key, "rows": rows, "versions": {"lbalgo": "X"}}
    return SweepResult.from_records(g, g.runs(), records)


def test_sweep_report_plots_each_metric_with_bands_per_facet():
    res = fake_sweep()
    text = res.to_html()
    page = Page(text)
    assert all(ref.startswith("#") for ref in page.refs)
    assert page.rows["summary-table"] == ["rr", "wlc", "sh"] * 6
    metrics = ["max_deviation", "jain", "sticky", "latency_p99"]  # dropped_share is all zero: not plotted
    assert [i[2:] for i in page.ids if i.startswith("m-")] == metrics
    assert page.svgs == 2 * len(metrics)  # one panel per pool size
    assert text.count("<polygon") == 2 * len(metrics) * 3  # a confidence band per algorithm and panel
    assert "pool.backends=3" in text and "pool.backends=5" in text
    svgs = res.plots()
    assert list(svgs) == metrics and all(s.startswith("<?xml") for s in svgs.values())


def test_sweep_report_splits_more_than_ten_algorithms_by_family():
    algorithms = ("rr", "wrr", "lc", "wlc", "sed", "nq", "sh", "mh", "iptables", "nftables", "envoy-maglev")
    res = fake_sweep(replicates=2, algorithms=algorithms)
    res.table["family"] = [
        "Linux IPVS" if a not in ("iptables", "nftables", "envoy-maglev") else "kube-proxy"
        for a in res.table["algorithm"]
    ]
    text = res.to_html()
    assert "pool.backends=3 · Linux IPVS" in text and "pool.backends=5 · kube-proxy" in text


# -- in a real browser -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def browser():
    pytest.importorskip("websocket", reason="the browser tests drive Chromium with websocket-client")
    binary = find_chromium()
    if binary is None:
        pytest.skip("no Chromium: apt-get install chromium (or set LBALGO_CHROMIUM); .ci/run installs it")
    with Chromium(binary) as b:
        yield b


def non_blank(png: bytes) -> tuple[float, int]:
    """Share of pixels that are not the page background, and the number of distinct colours."""
    from PIL import Image

    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).reshape(-1, 3)
    background = np.all(pixels == pixels[0], axis=1)
    return float(1 - background.mean()), len(np.unique(pixels, axis=0))


def test_comparison_report_renders_in_chromium(small, browser, tmp_path):
    path = tmp_path / "report.html"
    path.write_text(small.to_html(), encoding="utf-8")
    page = browser.open(path.as_uri())
    assert page.errors() == []
    assert page.requests() == [path.as_uri()]  # the file itself and nothing else
    labels = [r.algorithm for r in small.rows]
    assert (
        page.evaluate(
            "Array.from(document.querySelectorAll('#summary-table tbody tr'))"
            ".map(r => r.cells[0].textContent)"
        )
        == labels
    )
    assert page.evaluate("document.querySelectorAll('.panel > svg').length") == Page(small.to_html()).svgs
    # every chart has a size on the page
    assert page.evaluate(
        "Array.from(document.querySelectorAll('.panel svg'))"
        ".every(s => s.getBoundingClientRect().width > 100)"
    )
    shown, colours = non_blank(page.screenshot())
    assert shown > 0.05 and colours > 20
    shown, colours = non_blank(page.screenshot(full_page=True))
    assert shown > 0.05 and colours > 50


def test_tables_sort_by_value_when_a_heading_is_clicked(small, browser, tmp_path):
    path = tmp_path / "sort.html"
    path.write_text(small.to_html(), encoding="utf-8")
    page = browser.open(path.as_uri())
    column = 1 + ["max dev", "Jain"].index("Jain") + 2  # algorithm, family, max dev, Jain
    page.evaluate(f"document.querySelector('#summary-table thead th:nth-child({column})').click()")
    order = page.evaluate(
        "Array.from(document.querySelectorAll('#summary-table tbody tr')).map(r => r.cells[0].textContent)"
    )
    expected = [r.algorithm for r in sorted(small.rows, key=lambda r: r.jain)]
    assert [r for r in order] == expected
    page.evaluate(f"document.querySelector('#summary-table thead th:nth-child({column})').click()")
    again = page.evaluate(
        "Array.from(document.querySelectorAll('#summary-table tbody tr')).map(r => r.cells[0].textContent)"
    )
    assert again == expected[::-1]
    assert (
        page.evaluate(
            f"document.querySelector('#summary-table thead th:nth-child({column})').getAttribute('aria-sort')"
        )
        == "descending"
    )
    # pointing at a legend entry highlights that series in the figure
    page.evaluate(
        "document.querySelector('#active ul.legend li[data-s=\"b1\"]')"
        ".dispatchEvent(new MouseEvent('mouseenter'))"
    )
    assert page.evaluate("document.querySelector('#active').classList.contains('hl')")
    assert page.evaluate("document.querySelectorAll('#active polyline.on').length") > 0
    assert page.errors() == []


def test_sweep_report_renders_in_chromium(browser, tmp_path):
    res = fake_sweep()
    path = tmp_path / "sweep.html"
    path.write_text(res.to_html(), encoding="utf-8")
    page = browser.open(path.as_uri())
    assert page.errors() == [] and page.requests() == [path.as_uri()]
    assert page.evaluate("document.querySelectorAll('#summary-table tbody tr').length") == 18
    shown, colours = non_blank(page.screenshot())
    assert shown > 0.05 and colours > 20


def test_the_browser_check_sees_errors_and_requests(browser, tmp_path):
    # The harness must be able to fail: a page with a console error, an exception and a remote image.
    path = tmp_path / "bad.html"
    path.write_text(
        "<!DOCTYPE html><html><body><p>x</p><img src='http://127.0.0.1:9/x.png'>"
        "<script>console.error('broken'); undefinedFunction();</script></body></html>"
    )
    page = browser.open(path.as_uri())
    errors = page.errors()
    assert any("console: broken" in e for e in errors)
    assert any("undefinedFunction" in e for e in errors)
    assert "http://127.0.0.1:9/x.png" in page.requests()
    shown, _ = non_blank(page.screenshot())
    assert shown < 0.01  # and a near-empty page is seen as blank


def test_report_without_timing_is_reproducible(small):
    again = compare(dataclasses.replace(scenario.default(), connections=5000), ALGORITHMS)
    assert again.to_html(timing=False) == small.to_html(timing=False)
