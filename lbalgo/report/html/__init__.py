"""Self-contained HTML reports of comparisons and sweeps.

One file, no network request: the style sheet and the script are inline, the
plots are inline SVG drawn by :mod:`lbalgo.report.svg`, and a
Content-Security-Policy ``<meta>`` forbids the page from loading anything.

A comparison report (:func:`comparison_html`, ``Comparison.to_html()``,
``lbalgo compare --format html``) holds the summary table (sortable: click a
heading; best value per column highlighted), a short explanation of each
column, the shares table coloured by deviation from the target, and the plots:

- shares of connections against the target, one small panel per algorithm;
- open connections per backend over time, one small panel per algorithm,
  dashed lines at the pool events;
- the latency CDF, one panel per scheduler family (queued models);
- disruption at each pool event: the share of returning clients each
  algorithm moved, and the share that had to move.

Panels are grouped by family (Linux IPVS, kube-proxy, Envoy, nginx, HAProxy,
...) instead of drawing every algorithm in one crowded chart; pointing at a
legend entry highlights that series in every panel of the figure.

A sweep report (:func:`sweep_html`) plots each metric against the swept
parameter (mean over replicates with its confidence band), one panel per
value of the other axes, and gives the summary as a sortable table.
"""

from .comparison import SUMMARY_METRICS, comparison_html
from .page import CSP, SCRIPT, STYLE, page
from .sweep import SWEEP_METRICS, sweep_html, sweep_panels, sweep_svgs

__all__ = ["comparison_html", "sweep_html", "sweep_svgs", "sweep_panels", "page", "CSP", "STYLE", "SCRIPT",
           "SUMMARY_METRICS", "SWEEP_METRICS"]
