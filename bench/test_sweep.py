"""Sweeps on Dask: 2 workers against 1, and the scheduling overhead per cell.

Group ``sweep``. The grid: the built-in scenario cut to 100,000 connections
(FIFO queues, a failure and a recovery), ``arrivals.load`` at 10 values x
``pool.backends`` at 4 = 40 cells, 1 replicate, algorithms rr, wrr, wlc, sh:
160 comparisons of 100,000 connections. Targets: 2 workers at least 1.7x
faster than 1, and at most 50 ms per cell beyond the comparison itself.

Both local clusters are started (and their workers have loaded the kernels)
before anything is timed: the measured time runs from the first submission
to the last result written (``SweepStats.wall_seconds``), the journal and
the result files included. The 1-worker sweep runs in each round's
(untimed) ``setup``, so the two sizes alternate (1, 2, 1, 2, ...) and share
the machine's background load as evenly as possible; the best round of each
is compared. ``overhead_ms_per_cell`` is ``(wall - time inside the
comparisons) / cells`` of the best 1-worker round. The speed-up splits
into ``concurrency_2_workers`` (comparisons running at once with 2 workers,
2.0 at best) times the ratio of the time one comparison takes on 1 worker
and on 2 (below 1 when the two workers compete for the cores with each other
or with other processes). The machine's load average is recorded beside the
numbers.

Under ``--benchmark-disable`` (CI's smoke pass) the grid shrinks to 4 cells
of 2,000 connections.
"""

import contextlib
import os
import shutil
import tempfile
import time

import pytest

pytest.importorskip("distributed", reason="sweeps need Dask: pip install lbalgo[sweep]")

from lbalgo.sweeps import grid_from_dict, sweep  # noqa: E402

LOADS = [0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95]
BACKENDS = [4, 8, 16, 32]
ALGORITHMS = ["rr", "wrr", "wlc", "sh"]


def _grid(small: bool):
    return grid_from_dict(
        {
            "name": "bench-sweep",
            "seed": 1,
            "replicates": 1,
            "algorithms": ALGORITHMS,
            "base": {"connections": 2_000 if small else 100_000},
            "axes": {
                "arrivals.load": LOADS[:2] if small else LOADS,
                "pool.backends": BACKENDS[:2] if small else BACKENDS,
            },
        }
    )


@pytest.fixture(scope="module")
def clusters():
    from lbalgo.sweeps._dask import connect

    with contextlib.ExitStack() as stack:
        yield {n: stack.enter_context(connect(None, None, n)) for n in (1, 2)}


@pytest.mark.benchmark(group="sweep")
def test_sweep_two_workers_vs_one(benchmark, clusters):
    small = bool(getattr(benchmark, "disabled", False))
    grid = _grid(small)
    cells = len(grid.cells)
    for n in (1, 2):  # warm-up: the workers load the kernels (the plugin), first comparisons
        sweep(_grid(True), client=clusters[n])
    one: list = []
    two: list = []
    loads: list = []

    def run(n: int, sink: list) -> None:
        directory = tempfile.mkdtemp(prefix="lbalgo-bench-sweep-")
        try:
            result = sweep(grid, directory, client=clusters[n])
        finally:
            shutil.rmtree(directory, ignore_errors=True)
        assert result.complete and len(result) == cells * len(ALGORITHMS)
        sink.append(result.stats)

    def setup():
        loads.append(os.getloadavg()[0])
        run(1, one)

    t0 = time.perf_counter()
    benchmark.pedantic(run, args=(2, two), setup=setup, rounds=1 if small else 3, iterations=1)
    best1 = min(one, key=lambda s: s.wall_seconds)
    best2 = min(two, key=lambda s: s.wall_seconds)
    speedup = best1.wall_seconds / best2.wall_seconds
    overhead_ms = 1e3 * (best1.wall_seconds - best1.compute_seconds) / cells
    # speed-up = concurrency x (comparison time on 1 worker / on 2): how many comparisons ran at once,
    # and how much each slowed down when they did (CPU contention with each other and with other load)
    concurrency = best2.compute_seconds / best2.wall_seconds
    slowdown = best2.compute_seconds / best1.compute_seconds
    info = {
        "cells": cells,
        "algorithms": len(ALGORITHMS),
        "connections": grid.cells[0].scenario.connections,
        "one_worker_s": [round(s.wall_seconds, 3) for s in one],
        "two_workers_s": [round(s.wall_seconds, 3) for s in two],
        "speedup_2_vs_1": speedup,
        "overhead_ms_per_cell": overhead_ms,
        "compare_ms_per_cell": 1e3 * best1.compute_seconds / cells,
        "compare_ms_per_cell_2_workers": 1e3 * best2.compute_seconds / cells,
        "concurrency_2_workers": concurrency,
        "kernel_load_s": list(best2.kernel_load_seconds),
        "loadavg_1min": loads,
    }
    benchmark.extra_info.update(info)
    print(
        f"\nsweep of {cells} cells x {len(ALGORITHMS)} algorithms: 1 worker {best1.wall_seconds:.2f} s, "
        f"2 workers {best2.wall_seconds:.2f} s, speed-up {speedup:.2f}x; "
        f"overhead {overhead_ms:.1f} ms per cell "
        f"beyond the comparison ({1e3 * best1.compute_seconds / cells:.0f} ms); with 2 workers "
        f"{concurrency:.2f} comparisons at once, each {slowdown:.2f}x slower; load average "
        f"{[round(x, 1) for x in loads]}; {time.perf_counter() - t0:.0f} s in all"
    )
