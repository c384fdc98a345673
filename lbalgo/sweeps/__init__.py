"""Parameter sweeps: every cell of a grid of scenarios, every replicate, every algorithm, on Dask.

::

    import lbalgo

    result = lbalgo.sweep("docs/sweeps/load-vs-backends.toml", "results/")
    result.summary                 # means and confidence intervals across replicates
    result.to_pandas()             # one row per (cell, replicate, algorithm), needs pandas

The grid format is in ``docs/sweeps.md``; :mod:`.grid` holds a grid and its
seeds, :mod:`.grid_file` parses and validates it (every cell before
anything runs), :mod:`.run` runs it on a Dask cluster
(a ``LocalCluster`` by default, one worker per core) and journals each
finished run so that a rerun resumes, and :mod:`.results` holds the tables
and writes them (Parquet, CSV, an HTML report, SVG plots). Dask and pyarrow
are the optional extra ``lbalgo[sweep]``; only running needs them.

Scripts that call :func:`sweep` with a local cluster must do so under
``if __name__ == "__main__":``: the worker processes are started with
``spawn`` and import the script again.
"""

from .grid import Axis, Cell, Grid, GridError, Run, run_seed
from .grid_file import grid_from_dict, load_grid
from .results import SweepResult
from .run import ARROW_MISSING, DASK_MISSING, SweepError, SweepStats, sweep

__all__ = [
    "sweep",
    "load_grid",
    "grid_from_dict",
    "Grid",
    "Axis",
    "Cell",
    "Run",
    "GridError",
    "SweepError",
    "SweepResult",
    "SweepStats",
    "run_seed",
    "DASK_MISSING",
    "ARROW_MISSING",
]
