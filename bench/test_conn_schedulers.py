"""lc, wlc, sed, nq, fo, ovf, twos and the indexed lc / wlc: compiled vs plain Python.

Groups:

``churn-<algo>-<n>``
    Steady state: each decision first releases the connection picked
    ``RING`` decisions earlier (``RING = 8 n`` open connections, about 8
    per backend), then picks and counts a new one. For lbalgo the whole
    loop is one compiled kernel (:func:`churn`), compiled once for every
    scheduler: it receives the scheduler's ``schedule`` and ``changed``
    kernels as function pointers, as the simulator's event loop does. The
    plain-Python reference runs the same loop. The scan / tree pair of lc
    and wlc runs at 10,000 backends too.
``pick-<algo>-<n>``
    ``pick_many`` only (counters grow), beside the reference; both first
    make ``2 n`` picks so that they start from the same state.
``scan-<algo>-<n>`` (lc, wlc, sed, nq at 100 and 1,000 backends)
    ``pick_many(200_000)`` from a fresh pool (counters grow; every decision
    counted) beside a plain ``@numba.njit(cache=True)`` loop over one
    contiguous int64 array per field (weight, flags, active, inactive;
    upper threshold) in list order, making the same decisions with the same
    accounting (``active += 1`` and the upper-threshold overload check);
    see ``bench/reference_loops.py``. The decisions and counters are
    asserted identical. The loop runs on five separate 1-D arrays
    (``contiguous``) and on the rows of one 2-D array (``contiguous-rows``,
    the same body, which Numba compiles better).
    ``ratio_vs_contiguous`` / ``ratio_vs_contiguous_rows`` = lbalgo ns /
    loop ns (target: <= 1.5): the cost of lbalgo's table, kernel interface
    and Python entry over the bare scan.

For scale, the lc / wlc churn groups also hold the same loop in C (gcc -O2
without if-conversion, see :data:`C_FLAGS`; the same table rows and
accounting, decisions asserted identical) when a C compiler is available.

Every result puts ``ns_per_decision`` (fastest round) in ``extra_info``; lbalgo results add
``speedup_vs_python`` (the reference of the same group runs first) and tree
results ``speedup_vs_scan``. Targets (from a machine ~5x faster for C loops):
scan lc <= 30 ns and wlc <= 90 ns per decision at 100 backends with release;
at least 40x the plain-Python reference at 100 backends; the tree >= 20x
faster than the scan at 10,000 backends and not slower at 1,000.
"""

import ctypes
import os
import shutil
import subprocess
import tempfile

import numba
import numpy as np
import pytest

import lbalgo
from bench import reference_loops
from bench.conftest import hit_spread, mixed_weights, ns_per, paired
from bench.reference_loops import CONTIGUOUS, ROWS
from lbalgo._jit import DISABLED, function_type, kernel
from lbalgo._table import (
    ACTIVE,
    BACKEND,
    COUNT_ACTIVE,
    EV_COUNTERS,
    F_OVERLOAD,
    FLAGS,
    INACTIVE,
    L_THRESHOLD,
    SLOT,
    U_THRESHOLD,
    WEIGHT,
    unbind,
)
from tests.reference import REFERENCES

ALGOS = ["lc", "wlc", "sed", "nq", "fo", "ovf", "twos"]
SIZES = [10, 100, 1000]
INDEXED = [("lc", "scan"), ("lc", "tree"), ("wlc", "scan"), ("wlc", "tree")]
SCAN_ALGOS = ["lc", "wlc", "sed", "nq"]
SCAN_SIZES = [100, 1000]
SCAN_DECISIONS = 200_000
SCAN_ROUNDS = 7  # from a fresh pool each; the fastest counts (the machine is shared)

_results: dict[tuple, float] = {}  # (group, impl) -> ns per decision
assert reference_loops.F_OVERLOAD == F_OVERLOAD


