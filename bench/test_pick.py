"""rr, wrr, random, iptables, nftables: compiled vs plain Python, per decision.

Groups: ``batch-<algo>`` (pick_many, reported per decision in extra_info) and
``pick-<algo>`` (one pick() call from Python). Each group holds the lbalgo
kernel and the plain-Python reference of the same algorithm at 10, 100 and
1000 backends, measured in the same run. For rr and wrr a C loop (gcc -O2,
same algorithm) is measured too when a C compiler is available.
"""

import ctypes
import os
import shutil
import subprocess
import tempfile

import numpy as np
import pytest

import lbalgo
from bench.conftest import hit_spread, mixed_weights, ns_per
from tests.reference import REFERENCES

ALGOS = ["rr", "wrr", "random", "iptables", "nftables"]
SIZES = [10, 100, 1000]
BATCH = 200_000
REF_BATCH = 20_000


def _fresh(name, n):
    return lbalgo.get(name)(weights=mixed_weights(n), seed=1)


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("name", ALGOS)
def test_batch_lbalgo(benchmark, name, n):
    benchmark.group = f"batch-{name}"
    _fresh(name, n).pick_many(1000)  # warm-up JIT / load cache
    s = _fresh(name, n)
    ids = benchmark(s.pick_many, BATCH)
    assert len(ids) == BATCH and (ids >= 0).all()
    benchmark.extra_info.update(impl="lbalgo", n_backends=n, decisions=BATCH,
                                ns_per_decision=ns_per(benchmark, BATCH, "mean"),
                                hit_spread=hit_spread(ids, n))


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
                                ns_per_decision=ns_per(benchmark, REF_BATCH, "mean"))


@pytest.mark.parametrize("name", ALGOS)
def test_pick_from_python(benchmark, name):
    benchmark.group = f"pick-{name}"
    s = _fresh(name, 100)
    s.pick()
    b = benchmark(s.pick)
    assert 0 <= b < 100
    benchmark.extra_info.update(impl="lbalgo", n_backends=100)


@pytest.mark.parametrize("name", ALGOS)
def test_pick_plain_python(benchmark, name):
    benchmark.group = f"pick-{name}"
    ref = REFERENCES[name](mixed_weights(100), seed=1)
    b = benchmark(ref.pick)
    assert 0 <= b < 100
    benchmark.extra_info.update(impl="plain-python", n_backends=100)


# --- the same loops in C, for scale -------------------------------------------------------

C_SOURCE = r"""
#include <stdint.h>
/* IPVS rr over a list of weights; returns the last pick. */
int64_t rr_loop(const int64_t *w, int64_t n, int64_t count, int64_t *out) {
    int64_t cursor = -1;
    for (int64_t i = 0; i < count; i++) {
        int64_t p = cursor, r = -1;
        for (int64_t k = 0; k < n; k++) {
            p = (p + 1 == n) ? 0 : p + 1;
            if (w[p] > 0) { r = p; cursor = p; break; }
        }
        out[i] = r;
    }
    return out[count - 1];
}
/* IPVS wrr (no overload, cursor starting at the head, cw = mw). */
int64_t wrr_loop(const int64_t *w, int64_t n, int64_t count, int64_t *out) {
    int64_t g = 0, mx = 0;
    for (int64_t i = 0; i < n; i++) {
        int64_t a = w[i], b = g;
        while (b) { int64_t t = a % b; a = b; b = t; }
        if (w[i] > 0) g = g ? a : w[i];
        if (w[i] > mx) mx = w[i];
    }
    int64_t di = g ? g : 1, mw = mx - (di - 1), cw = mw, cl = -1;
    for (int64_t i = 0; i < count; i++) {
        int64_t p = cl;
        for (;;) {
            p++;
            if (p == n) { p = -1; cw -= di; if (cw <= 0) cw = mw; continue; }
            if (w[p] >= cw) break;
        }
        cl = p;
        out[i] = p;
    }
    return out[count - 1];
}
"""


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


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("name", ["rr", "wrr"])
def test_batch_c(benchmark, c_loops, name, n):
    benchmark.group = f"batch-{name}"
    w = np.array(mixed_weights(n), dtype=np.int64)
    out = np.empty(BATCH, dtype=np.int64)
    fn = getattr(c_loops, f"{name}_loop")
    fn.restype = ctypes.c_int64
    ptr = lambda a: a.ctypes.data_as(ctypes.POINTER(ctypes.c_int64))  # noqa: E731
    benchmark(fn, ptr(w), ctypes.c_int64(n), ctypes.c_int64(BATCH), ptr(out))
    # same decisions as lbalgo (no accounting side effects in C)
    assert np.array_equal(out, lbalgo.get(name)(weights=w.tolist()).pick_many(BATCH))
    benchmark.extra_info.update(impl="C gcc -O2", n_backends=n, decisions=BATCH)
