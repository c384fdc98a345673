"""Simulation throughput: the compiled engine beside a tailored Numba loop and an idiomatic SimPy model.

Group ``sim``. The system: 100 backends of weight 1, Poisson arrivals at
2000/s, lognormal lifetimes (mean 2 s, sigma 1), Zipf clients (50,000, s=1.1),
infinite-server model (IPVS: the counters are open connections). Events are
counted the same way for all: one per arrival and one per connection end
(two per connection).

- lbalgo: 1,000,000 connections through ``simulate`` for rr, lc, wlc and sh
  (the time of the compiled loop, ``SimulationResult.seconds``; the first call,
  which compiles or loads the cache, is a warm-up). Target: >= 8 M events/s.
- tailored: an ``@numba.njit(cache=True)`` event loop written for LC alone
  (``bench/reference_loops.py``: the arrival stream and a release-only
  binary heap ordered by (time, sequence), contiguous per-field arrays) on
  the same 1,000,000 connections, with its decisions asserted identical to
  lbalgo's LC. ``ratio_tailored_vs_lbalgo`` = tailored events/s / lbalgo's
  LC events/s (target: <= 1.5): what the generality of lbalgo's engine
  (every scheduler through function pointers, pool events, service models,
  samples) costs.
- SimPy: the same system written as SimPy users would (a source process,
  one process per connection, ``env.timeout``), with plain-Python rr, lc and
  sh, on 100,000 connections. lbalgo's entry of the same algorithm records
  ``speedup_vs_simpy`` (target: >= 20).

``test_summary`` prints the table (run with ``-s``). ``test_memory_10m``
runs 10,000,000 connections with the full trace in a subprocess and checks
its peak RSS stays under 2 GB.
"""

import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import lbalgo
from bench.conftest import paired
from bench.reference_loops import tailored_lc
from lbalgo import simulate
from lbalgo import workloads as W

N_BACKENDS = 100
N_CONNS = 1_000_000
N_SIMPY = 100_000
ALGOS = ["rr", "lc", "wlc", "sh"]
RESULTS = {}
SIMPY_RATIOS = [("speedup_vs_simpy", "lbalgo", "simpy")]
TAILORED_RATIOS = [("ratio_tailored_vs_lbalgo", "tailored", "lbalgo")]


def _workload(n):
    return W.Workload(arrivals=W.poisson(rate=2000.0), n=n, lifetimes=W.lognormal(mean=2.0, sigma=1.0),
                      clients=W.zipf(n_clients=50_000, s=1.1), seed=7)


@pytest.fixture(scope="module")
def generated():
    return _workload(N_CONNS).generate()


@pytest.mark.benchmark(group="sim")
@pytest.mark.parametrize("name", ALGOS)
def test_lbalgo_engine(benchmark, generated, name):
    cls = lbalgo.get(name)
    simulate(cls(weights=[1] * N_BACKENDS), _workload(1000))  # warm-up: compile or load the cache
    loops = []

    def run(sched):
        res = simulate(sched, generated)
        loops.append(res.seconds)
        return res

    res = benchmark.pedantic(run, setup=lambda: ((cls(weights=[1] * N_BACKENDS),), {}), rounds=5,
                             iterations=1)
    assert res.events == 2 * N_CONNS and res.drops == 0  # the work done
    eps = res.events / min(loops)
    RESULTS[("lbalgo", name)] = (N_CONNS, eps)
    counts = res.counts()
    benchmark.extra_info.update(impl="lbalgo", algorithm=name, connections=N_CONNS, events=res.events,
                                events_per_second=eps, hit_spread=float(counts.std() / counts.mean()))
    paired(("simpy", name), "lbalgo", eps, benchmark.extra_info, SIMPY_RATIOS)
    if name == "lc":
        paired("tailored", "lbalgo", eps, benchmark.extra_info, TAILORED_RATIOS)


# -- a tailored loop for LC ---------------------------------------------------------------------
def _tailored_args(g, n_backends):
    """Fresh arguments for :func:`tailored_lc`: fields of ``n_backends`` of weight 1, an empty heap."""
    n = len(g.arrival)
    fields = (np.ones(n_backends, dtype=np.int64),)
    fields += tuple(np.zeros(n_backends, dtype=np.int64) for _ in range(3))
    heap = (np.empty(n, dtype=np.float64), np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64))
    return (g.arrival, g.lifetime) + fields + heap + (np.empty(n, dtype=np.int64),)


@pytest.mark.benchmark(group="sim")
def test_tailored_lc(benchmark, generated):
    small = _workload(1000).generate()
    tailored_lc(*_tailored_args(small, N_BACKENDS))  # warm-up: compile or load the cache
    loops = []

    def run(*args):
        t0 = time.perf_counter()
        events = tailored_lc(*args)
        loops.append(time.perf_counter() - t0)
        return events, args[-1]

    events, out = benchmark.pedantic(run, setup=lambda: (_tailored_args(generated, N_BACKENDS), {}), rounds=5,
                                     iterations=1)
    assert events == 2 * N_CONNS  # the work done
    # the same decisions as lbalgo's LC on the same connections
    res = simulate(lbalgo.LC(weights=[1] * N_BACKENDS), generated)
    assert np.array_equal(out, res.trace.backend)
    eps = events / min(loops)
    RESULTS[("tailored", "lc")] = (N_CONNS, eps)
    benchmark.extra_info.update(impl="tailored", algorithm="lc", connections=N_CONNS, events=events,
                                events_per_second=eps)
    paired("tailored", "tailored", eps, benchmark.extra_info, TAILORED_RATIOS)