# Not cached: Numba does not cache a function with function-pointer arguments
# under a module that pytest imports by another name; it is compiled once per session.
@kernel(cache=False, refcount=False)
def churn(schedule, changed, table, state, fstate, mode, watches, keys, times, out, ring, cursor, steps):
    """``steps`` decisions, each after releasing the one made ``len(ring)`` decisions ago.

    ``schedule`` / ``changed`` are the scheduler's kernels (function pointers of
    the uniform signatures). A release is reported to schedulers that watch the
    counters (``watches``), as the pool and the event loop do; ``schedule``
    counts the new connection itself. ``cursor[0]`` is the ring position, kept
    across calls.
    """
    k = ring.shape[0]
    j = cursor[0]
    active = mode == COUNT_ACTIVE
    done = 0
    for _ in range(steps):
        old = ring[j]
        if old >= 0:
            unbind(table, old, active)
            if watches:
                changed(table, state, fstate, EV_COUNTERS, old)
        backend = schedule(table, state, fstate, keys, times, out, 0, 1, mode)
        if backend >= 0:
            done += 1
        ring[j] = backend
        j += 1
        if j == k:
            j = 0
    cursor[0] = j
    return done


_churn_entry = None


def churn_entry():
    """:func:`churn` compiled once, with function-pointer types for the scheduler's kernels.

    The compiled overload's entry point is called directly, so Numba never
    specialises the loop on a particular scheduler's kernels.
    """
    global _churn_entry
    if _churn_entry is None:
        dispatcher = churn.compiled
        if DISABLED:
            _churn_entry = dispatcher
        else:
            ints = numba.types.int64[::1]
            floats = numba.types.float64[::1]
            i64 = numba.types.int64
            sig = (function_type("schedule"), function_type("changed"), numba.types.int64[:, ::1], ints,
                   floats, i64, i64, ints, floats, ints, ints, ints, i64)
            dispatcher.compile(sig)
            dispatcher.disable_compile()
            _churn_entry = dispatcher.overloads[sig].entry_point
    return _churn_entry


