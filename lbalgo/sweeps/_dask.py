"""The Dask side of a sweep: clusters, the kernel-loading worker plugin and the task a worker runs.

Imported only when a sweep has runs to do, so ``import lbalgo.sweeps``
works without Dask. Everything a worker executes lives in importable lbalgo
modules (pickled by reference), so an existing cluster only needs lbalgo
installed on its workers, at the client's version.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import signal
import threading
import time
from typing import Any, Iterator

from distributed import Client, LocalCluster, WorkerPlugin

from ..scenario import Scenario

PLUGIN_NAME = "lbalgo-kernels"


def warm(scenarios: list[Scenario]) -> float:
    """Load (or compile) every kernel these scenarios need, in this process; return the seconds it took.

    Runs a comparison of a few hundred connections per scenario: the event
    loop (compiled once for every algorithm, with each service model's
    handler), each algorithm's kernels and the metrics. Later runs in the
    process find them loaded.
    """
    import dataclasses

    from ..report.compare import compare

    t0 = time.perf_counter()
    for sc in scenarios:
        compare(dataclasses.replace(sc, connections=min(sc.connections, 300)))
    return time.perf_counter() - t0


class LoadKernels(WorkerPlugin):
    """Worker plugin: load the sweep's kernels once per worker process, when the worker starts or joins.

    Registered before the runs are submitted, so no run pays the load (and
    :meth:`distributed.Client.register_plugin` returns once every current
    worker has them). The load runs in a thread of the worker so that its
    event loop keeps answering the scheduler meanwhile.
    """

    idempotent = False  # a new sweep replaces the previous sweep's plugin (other algorithms, other models)
    name = PLUGIN_NAME

    def __init__(self, scenarios: list[Scenario], ignore_sigint: bool = False) -> None:
        self.scenarios = scenarios
        self.ignore_sigint = ignore_sigint
        self.seconds = math.nan

    async def setup(self, worker: Any) -> None:  # noqa: D102 (WorkerPlugin's interface)
        if self.ignore_sigint and threading.current_thread() is threading.main_thread():
            # The workers of a local cluster share the terminal's process group: Ctrl-C is the client's
            # to handle (it keeps what finished, then closes the cluster), not a traceback in every worker
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        loop = asyncio.get_running_loop()
        self.seconds = await loop.run_in_executor(None, warm, self.scenarios)


def execute(sc: Scenario) -> dict[str, Any]:
    """Run one comparison on a worker; return its rows as JSON-ready records and the seconds it took.

    Raises
    ------
    RuntimeError
        If the comparison was interrupted on the worker (a Ctrl-C reaching
        the worker's process group): a partial run must not count as finished.
    """
    from ..report.compare import compare
    from .results import json_record

    t0 = time.perf_counter()
    result = compare(sc)
    seconds = time.perf_counter() - t0
    if not result.complete:
        raise RuntimeError(
            f"interrupted on the worker after {len(result.rows)} of "
            f"{len(result.rows) + len(result.missing)} algorithms"
        )
    return {
        "rows": [json_record(r) for r in result.rows],
        "compute_seconds": seconds,
        "versions": dict(result.versions),
    }


def default_workers() -> int:
    """One worker per core this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover (not Linux)
        return os.cpu_count() or 1


#: Seconds to wait for an existing scheduler to answer.
CONNECT_TIMEOUT = 10


@contextlib.contextmanager
def connect(client: Client | None, scheduler: str | None, workers: int | None) -> Iterator[Client]:
    """Yield a Dask client: the one given, one connected to ``scheduler``, or a new local cluster.

    A local cluster has ``workers`` single-threaded worker processes, one per core by
    default (the comparisons hold the GIL between compiled calls, so
    processes are what scale), listens on the loopback interface only, logs
    errors only, and is closed on exit.
    """
    if client is not None:
        yield client
        return
    if scheduler is not None:
        try:
            c = Client(scheduler, timeout=CONNECT_TIMEOUT, set_as_default=False)
        except (OSError, asyncio.TimeoutError, TimeoutError, ValueError) as e:
            raise ConnectionError(f"cannot connect to the Dask scheduler at {scheduler}: {e}") from None
        with c:
            yield c
        return
    n = workers if workers is not None else default_workers()
    # The scheduler serves HTTP whatever the dashboard setting: on a free loopback port, so that two
    # clusters (or another Dask user's dashboard on 8787) never collide
    with (
        LocalCluster(
            n_workers=n,
            threads_per_worker=1,
            processes=True,
            dashboard_address="127.0.0.1:0",
            silence_logs=logging.ERROR,
        ) as cluster,
        Client(cluster, set_as_default=False) as c,
    ):
        yield c


def worker_count(client: Client) -> int:
    """Workers currently connected to the client's scheduler."""
    return len(client.scheduler_info().get("workers", {}))


def load_seconds(client: Client) -> list[float]:
    """Seconds each worker spent loading the kernels (the plugin's measurement), in worker order."""

    def read(dask_worker: Any) -> float:
        plugin = dask_worker.plugins.get(PLUGIN_NAME)
        return float(getattr(plugin, "seconds", math.nan))

    return [v for _, v in sorted(client.run(read).items())]


__all__ = ["LoadKernels", "execute", "warm", "connect", "default_workers", "worker_count", "load_seconds"]
