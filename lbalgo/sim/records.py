"""The engine's records: what :func:`lbalgo.sim.simulate` packs for the compiled loop besides the workload.

The codes of the service models and life cycles, the counter-sample rows
(bounded by :data:`MAX_SAMPLE_CELLS` and :data:`MAX_SAMPLE_ROWS`), the
placeholder persistence tables of a run without affinity, the pool's
insertion ranks, and the loop's compiled entry point
(:func:`engine_dispatcher`). The records themselves are declared in
:mod:`lbalgo.sim.engine`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import engine

__all__ = ["SERVICE_CODES", "LIFECYCLE_CODES", "MAX_SAMPLE_CELLS", "MAX_SAMPLE_ROWS", "no_persistence",
           "insertion_ranks", "new_samples", "engine_dispatcher"]

#: Service model name -> the engine's code for it (``Config.service``).
SERVICE_CODES = {"infinite": engine.S_INFINITE, "fifo": engine.S_FIFO, "ps": engine.S_PS}
#: Life cycle name -> the engine's code for it (``Config.lifecycle``).
LIFECYCLE_CODES = {"simple": engine.L_SIMPLE, "tcp": engine.L_TCP}
#: Counter samples are kept in at most this many cells (rows x backend ids) per counter;
#: past it the sampling step doubles and every other sample is dropped.
MAX_SAMPLE_CELLS = 1 << 24
#: Rows of counter samples at most (even), whatever the pool size.
MAX_SAMPLE_ROWS = 1 << 17

_no_persistence_tables: tuple | None = None


def no_persistence() -> tuple:
    """Return persistence tables of the right types for a run without persistence (never read)."""
    global _no_persistence_tables
    if _no_persistence_tables is None:
        from ..schedulers.affinity._store import minimal_tables

        _no_persistence_tables = minimal_tables()
    return _no_persistence_tables


def insertion_ranks(pool: Any, added: list, capacity: int) -> np.ndarray:
    """Per backend id, its endpoint string's rank among all ids (kube-proxy's insertion order)."""
    ranks = np.zeros(capacity, dtype=np.int64)
    if pool.insertion != "address":
        return ranks
    from ..addresses import endpoint_string

    strings = [endpoint_string(a, p) for a, p in zip(pool.addresses, pool.ports)]
    strings += [endpoint_string(a, p) for _, _, a, p in added]
    order = sorted(set(strings))
    index = {s: r for r, s in enumerate(order)}
    ranks[: len(strings)] = [index[s] for s in strings]
    return ranks


def new_samples(capacity: int, sample_every: float | None, reached: float = 0.0) -> Any:
    """Allocate the sample rows, and choose the first sampling step.

    The loop doubles the step (dropping every other row) whenever the rows
    are full. It certainly processes an event at time ``reached`` (the last
    arrival or pool event), so every doubling it would make before then is
    made here instead: the same samples, without filling and halving the
    rows over and over (a step of 1e-9 s over a 20 s run doubles 34 times,
    5e-324 s a thousand times).
    """
    rows = 0
    step = float(sample_every or 0.0)
    if sample_every is not None:
        rows = max(2, min(MAX_SAMPLE_ROWS, MAX_SAMPLE_CELLS // capacity)) // 2 * 2
        while rows * step < reached:
            step *= 2.0
    meta = np.zeros(1, dtype=np.int64)
    fmeta = np.array([step])
    active = np.zeros((rows, capacity), dtype=np.int32)
    inactive = np.zeros((rows, capacity), dtype=np.int32)
    return engine.Samples(active, inactive, meta, fmeta)


_compiled_run: Any = None


def engine_dispatcher(*records: Any) -> Any:
    """Return the event loop's compiled entry point, compiled (or loaded from the cache) once.

    Its first two arguments are typed as function pointers of the uniform
    kernel signatures, so the one compiled loop runs every scheduler. Calling
    the entry point (not the dispatcher) keeps Numba from specialising the
    loop on each scheduler's kernels.
    """
    global _compiled_run
    if _compiled_run is None:
        from .._jit import DISABLED

        if DISABLED:
            return engine.run.compiled
        import numba

        from .._jit import function_type

        dispatcher = engine.run.compiled
        kernels = [function_type("schedule"), function_type("changed")]
        types = tuple(kernels + [numba.typeof(r) for r in records])
        dispatcher.compile(types)
        dispatcher.disable_compile()
        _compiled_run = dispatcher.overloads[types].entry_point
    return _compiled_run
