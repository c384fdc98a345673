"""rr, wrr, random, iptables, nftables: compiled vs plain Python, per decision.

Groups:

``batch-<algo>``
    ``pick_many(200_000)`` (counters grow), per decision in extra_info, for
    the lbalgo kernel and the plain-Python reference of the same algorithm
    at 10, 100 and 1000 backends, measured in the same run. For rr and wrr
    the group also holds a C loop (gcc -O2) doing the same work as
    ``pick_many``: the same algorithm, overload flag and cursor / stop rules
    included, on the same layout (one int64 array per table row, in slot
    order: it runs on a copy of the scheduler's table and state), counting
    each connection as lbalgo does (``active += 1``, then the
    upper-threshold check). Its decisions are asserted identical to
    lbalgo's, also with thresholds that overload backends (and in the end
    every backend). ``ratio_vs_c`` = lbalgo ns / C ns (target: <= 2).
``pick-<algo>``
    One ``pick()`` call from Python at 100 backends, for the same algorithms
    and lc, wlc (target: <= 400 ns), beside the plain-Python reference's
    ``pick()``.

Every result puts its fastest round per decision (``ns_per_decision``) or
per call (``ns_per_pick``) in ``extra_info``.
"""

import ctypes
import os
import shutil
import subprocess
import tempfile

import numpy as np
import pytest

import lbalgo
from bench.conftest import hit_spread, mixed_weights, ns_per, paired
from lbalgo._table import ACTIVE, BACKEND, FLAGS, INACTIVE, U_THRESHOLD, WEIGHT
from tests.reference import REFERENCES

ALGOS = ["rr", "wrr", "random", "iptables", "nftables"]
PICK_ALGOS = ALGOS + ["lc", "wlc"]
SIZES = [10, 100, 1000]
BATCH = 200_000
REF_BATCH = 20_000
C_RATIOS = [("ratio_vs_c", "lbalgo", "C gcc -O2")]


def _fresh(name, n, **options):
    return lbalgo.get(name)(weights=mixed_weights(n), seed=1, **options)


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("name", ALGOS)
def test_batch_lbalgo(benchmark, name, n):
    benchmark.group = f"batch-{name}"
    _fresh(name, n).pick_many(1000)  # warm-up JIT / load cache
    s = _fresh(name, n)
    ids = benchmark(s.pick_many, BATCH)
    assert len(ids) == BATCH and (ids >= 0).all()
    ns = ns_per(benchmark, BATCH, "min")
    benchmark.extra_info.update(impl="lbalgo", n_backends=n, decisions=BATCH, ns_per_decision=ns,
                                hit_spread=hit_spread(ids, n))
    if name in C_LOOPS:
        paired((name, n), "lbalgo", ns, benchmark.extra_info, C_RATIOS)


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("name", ALGOS)
def test_batch_plain_python(benchmark, name, n):
    benchmark.group = f"batch-{name}"
    ref = REFERENCES[name](mixed_weights(n), seed=1)

    def run():
        pick = ref.pick
        return [pick() for _ in range(REF_BATCH)]

    ids = benchmark.pedantic(run, rounds=3, iterations=1)
    assert len(ids) == REF_BATCH and min(ids) >= 0
    benchmark.extra_info.update(impl="plain-python", n_backends=n, decisions=REF_BATCH,
                                ns_per_decision=ns_per(benchmark, REF_BATCH, "min"))


@pytest.mark.parametrize("name", PICK_ALGOS)
def test_pick_from_python(benchmark, name):
    benchmark.group = f"pick-{name}"
    s = _fresh(name, 100)
    s.pick()  # warm-up JIT / load cache
    b = benchmark(s.pick)
    assert 0 <= b < 100
    benchmark.extra_info.update(impl="lbalgo", n_backends=100, ns_per_pick=ns_per(benchmark, 1, "min"))


@pytest.mark.parametrize("name", PICK_ALGOS)
def test_pick_plain_python(benchmark, name):
    benchmark.group = f"pick-{name}"
    ref = REFERENCES[name](mixed_weights(100), seed=1)
    b = benchmark(ref.pick)
    assert 0 <= b < 100
    benchmark.extra_info.update(impl="plain-python", n_backends=100, ns_per_pick=ns_per(benchmark, 1, "min"))


# --- the same loops in C, for scale -------------------------------------------------------

