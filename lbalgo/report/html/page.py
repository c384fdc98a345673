"""The page around every HTML report (its Content-Security-Policy, style sheet and script), and shared blocks.

:func:`page` wraps a body in a complete, self-contained document; the other
functions build the pieces the comparison and sweep pages have in common
(figures, panel grids, legends, column notes, sortable cells).
"""

from __future__ import annotations

import math
from html import escape
from typing import Any, Sequence

from ..tidy import Metric

CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:; "
    "base-uri 'none'; form-action 'none'"
)

STYLE = """
:root{--fg:#111827;--muted:#6b7280;--line:#e5e7eb;--head:#f9fafb;--best:#dcfce7;--accent:#1d4ed8}
*{box-sizing:border-box}
body{margin:0;color:var(--fg);background:#fff;
  font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif}
main{max-width:1480px;margin:0 auto;padding:20px 24px 60px}
h1{font-size:22px;margin:0 0 6px}
h2{font-size:18px;margin:34px 0 10px;padding-bottom:4px;border-bottom:1px solid var(--line)}
h3{font-size:15px;margin:22px 0 4px}
h4{font-size:13px;margin:14px 0 4px;color:var(--muted);font-weight:600}
p{margin:4px 0}
.meta{color:var(--muted);font-size:13px}
nav{margin:12px 0;font-size:13px}
nav a{color:var(--accent);margin-right:14px;text-decoration:none}
.note{background:#fef3c7;border:1px solid #f59e0b;border-radius:6px;padding:8px 12px;margin:12px 0}
.scroll{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;font-variant-numeric:tabular-nums;font-size:13px;margin:6px 0}
th,td{padding:3px 9px;border-bottom:1px solid var(--line);text-align:right;white-space:nowrap}
th:first-child,td:first-child,td.txt,th.txt{text-align:left}
thead th{position:sticky;top:0;background:var(--head);z-index:1}
table.sortable thead tr:first-child th{cursor:pointer;user-select:none}
table.sortable thead tr:first-child th:hover{background:#eef2ff}
th[aria-sort=ascending]::after{content:" \\25B2";font-size:10px}
th[aria-sort=descending]::after{content:" \\25BC";font-size:10px}
tr.target td{font-style:italic;background:#f3f4f6}
td.best{background:var(--best);font-weight:600}
tbody tr:hover td{background:#f5f7ff}
tbody tr:hover td.best{background:#bbf7d0}
dl.cols{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;font-size:13px;margin:8px 0}
dl.cols dt{font-weight:600}
dl.cols dd{margin:0;color:#374151}
.fig{margin:8px 0 18px}
.cap{color:var(--muted);font-size:13px;margin:0 0 6px}
.panels{display:flex;flex-wrap:wrap;gap:6px 10px;align-items:flex-start}
.panel{display:inline-block}
.panel svg{display:block}
ul.legend{list-style:none;padding:0;margin:4px 0 6px;display:flex;flex-wrap:wrap;gap:2px 14px;font-size:12px}
ul.legend li{cursor:default;white-space:nowrap}
ul.legend .sw{display:inline-block;width:10px;height:10px;margin-right:5px;vertical-align:-1px;
  border-radius:2px}
.panel ul.legend{max-width:380px}
.fig.hl [data-s]{opacity:.12}
.fig.hl [data-s].on{opacity:1}
footer{margin-top:40px;color:var(--muted);font-size:12px}
"""

SCRIPT = """
(function(){
  function key(row,i){var c=row.cells[i];if(!c)return "";var v=c.getAttribute("data-v");
    if(v===null)return c.textContent.trim().toLowerCase();return v===""?NaN:parseFloat(v);}
  document.querySelectorAll("table.sortable").forEach(function(t){
    var heads=t.tHead.rows[0].cells;
    Array.prototype.forEach.call(heads,function(th,i){
      th.setAttribute("tabindex","0");
      function sort(){
        var asc=th.getAttribute("aria-sort")!=="ascending";
        Array.prototype.forEach.call(heads,function(h){h.removeAttribute("aria-sort");});
        th.setAttribute("aria-sort",asc?"ascending":"descending");
        var body=t.tBodies[0],rows=Array.prototype.slice.call(body.rows);
        rows.sort(function(a,b){var x=key(a,i),y=key(b,i);
          if(typeof x==="number"&&typeof y==="number"){
            if(isNaN(x)&&isNaN(y))return 0;if(isNaN(x))return 1;if(isNaN(y))return -1;return asc?x-y:y-x;}
          x=String(x);y=String(y);return asc?x.localeCompare(y):y.localeCompare(x);});
        rows.forEach(function(r){body.appendChild(r);});
      }
      th.addEventListener("click",sort);
      th.addEventListener("keydown",function(e){
        if(e.key==="Enter"||e.key===" "){e.preventDefault();sort();}});
    });
  });
  document.querySelectorAll(".fig").forEach(function(fig){
    fig.querySelectorAll("ul.legend li[data-s]").forEach(function(li){
      li.addEventListener("mouseenter",function(){
        var s=li.getAttribute("data-s");fig.classList.add("hl");
        fig.querySelectorAll("[data-s]").forEach(function(e){e.classList.toggle("on",e.getAttribute("data-s")===s);});
      });
      li.addEventListener("mouseleave",function(){fig.classList.remove("hl");});
    });
  });
})();
"""


def page(title: str, body: str) -> str:
    """Wrap ``body`` in a complete HTML document with the report's style sheet, script and CSP."""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head>\n<body><main>\n{body}\n"
        f"</main><script>{SCRIPT}</script></body></html>\n"
    )


# -- building blocks -------------------------------------------------------------------------
def sort_key(v: Any) -> str:
    """Return the ``data-v`` sort key of a numeric cell ("" for NaN)."""
    if v is None:
        return ""
    x = float(v)
    return "" if math.isnan(x) else repr(x)


def legend_list(entries: Sequence[tuple[str, str]]) -> str:
    """Return a ``<ul class="legend">`` of (label, colour); each entry highlights its series on hover."""
    items = "".join(
        f'<li data-s="{escape(label)}"><span class="sw" style="background:{color}"></span>'
        f"{escape(label)}</li>"
        for label, color in entries
    )
    return f'<ul class="legend">{items}</ul>'


def figure(fid: str, title: str, caption: str, body: str, legend: Sequence[tuple[str, str]] = ()) -> str:
    """Return a ``<section class="fig">``: a title, a caption (HTML), an optional legend, then ``body``."""
    return (
        f'<section class="fig" id="{fid}"><h3>{escape(title)}</h3><p class="cap">{caption}</p>'
        f"{legend_list(legend) if legend else ''}{body}</section>"
    )


def panel_grid(items: Sequence[str]) -> str:
    """Lay out panels (HTML fragments, usually one SVG each) in a wrapping grid."""
    return '<div class="panels">' + "".join(f'<div class="panel">{x}</div>' for x in items) + "</div>"


def column_notes(metrics: Sequence[Metric]) -> str:
    """Explain each metric in a ``<dl>``, saying whether lower or higher is better."""
    items = "".join(
        f"<dt>{escape(m.header)}</dt><dd>{escape(m.description)}"
        f"{' (lower is better)' if m.best == 'min' else ' (higher is better)' if m.best == 'max' else ''}"
        "</dd>"
        for m in metrics
    )
    return f'<dl class="cols">{items}</dl>'


def y_unit(m: Metric) -> str:
    """Return the unit a plot's value axis shows for ``m`` (``%``, ``s`` or none)."""
    return {"share": "%", "seconds": "s"}.get(m.unit, "")

