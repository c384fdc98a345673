"""Running a sweep: the journal of finished runs, Dask execution, Ctrl-C, and the result.

Every finished run is appended to ``runs.jsonl`` in the output directory the
moment its result reaches the client (one JSON line, flushed), before the
next result is looked at; a rerun with the same output directory reads the
journal and submits only the runs whose key it does not find. A run's key
digests its whole scenario (seed included), so changing the base scenario
reruns everything while adding a value to an axis runs only the new cells.
Ctrl-C is held back while a line is being written, so the journal never
loses a finished run and never holds a torn line written by this module (a
torn last line left by a crash is cut off on the next run).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

from .grid import Grid, Run
from .grid_file import grid_from_dict, load_grid

DASK_MISSING = "sweeps run on Dask, which is not installed: pip install lbalgo[sweep]"
ARROW_MISSING = (
    "sweep results are written as Parquet with pyarrow, which is not installed: pip install lbalgo[sweep]"
)
JOURNAL = "runs.jsonl"


class SweepError(RuntimeError):
    """A run failed on a worker; the message names its cell, values and replicate."""


def require_dask() -> None:
    """Raise :class:`RuntimeError` with the install hint unless ``distributed`` can be imported."""
    try:
        import distributed  # noqa: F401
    except ImportError:
        raise RuntimeError(DASK_MISSING) from None


def require_pyarrow() -> None:
    """Raise :class:`RuntimeError` with the install hint unless ``pyarrow`` can be imported."""
    try:
        import pyarrow  # noqa: F401
        import pyarrow.parquet  # noqa: F401
    except ImportError:
        raise RuntimeError(ARROW_MISSING) from None


class Journal:
    """``runs.jsonl``: one line per finished run, appended and flushed as each finishes."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / JOURNAL
        self._file: Any = None

    def read(self) -> dict[str, dict[str, Any]]:
        """Finished runs by key. A torn last line (a crash mid-write) is dropped from the file."""
        if not self.path.exists():
            return {}
        data = self.path.read_bytes()
        end = data.rfind(b"\n") + 1
        if end < len(data):  # cut a torn tail so that the next append starts on a fresh line
            with open(self.path, "r+b") as f:
                f.truncate(end)
        out: dict[str, dict[str, Any]] = {}
        for line in data[:end].splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue  # not ours (edited by hand): ignored, as if that run had not finished
            if (
                isinstance(record, dict)
                and isinstance(record.get("key"), str)
                and isinstance(record.get("rows"), list)
            ):
                out[record["key"]] = record
        return out

    def append(self, record: Mapping[str, Any]) -> None:
        """Write one record as a line and flush it to the operating system (callers hold Ctrl-C meanwhile)."""
        if self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.path, "a", encoding="utf-8")
        line = json.dumps(record, sort_keys=True, allow_nan=False, separators=(",", ":")) + "\n"
        self._file.write(line)
        self._file.flush()

    def close(self) -> None:
        """Close the file (appending again reopens it)."""
        if self._file is not None:
            self._file.close()
            self._file = None


@contextlib.contextmanager
def _sigint_held() -> Iterator[None]:
    """Defer Ctrl-C (SIGINT) until the block ends, in the main thread; elsewhere run the block as is."""
    pending: list[Any] = []
    try:
        previous = signal.signal(signal.SIGINT, lambda signum, frame: pending.append(signum))
    except ValueError:  # not the main thread: signals cannot be handled here anyway
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if pending:
            raise KeyboardInterrupt


@dataclass(frozen=True)
class SweepStats:
    """What a sweep did and how long it took.

    ``overhead_per_run`` is the worker-seconds per run not spent inside the
    comparison: scheduling, moving the result, writing the journal, and
    workers idle while the last runs finish; ``wall_seconds`` runs from the
    first submission to the last result (the cluster's start and the kernel
    load are in ``setup_seconds`` and ``kernel_load_seconds``).
    """

    runs: int
    reused: int
    ran: int
    workers: int
    setup_seconds: float
    wall_seconds: float
    compute_seconds: float
    kernel_load_seconds: tuple[float, ...] = ()

    @property
    def overhead_per_run(self) -> float:
        """Worker-seconds per run beyond the comparison itself (NaN when nothing ran)."""
        if not self.ran:
            return math.nan
        return max(0.0, self.wall_seconds * self.workers - self.compute_seconds) / self.ran


def _grid(grid: Grid | str | os.PathLike[str] | Mapping[str, Any]) -> Grid:
    if isinstance(grid, Grid):
        return grid
    if isinstance(grid, Mapping):
        return grid_from_dict(grid)
    return load_grid(grid)


def _warm_scenarios(grid: Grid) -> list[Any]:
    """One small scenario per distinct service set-up in the grid: what the kernel load must cover."""
    seen: dict[Any, Any] = {}
    for cell in grid.cells:
        sc = cell.scenario
        kind = (sc.service.model, sc.service.lifecycle, any(e.action == "add" for e in sc.events))
        seen.setdefault(kind, sc)
    return list(seen.values())