# -- SimPy ----------------------------------------------------------------------------------
def _simpy_pick(name, active, n):
    if name == "rr":
        cursor = [-1]

        def pick(key):
            cursor[0] = (cursor[0] + 1) % n
            return cursor[0]
    elif name in ("lc", "wlc"):  # equal weights: both are "fewest open connections, first wins"
        def pick(key):
            return min(range(n), key=active.__getitem__)
    else:  # sh: IPVS's 256-bucket table, hash = key * 2654435761 >> 24
        table = [i % n for i in range(256)]

        def pick(key):
            return table[((key * 2654435761) & 0xFFFFFFFF) >> 24]
    return pick


def simpy_run(name, arrival, lifetime, clients, n):
    import simpy

    env = simpy.Environment()
    active = [0] * n
    pick = _simpy_pick(name, active, n)
    events = [0]

    def connection(env, backend, life):
        yield env.timeout(life)
        active[backend] -= 1
        events[0] += 1

    def source(env):
        last = 0.0
        for t, life, key in zip(arrival, lifetime, clients):
            yield env.timeout(t - last)
            last = t
            b = pick(key)
            active[b] += 1
            events[0] += 1
            env.process(connection(env, b, life))

    env.process(source(env))
    env.run()
    assert not any(active)
    return events[0]


@pytest.mark.benchmark(group="sim")
@pytest.mark.parametrize("name", ["rr", "lc", "sh"])
def test_simpy_model(benchmark, name):
    pytest.importorskip("simpy")
    g = _workload(N_SIMPY).generate()
    args = (name, g.arrival.tolist(), g.lifetime.tolist(), g.client.tolist(), N_BACKENDS)
    t0 = time.perf_counter()
    events = benchmark.pedantic(simpy_run, args=args, rounds=1, iterations=1)
    seconds = time.perf_counter() - t0
    assert events == 2 * N_SIMPY
    RESULTS[("simpy", name)] = (N_SIMPY, events / seconds)
    benchmark.extra_info.update(impl="simpy", algorithm=name, connections=N_SIMPY, events=events,
                                events_per_second=events / seconds)
    paired(("simpy", name), "simpy", events / seconds, benchmark.extra_info, SIMPY_RATIOS)


def test_summary():
    simpy_best = max((v[1] for (impl, _), v in RESULTS.items() if impl == "simpy"), default=None)
    lines = ["", f"{'impl':8} {'algo':5} {'conns':>10} {'events/s':>14} {'x faster SimPy':>15}"]
    for (impl, name), (conns, eps) in sorted(RESULTS.items()):
        ratio = f"{eps / simpy_best:15.1f}" if simpy_best else f"{'-':>15}"
        lines.append(f"{impl:8} {name:5} {conns:10d} {eps:14,.0f} {ratio}")
    if ("tailored", "lc") in RESULTS and ("lbalgo", "lc") in RESULTS:
        ratio = RESULTS[("tailored", "lc")][1] / RESULTS[("lbalgo", "lc")][1]
        lines.append(f"tailored / lbalgo (lc): {ratio:.2f}")
    print("\n".join(lines))
    if simpy_best is None or not any(impl == "lbalgo" for impl, _ in RESULTS):
        pytest.skip("run the whole module to compare")
    # Targets (lbalgo >= 8 M events/s, >= 20x SimPy, tailored / lbalgo <= 1.5) are reported, not
    # asserted: wall-clock time on a shared machine. The work each side did is asserted above.
    assert all(eps > 0 for _, eps in RESULTS.values())


MEMORY = textwrap.dedent("""
    import resource, numpy as np
    from lbalgo import RR, simulate, workloads as W
    wl = W.Workload(arrivals=W.poisson(rate=20000.0), n=10_000_000,
                    lifetimes=W.exponential(mean=1.0), clients=W.uniform(n_clients=100_000), seed=1)
    res = simulate(RR(weights=[1] * 100), wl, service="fifo")
    assert res.drops == 0 and len(res.trace) == 10_000_000
    print(res.trace.nbytes, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
""")


def test_memory_10m():
    out = subprocess.run([sys.executable, "-c", MEMORY], capture_output=True, text=True, check=True).stdout
    trace_bytes, peak = map(int, out.split())
    print(f"\n10M connections (FIFO, full trace): trace {trace_bytes / 2**20:.0f} MiB "
          f"({trace_bytes / 1e7:.0f} B/connection), peak RSS {peak / 2**20:.0f} MiB")
    assert peak < 2 * 2**30
