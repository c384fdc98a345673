"""Comparisons of schedulers on one scenario, and their renderings.

The modules, from data to output:

- :mod:`~lbalgo.report.results`: :class:`Row` and :class:`Comparison`, plain data;
- :mod:`~lbalgo.report.compare`: :func:`compare` and :class:`ComparisonRun`, which run the
  algorithms and build the rows;
- :mod:`~lbalgo.report.render`: text, Markdown, JSON, CSV, HTML, pandas and PNG renderings;
- :mod:`~lbalgo.report.html`, :mod:`~lbalgo.report.svg`, :mod:`~lbalgo.report.tidy` and
  :mod:`~lbalgo.report.plots`: the HTML page, its SVG charts, the tidy metric records and
  the matplotlib plots;
- :mod:`~lbalgo.report.simulation`: the metrics of one simulation, as
  :meth:`lbalgo.SimulationResult.metrics` returns them.

``lbalgo.report.compare`` is the function; the module of the same name is
``sys.modules["lbalgo.report.compare"]`` (``from lbalgo.report.compare import ComparisonRun`` works too).
"""

from .compare import ComparisonRun, compare
from .results import Comparison, PoolEvent, Row

__all__ = ["Comparison", "ComparisonRun", "PoolEvent", "Row", "compare"]