def sweep(
    grid: Grid | str | os.PathLike[str] | Mapping[str, Any],
    output: str | os.PathLike[str] | None = None,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    client: Any = None,
    progress: Callable[[int, int, str], None] | None = None,
    timing: bool = False,
) -> Any:
    """Run every cell of a grid, every replicate, every algorithm, on Dask; return a :class:`SweepResult`.

    Parameters
    ----------
    grid : Grid, path or mapping
        A :class:`Grid`, a grid TOML file, or its parsed contents (see ``docs/sweeps.md``).
    output : path, optional
        Directory for the journal (``runs.jsonl``), the tables (``results.parquet``,
        ``results.csv``, ``summary.parquet``, ``summary.csv``), ``report.html``
        and ``plots/*.svg``. Runs already in its journal are not run again.
        Without it nothing is written and nothing is resumed.
    workers : int, optional
        Worker processes of the local cluster (default: one per core).
    scheduler : str, optional
        Address of an existing Dask scheduler (``tcp://host:8786``) instead of a local cluster.
    client : distributed.Client, optional
        An existing client to run on (it is left open).
    progress : callable, optional
        ``progress(done, total, text)``: called once before the first run
        (``done`` = runs reused from the journal) and after each finished run.
        A :class:`KeyboardInterrupt` raised from it stops the sweep like Ctrl-C.
    timing : bool
        Add ``connections_per_second`` to the tables (it varies from run to
        run; without it the tables are identical for any number of workers).

    Returns
    -------
    SweepResult
        All finished runs; after Ctrl-C, :attr:`SweepResult.complete` is
        ``False`` and :attr:`SweepResult.missing` names the runs not done (a
        rerun with the same ``output`` finishes them).

    Raises
    ------
    GridError
        A bad grid, before anything runs.
    RuntimeError
        Dask (or, with ``output``, pyarrow) is not installed; the message says how to install it.
    ConnectionError
        The scheduler at ``scheduler`` cannot be reached.
    SweepError
        A run failed on a worker (the message names the cell and replicate).
    """
    from .results import SweepResult

    g = _grid(grid)
    runs = g.runs()
    directory = Path(output) if output is not None else None
    if directory is not None:
        require_pyarrow()
    journal = Journal(directory) if directory is not None else None
    keys = {r.key for r in runs}
    done = {k: v for k, v in (journal.read() if journal else {}).items() if k in keys}
    todo = [r for r in runs if r.key not in done]
    reused = len(done)
    if todo:
        require_dask()
    if directory is not None:
        _write_manifest(directory, g, len(runs))
    setup = wall = 0.0
    compute = [0.0]  # seconds inside the comparisons, kept when Ctrl-C stops the loop
    n_workers = 0
    loads: tuple[float, ...] = ()
    try:
        if progress is not None:
            text = (f"{reused} finished runs reused; " if reused else "") + (
                "starting the Dask workers" if todo else "every run finished earlier")
            progress(reused, len(runs), text)
        if todo:
            from . import _dask

            t0 = time.perf_counter()
            with _dask.connect(client, scheduler, workers) as c:
                local = client is None and scheduler is None  # workers we started, in our process group
                c.register_plugin(_dask.LoadKernels(_warm_scenarios(g), ignore_sigint=local))
                n_workers = _dask.worker_count(c)
                loads = tuple(_dask.load_seconds(c))
                setup = time.perf_counter() - t0
                t1 = time.perf_counter()
                try:
                    _run_all(c, todo, done, journal, progress, len(runs), compute)
                except KeyboardInterrupt:  # Ctrl-C: keep what finished (result.missing names the rest)
                    pass
                wall = time.perf_counter() - t1
    except KeyboardInterrupt:  # during the cluster's start or shutdown
        pass
    finally:
        if journal is not None:
            journal.close()
    stats = SweepStats(len(runs), reused, len(done) - reused, n_workers, setup, wall, compute[0], loads)
    result = SweepResult.from_records(g, runs, done, timing=timing, stats=stats)
    if directory is not None:
        result.write(directory)
    return result


def _run_all(
    client: Any,
    todo: list[Run],
    done: dict[str, dict[str, Any]],
    journal: Journal | None,
    progress: Callable[[int, int, str], None] | None,
    total: int,
    compute: list[float],
) -> None:
    """Submit ``todo``, record each result as it arrives; add the seconds in comparisons to ``compute[0]``."""
    from distributed import as_completed

    from . import _dask

    futures = client.map(
        _dask.execute, [r.scenario for r in todo], key=[f"lbalgo-run-{r.key}" for r in todo], pure=False
    )
    pending = dict(zip(futures, todo))
    try:
        for future in as_completed(futures, loop=client.loop):
            run = pending.pop(future)
            try:
                out = future.result()
            except Exception as e:  # the worker's exception, re-raised here
                raise SweepError(f"{run.describe()} failed: {type(e).__name__}: {e}") from e
            finally:
                future.release()
            record = {
                "key": run.key,
                "cell": run.cell.index,
                "coords": [list(c) for c in run.cell.coords],
                "replicate": run.replicate,
                "seed": run.seed,
                **out,
            }
            with _sigint_held():  # Ctrl-C waits: a whole line, and the result has the run iff the journal has
                if journal is not None:
                    journal.append(record)
                done[run.key] = record
            compute[0] += float(out["compute_seconds"])
            if progress is not None:
                progress(len(done), total, run.describe())
    finally:
        if pending:
            client.cancel(list(pending))


def _write_manifest(directory: Path, g: Grid, runs: int) -> None:
    """``sweep.json``: the grid as given and what it expands to, for whoever opens the directory later."""
    from .. import __version__

    directory.mkdir(parents=True, exist_ok=True)
    manifest = {
        "name": g.name,
        "grid": g.source,
        "description": g.describe(),
        "runs": runs,
        "lbalgo": __version__,
    }
    (directory / "sweep.json").write_text(
        json.dumps(manifest, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8"
    )


__all__ = [
    "sweep",
    "SweepStats",
    "SweepError",
    "Journal",
    "require_dask",
    "require_pyarrow",
    "DASK_MISSING",
    "ARROW_MISSING",
    "JOURNAL",
]