def _steps(n, impl):
    if impl == "tree":
        return 200_000
    return max(400, 2_000_000 // n)


def _ref_steps(n):
    return max(50, 20_000 // n)


def _make(name, n, index="scan"):
    options = {"index": index} if name in ("lc", "wlc") else {}
    return lbalgo.get(name)(weights=mixed_weights(n), seed=1, **options)


def _churn_args(s):
    """The arguments of :func:`churn` before the ring for scheduler ``s`` (its kernels, table and state)."""
    pool = s.pool
    return (s._schedule.compiled, s._changed.compiled, pool.table, s.state, s.fstate, pool.count_mode,
            int(s.watches_counters), np.zeros(1, dtype=np.int64), np.zeros(1, dtype=np.float64),
            np.zeros(1, dtype=np.int64))


def _lbalgo_churn(benchmark, name, n, index="scan"):
    s = _make(name, n, index)
    pool = s.pool
    run = churn_entry()
    args = _churn_args(s)
    ring = np.full(8 * n, -1, dtype=np.int64)
    cursor = np.zeros(1, dtype=np.int64)
    steps = _steps(n, index)
    run(*args, ring, cursor, len(ring))  # one ring turn: len(ring) connections open
    done = benchmark(run, *args, ring, cursor, steps)
    if name != "ovf":  # ovf runs out of capacity (active > weight) by design
        assert done == steps
    # every open connection is in the ring, and counted once
    open_ = ring[ring >= 0]
    assert pool.table[ACTIVE].sum() == len(open_)
    return _ns(benchmark, steps), steps


def _ns(benchmark, decisions):
    # The fastest round: the CI box is shared, and slower rounds measure the neighbours.
    return ns_per(benchmark, decisions, "min")


def _ref_churn(benchmark, name, n):
    ref = REFERENCES[name](mixed_weights(n), seed=1)
    ring = [-1] * (8 * n)
    cursor = [0]
    steps = _ref_steps(n)

    def run(count=steps):
        pick, release = ref.pick, ref.release
        k = len(ring)
        j = cursor[0]
        for _ in range(count):
            old = ring[j]
            if old >= 0:
                release(old)
            ring[j] = pick()
            j = j + 1 if j + 1 < k else 0
        cursor[0] = j

    run(len(ring))  # one ring turn: len(ring) connections open, as for lbalgo
    benchmark.pedantic(run, rounds=5, iterations=1)
    return _ns(benchmark, steps), steps


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("impl", ["plain-python", "lbalgo"])
@pytest.mark.parametrize("name", ALGOS)
def test_churn(benchmark, name, impl, n):
    group = f"churn-{name}-{n}"
    benchmark.group = group
    if impl == "lbalgo":
        ns, steps = _lbalgo_churn(benchmark, name, n)
    else:
        ns, steps = _ref_churn(benchmark, name, n)
    _results[(group, impl)] = ns
    info = dict(impl=impl, n_backends=n, decisions=steps, ns_per_decision=ns)
    if impl == "lbalgo" and ns and _results.get((group, "plain-python")):
        info["speedup_vs_python"] = _results[(group, "plain-python")] / ns
    benchmark.extra_info.update(info)


def _ring_after(name, n, index, steps):
    """The last ``8 n`` decisions of the churn loop after ``steps`` decisions from a fresh pool."""
    ring = np.full(8 * n, -1, dtype=np.int64)
    churn_entry()(*_churn_args(_make(name, n, index)), ring, np.zeros(1, dtype=np.int64), steps)
    return ring


@pytest.mark.parametrize("n", [1000, 10_000])
@pytest.mark.parametrize("name,index", INDEXED)
def test_churn_indexed(benchmark, name, index, n):
    group = f"churn-{name}-indexed-{n}"
    benchmark.group = group
    if index == "tree" and n <= 1000:
        # the tree hears every release through changed(EV_COUNTERS): the scan's decisions
        steps = 2 * 8 * n + 123
        assert np.array_equal(_ring_after(name, n, "tree", steps), _ring_after(name, n, "scan", steps))
    ns, steps = _lbalgo_churn(benchmark, name, n, index)
    _results[(group, index)] = ns
    info = dict(impl=f"lbalgo-{index}", n_backends=n, decisions=steps, ns_per_decision=ns)
    if index == "tree" and ns and _results.get((group, "scan")):
        info["speedup_vs_scan"] = _results[(group, "scan")] / ns
    benchmark.extra_info.update(info)


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("impl", ["plain-python", "lbalgo"])
@pytest.mark.parametrize("name", ALGOS)
def test_pick(benchmark, name, impl, n):
    group = f"pick-{name}-{n}"
    benchmark.group = group
    if impl == "lbalgo":
        s = _make(name, n)
        s.pick_many(2 * n)  # warm-up JIT / load cache; the state the reference starts from
        count = max(400, 2_000_000 // n)
        ids = benchmark(s.pick_many, count)
        assert len(ids) == count
        spread = hit_spread(ids, n)
    else:
        ref = REFERENCES[name](mixed_weights(n), seed=1)
        for _ in range(2 * n):
            ref.pick()
        count = _ref_steps(n)
        ids = benchmark.pedantic(lambda: [ref.pick() for _ in range(count)], rounds=5, iterations=1)
        spread = hit_spread(np.array(ids), n)
    ns = _ns(benchmark, count)
    _results[(group, impl)] = ns
    info = dict(impl=impl, n_backends=n, decisions=count, ns_per_decision=ns, hit_spread=spread)
    if impl == "lbalgo" and ns and _results.get((group, "plain-python")):
        info["speedup_vs_python"] = _results[(group, "plain-python")] / ns
    benchmark.extra_info.update(info)


# --- scans beside plain loops over contiguous arrays (bench/reference_loops.py) -----------------

def _fields(name, n):
    """The fields of a fresh pool (the state lbalgo's side starts from): weight, flags, active,
    inactive and upper threshold, in list order, as one (5, n) array."""
    t = _make(name, n).pool.table
    assert (t[BACKEND, :n] == np.arange(n)).all()  # list position = backend id: decisions compare directly
    return np.ascontiguousarray(t[[WEIGHT, FLAGS, ACTIVE, INACTIVE, U_THRESHOLD], :n])


def _reference_args(impl, name, n):
    """``(loop, fields)``: the reference loop of ``impl`` and fresh arguments for it."""
    fields = _fields(name, n)
    if impl == "contiguous":  # five separate 1-D arrays
        return CONTIGUOUS[name], tuple(fields[k].copy() for k in range(5))
    return ROWS[name], (fields,)  # the rows of one 2-D array


@pytest.mark.parametrize("n", SCAN_SIZES)
@pytest.mark.parametrize("impl", ["contiguous", "contiguous-rows", "lbalgo"])
@pytest.mark.parametrize("name", SCAN_ALGOS)
def test_scan(benchmark, name, impl, n):
    group = f"scan-{name}-{n}"
    benchmark.group = group
    count = SCAN_DECISIONS
    if impl == "lbalgo":
        _make(name, n).pick_many(100)  # warm-up JIT / load the cache
        ids = benchmark.pedantic(lambda s: s.pick_many(count), setup=lambda: ((_make(name, n),), {}),
                                 rounds=SCAN_ROUNDS, iterations=1)
        assert len(ids) == count and (ids >= 0).all()
        label = "lbalgo pick_many"
    else:
        loop, _ = _reference_args(impl, name, n)
        out = np.empty(count, dtype=np.int64)
        loop(*_reference_args(impl, name, n)[1], 10, out)  # warm-up JIT / load the cache
        benchmark.pedantic(lambda *args: loop(*args, count, out),
                           setup=lambda: (_reference_args(impl, name, n)[1], {}), rounds=SCAN_ROUNDS,
                           iterations=1)
        args = _reference_args(impl, name, n)[1]
        loop(*args, count, out)
        active = args[2] if impl == "contiguous" else args[0][2]
        s = _make(name, n)
        # the same decisions, and the same counters, as lbalgo
        assert np.array_equal(out, s.pick_many(count))
        assert np.array_equal(active, s.pool.table[ACTIVE, :n]) and active.sum() == count
        label = ("numba loop, one 1-D array per field" if impl == "contiguous"
                 else "numba loop, the fields as rows of one 2-D array")
    ns = _ns(benchmark, count)
    benchmark.extra_info.update(impl=impl, label=label, n_backends=n, decisions=count, ns_per_decision=ns)
    paired(group, impl, ns, benchmark.extra_info, [("ratio_vs_contiguous", "lbalgo", "contiguous"),
                                                   ("ratio_vs_contiguous_rows", "lbalgo", "contiguous-rows")])


# --- the same churn loop in C, for scale ----------------------------------------------------

C_SOURCE = r"""
#include <stdint.h>
#define F_OVERLOAD 2
/* lbalgo's table rows, one int64 array per field in slot (list) order; slot[] is per backend id. */
typedef struct { int64_t *weight, *flags, *active, *inactive, *upper, *lower, *backend, *slot; } rows_t;
/* IPVS lc (weighted = 0) or wlc (weighted = 1): the slot of the choice, or -1. Always inlined
   with a constant `weighted`, so each loop is compiled for one algorithm, as lbalgo's are. */
static inline __attribute__((always_inline)) int64_t pick(const rows_t *t, int64_t n, const int weighted) {
    int64_t least = -1, loh = 0, lw = 0;
    for (int64_t s = 0; s < n; s++) {
        int64_t w = t->weight[s];
        if (w == 0 || (t->flags[s] & F_OVERLOAD)) continue;
        int64_t d = (t->active[s] << 8) + t->inactive[s];
        if (least < 0 || (weighted ? loh * w > d * lw : d < loh)) { least = s; loh = d; lw = w; }
    }
    return least;
}
/* ip_vs_unbind_dest: active - 1, then the overload flag's clearing rule. */
static void unbind(const rows_t *t, int64_t b) {
    int64_t s = t->slot[b];
    t->active[s] -= 1;
    int64_t total = t->active[s] + t->inactive[s], lower = t->lower[s], upper = t->upper[s];
    if (lower != 0) { if (total < lower) t->flags[s] &= ~F_OVERLOAD; }
    else if (upper != 0) { if (total * 4 < upper * 3) t->flags[s] &= ~F_OVERLOAD; }
    else t->flags[s] &= ~F_OVERLOAD;
}
/* ip_vs_bind_dest: active + 1, then the upper-threshold check; returns the backend id. */
static int64_t bind(const rows_t *t, int64_t s) {
    t->active[s] += 1;
    int64_t upper = t->upper[s];
    if (upper != 0 && t->active[s] + t->inactive[s] >= upper) t->flags[s] |= F_OVERLOAD;
    return t->backend[s];
}
static inline __attribute__((always_inline)) int64_t churn_loop(
        int64_t **row, int64_t n, const int weighted, int64_t *ring, int64_t k, int64_t *cursor,
        int64_t steps, int64_t *out) {
    rows_t t = {row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7]};
    int64_t j = cursor[0], done = 0;
    for (int64_t i = 0; i < steps; i++) {
        if (ring[j] >= 0) unbind(&t, ring[j]);
        int64_t s = pick(&t, n, weighted), b = -1;
        if (s >= 0) { b = bind(&t, s); done++; }
        if (out) out[i] = b;
        ring[j] = b;
        if (++j == k) j = 0;
    }
    cursor[0] = j;
    return done;
}
int64_t churn(int64_t **row, int64_t n, int64_t weighted, int64_t *ring, int64_t k,
              int64_t *cursor, int64_t steps, int64_t *out) {
    if (weighted) return churn_loop(row, n, 1, ring, k, cursor, steps, out);
    return churn_loop(row, n, 0, ring, k, cursor, steps, out);
}
"""
C_ROWS = (WEIGHT, FLAGS, ACTIVE, INACTIVE, U_THRESHOLD, L_THRESHOLD, BACKEND, SLOT)
# Without if-conversion: at -O2 gcc turns the scan's "new least" branch into conditional moves,
# which chain every element's comparison to the previous one (wlc: 134 ns per decision at 100
# backends instead of about 60 on the CI machine). The branch is almost never taken.
C_FLAGS = ("-O2", "-fno-if-conversion", "-fno-if-conversion2")
C_LABEL = "C gcc -O2 -fno-if-conversion"


@pytest.fixture(scope="module")
def c_churn():
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler")
    d = tempfile.mkdtemp()
    src, lib = os.path.join(d, "churn.c"), os.path.join(d, "churn.so")
    with open(src, "w") as f:
        f.write(C_SOURCE)
    subprocess.run([cc, *C_FLAGS, "-shared", "-fPIC", src, "-o", lib], check=True)
    fn = ctypes.CDLL(lib).churn
    fn.restype = ctypes.c_int64
    return fn


def _ptr(a):
    return a.ctypes.data_as(ctypes.POINTER(ctypes.c_int64)) if a is not None else None


def _rows(table):
    """A C array of pointers to the rows of ``table`` the C loop reads (views: it writes the table)."""
    return (ctypes.POINTER(ctypes.c_int64) * len(C_ROWS))(*[_ptr(table[r]) for r in C_ROWS])


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("name", ["lc", "wlc"])
def test_churn_c(benchmark, c_churn, name, n):
    group = f"churn-{name}-{n}"
    benchmark.group = group
    weighted = ctypes.c_int64(1 if name == "wlc" else 0)
    # Same decisions as lbalgo for two ring turns.
    s = _make(name, n)
    table = s.pool.table.copy()
    rows = _rows(table)
    ring = np.full(8 * n, -1, dtype=np.int64)
    cursor = np.zeros(1, dtype=np.int64)
    out = np.empty(2 * len(ring), dtype=np.int64)
    c_churn(rows, ctypes.c_int64(n), weighted, _ptr(ring), ctypes.c_int64(len(ring)), _ptr(cursor),
            ctypes.c_int64(len(out)), _ptr(out))
    want = []
    for i in range(len(out)):
        if i >= len(ring):
            s.release(want[i - len(ring)])
        want.append(s.pick())
    assert out.tolist() == want
    assert np.array_equal(table, s.pool.table)
    steps = _steps(n, "scan")
    done = benchmark(c_churn, rows, ctypes.c_int64(n), weighted, _ptr(ring), ctypes.c_int64(len(ring)),
                     _ptr(cursor), ctypes.c_int64(steps), None)
    assert done == steps
    ns = _ns(benchmark, steps)
    benchmark.extra_info.update(impl=C_LABEL, n_backends=n, decisions=steps, ns_per_decision=ns)