C_SOURCE = r"""
#include <stdint.h>
#define F_OVERLOAD 2
/* The rows of lbalgo's table a decision reads or writes: one int64 array each, in slot order. */
typedef struct { int64_t *weight, *flags, *active, *inactive, *upper, *backend; } rows_t;

/* Count one connection on slot s as an active one (ip_vs_bind_dest); return its backend id. */
static inline int64_t account(const rows_t *t, int64_t s) {
    t->active[s] += 1;
    int64_t upper = t->upper[s];
    if (upper != 0 && t->active[s] + t->inactive[s] >= upper) t->flags[s] |= F_OVERLOAD;
    return t->backend[s];
}

/* IPVS rr (ip_vs_rr.c): state[0] = the cursor's slot, -1 = the list head. Returns the last backend. */
int64_t rr_loop(int64_t **row, int64_t n, int64_t *state, int64_t count, int64_t *out) {
    rows_t t = {row[0], row[1], row[2], row[3], row[4], row[5]};
    int64_t cursor = state[0], b = -1;
    for (int64_t i = 0; i < count; i++) {
        int64_t s = cursor, chosen = -1;
        for (int64_t k = 0; k < n; k++) {
            s = (s + 1 == n) ? 0 : s + 1;
            if (t.weight[s] > 0 && !(t.flags[s] & F_OVERLOAD)) { chosen = s; cursor = s; break; }
        }
        b = chosen >= 0 ? account(&t, chosen) : -1;
        out[i] = b;
    }
    state[0] = cursor;
    return b;
}

/* IPVS wrr (ip_vs_wrr.c, ip_vs_wrr_schedule): state = cursor slot (-1 = head), cw, mw, di.
   Passes of decreasing cw; gives up after a complete pass with cw <= di found nothing
   (the last_pass / restarted / stop rules), leaving the cursor where the kernel leaves it. */
int64_t wrr_loop(int64_t **row, int64_t n, int64_t *state, int64_t count, int64_t *out) {
    rows_t t = {row[0], row[1], row[2], row[3], row[4], row[5]};
    int64_t cl = state[0], cw = state[1], mw = state[2], di = state[3], b = -1;
    for (int64_t i = 0; i < count; i++) {
        int64_t found = -1;
        if (mw != 0) {
            int64_t last = cl, p = cl, stop = -1;
            int last_pass = 0, restarted = 0;
            for (;;) {
                int64_t end = stop < 0 ? n : stop + 1;
                for (p = p + 1; p < end; p++)
                    if (!(t.flags[p] & F_OVERLOAD) && t.weight[p] >= cw) { found = p; break; }
                if (found >= 0) { cl = found; break; }
                if (stop >= 0) { cl = stop; break; }
                p = -1;
                cw -= di;
                if (cw <= 0) {
                    cw = mw;
                    if (last_pass || last == -1) { cl = -1; break; }
                    restarted = 1;
                }
                last_pass = cw <= di;
                if (last_pass && restarted && last != -1) { restarted = 0; stop = last; }
            }
        }
        b = found >= 0 ? account(&t, found) : -1;
        out[i] = b;
    }
    state[0] = cl;
    state[1] = cw;
    return b;
}
"""
C_ROWS = (WEIGHT, FLAGS, ACTIVE, INACTIVE, U_THRESHOLD, BACKEND)
C_LOOPS = ("rr", "wrr")
_P = ctypes.POINTER(ctypes.c_int64)


@pytest.fixture(scope="module")
def c_loops():
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler")
    d = tempfile.mkdtemp()
    src, lib = os.path.join(d, "loops.c"), os.path.join(d, "loops.so")
    with open(src, "w") as f:
        f.write(C_SOURCE)
    subprocess.run([cc, "-O2", "-shared", "-fPIC", src, "-o", lib], check=True)
    return ctypes.CDLL(lib)


class _CRun:
    """The C loop of ``name`` on copies of a scheduler's table and state (the C side writes them)."""

    def __init__(self, c_loops, name, s):
        self.fn = getattr(c_loops, f"{name}_loop")
        self.fn.restype = ctypes.c_int64
        self.table = s.pool.table.copy()
        self.state = s.state.copy()
        self.n = len(s.pool)
        self.rows = (_P * len(C_ROWS))(*[self.table[r].ctypes.data_as(_P) for r in C_ROWS])

    def __call__(self, out):
        return self.fn(self.rows, ctypes.c_int64(self.n), self.state.ctypes.data_as(_P),
                       ctypes.c_int64(len(out)), out.ctypes.data_as(_P))


def _same_as_lbalgo(c_loops, name, n, count, **options):
    """Run C and lbalgo from the same fresh scheduler; assert the same decisions, table and state."""
    s = _fresh(name, n, **options)
    run = _CRun(c_loops, name, s)
    out = np.empty(count, dtype=np.int64)
    run(out)
    assert np.array_equal(out, s.pick_many(count))
    assert np.array_equal(run.table, s.pool.table) and np.array_equal(run.state, s.state)
    return out


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("name", C_LOOPS)
def test_batch_c(benchmark, c_loops, name, n):
    benchmark.group = f"batch-{name}"
    # The same work as lbalgo: decisions, counters, flags and cursor state, here on the benchmark's
    # setup, and with upper thresholds that overload backends until every one is (-1 from then on).
    assert (_same_as_lbalgo(c_loops, name, n, BATCH) >= 0).all()
    for seed in range(3):
        upper = np.random.default_rng(seed).integers(0, 40, size=n).tolist()
        out = _same_as_lbalgo(c_loops, name, n, 50 * n, u_thresholds=upper)
        assert (out < 0).any() or 0 in upper
    run = _CRun(c_loops, name, _fresh(name, n))
    out = np.empty(BATCH, dtype=np.int64)
    run(out)  # as for lbalgo: the first round continues from a warm-up
    benchmark(run, out)
    assert (out >= 0).all() and run.table[ACTIVE].sum() >= 2 * BATCH
    ns = ns_per(benchmark, BATCH, "min")
    benchmark.extra_info.update(impl="C gcc -O2", n_backends=n, decisions=BATCH, ns_per_decision=ns)
    paired((name, n), "C gcc -O2", ns, benchmark.extra_info, C_RATIOS)
