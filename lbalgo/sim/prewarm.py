"""Compile the simulator's event loops for several schedulers in parallel processes.

Each scheduler gets its own compiled event loop (:mod:`lbalgo.sim._bind`);
compiling one takes about 10 s here, mostly Numba's type inference, which
runs on one core. On a cold cache a comparison of 17 algorithms would spend
minutes compiling one after another. :func:`prewarm` compiles the loops that
are not cached yet in ``workers`` child processes at once (``python -m
lbalgo.sim.prewarm``, so nothing of the caller's ``__main__`` is re-run);
each child writes Numba's on-disk cache, and the caller then loads it.

The check for "cached" is the presence of Numba's index file for the
generated wrapper module, newer than the module itself (a changed kernel
source rewrites the module, see :mod:`lbalgo._bound`). Where that cannot be
known (``NUMBA_CACHE_DIR`` or ``NUMBA_DISABLE_JIT`` set, no cache directory)
nothing is done and the caller compiles as before.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Sequence

#: One algorithm to compile: registered name and constructor options.
Spec = tuple[str, dict[str, Any]]


def _build(name: str, options: dict[str, Any]) -> Any:
    from ..schedulers.registry import get

    return get(name)(weights=[1, 1], **options)


def runner_is_cached(scheduler: Any) -> bool:
    """Whether the event loop of ``scheduler`` is in Numba's on-disk cache (see the module docstring)."""
    from ._bind import runner_module

    try:
        module = runner_module(scheduler._pick, scheduler._changed, scheduler._touch)
    except OSError:
        return True  # nowhere to cache: nothing to gain from other processes
    source = Path(module.__file__)
    index = list((source.parent / "__pycache__").glob(f"{module.__name__}.simulate_run-*.nbi"))
    return any(i.stat().st_mtime >= source.stat().st_mtime for i in index)


def _unknowable() -> bool:
    return bool(os.environ.get("NUMBA_CACHE_DIR") or os.environ.get("NUMBA_DISABLE_JIT", "0") not in ("", "0"))


def cold(specs: Sequence[Spec]) -> list[Spec]:
    """The specs whose event loop is not cached yet (empty when that cannot be known)."""
    if _unknowable():
        return []
    out, seen = [], set()
    for name, options in specs:
        try:
            scheduler = _build(name, options)
        except (TypeError, ValueError):
            continue  # the caller reports bad options with its own message
        key = (scheduler._pick, scheduler._changed, scheduler._touch)
        if key not in seen and not runner_is_cached(scheduler):
            seen.add(key)
            out.append((name, options))
    return out


def prewarm(specs: Sequence[Spec], workers: int | None = None) -> int:
    """Compile the cold event loops of ``specs`` in up to ``workers`` processes; return how many."""
    return compile_parallel(cold(specs), workers)


def compile_parallel(todo: Sequence[Spec], workers: int | None = None) -> int:
    """Compile these event loops (as :func:`cold` lists them) in up to ``workers`` processes; return how many.

    ``workers`` defaults to the number of CPUs this process may use. With one
    worker or one loop nothing is started (compiling in-process costs the same).
    A child that fails is ignored: the caller then compiles that loop itself.
    """
    if workers is None:
        workers = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    workers = min(workers, len(todo))
    if workers < 2:
        return 0
    shares = [list(todo[i::workers]) for i in range(workers)]
    children = [subprocess.Popen([sys.executable, "-m", "lbalgo.sim.prewarm", json.dumps(share)],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for share in shares]
    try:
        for child in children:
            child.wait()
    except BaseException:  # Ctrl-C: do not leave compilers behind
        for child in children:
            child.kill()
        raise
    return len(todo)


def compile_runner(name: str, options: dict[str, Any]) -> None:
    """Compile (and cache) the event loop of one scheduler with a tiny workload of the usual dtypes."""
    import numpy as np

    from . import simulate
    from ..workloads import Generated

    n = 4
    arrays = Generated(np.arange(n, dtype=np.float64), np.ones(n), np.arange(1, n + 1, dtype=np.int64) + 0x0A000000,
                       np.arange(1, n + 1, dtype=np.int64) + 0xAC100000)
    simulate(_build(name, options), arrays)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m lbalgo.sim.prewarm '[["wrr", {}], ...]'``: compile these event loops."""
    specs = json.loads((argv or sys.argv[1:])[0])
    for name, options in specs:
        compile_runner(name, options)
    return 0


if __name__ == "__main__":
    sys.exit(main())
