"""``umod_by`` (Barrett reduction, no division) equals ``x % n`` for 64-bit x and 2 <= n < 2**31.

So does Maglev's modulo by its default table size, which the compiler turns into multiplies.
"""

import numpy as np

import lbalgo
from lbalgo._jit import kernel
from lbalgo.schedulers.envoy._hosts import reciprocal, umod_by
from lbalgo.schedulers.envoy.maglev import DEFAULT_TABLE_SIZE, umod_default_size
from tests.reference import REFERENCES


@kernel
def _mods(xs, n, out):
    r = reciprocal(n)
    for i in range(xs.shape[0]):
        out[i] = umod_by(xs[i], n, r)


def _check(xs_u64, n):
    xs = np.asarray(xs_u64, dtype=np.uint64)
    out = np.empty(len(xs), dtype=np.int64)
    _mods(xs.view(np.int64), n, out)
    expected = [int(x) % n for x in xs.tolist()]
    assert out.tolist() == expected, n


def _edges(n):
    top = (1 << 64) - 1
    q = top // n
    vals = {0, 1, 2, n - 1, n, n + 1, 2 * n - 1, 2 * n, top, top - 1, top - n, 1 << 63, (1 << 63) - 1,
            (1 << 32) - 1, 1 << 32, q * n, q * n - 1, (q - 1) * n + n - 1}
    for k in (1, 2, 3, q // 2, q // 3, q - 1, q):
        for d in (-1, 0, 1):
            vals.add(k * n + d)
    return sorted(v for v in vals if 0 <= v <= top)


def test_umod_by_edges():
    ns = [2, 3, 5, 7, 65537, 65536, 65535, 5000011, (1 << 31) - 1, (1 << 31) - 2, (1 << 30) + 1, 1 << 30,
          (1 << 16) + 1, 3 ** 19]
    for n in ns:
        _check(_edges(n), n)


def test_umod_by_random():
    rng = np.random.default_rng(14)
    ns = rng.integers(2, 1 << 31, size=200).tolist() + rng.integers(2, 1 << 12, size=50).tolist()
    for n in ns:
        xs = rng.integers(0, 2 ** 64, size=2000, dtype=np.uint64)
        _check(np.concatenate([xs, np.asarray(_edges(n), dtype=np.uint64)]), n)


@kernel
def _mods_default(xs, out):
    for i in range(xs.shape[0]):
        out[i] = umod_default_size(xs[i])


def test_the_default_table_size_divides_by_a_constant_exactly():
    rng = np.random.default_rng(15)
    xs = np.concatenate([rng.integers(0, 2 ** 64, size=20_000, dtype=np.uint64),
                         np.asarray(_edges(DEFAULT_TABLE_SIZE), dtype=np.uint64)])
    out = np.empty(len(xs), dtype=np.int64)
    _mods_default(xs.view(np.int64), out)
    assert out.tolist() == [int(x) % DEFAULT_TABLE_SIZE for x in xs.tolist()]


def test_maglev_at_the_default_size_decides_as_the_reference():
    # The default size takes its own loop (a constant divisor); other sizes take umod_by.
    addresses = [f"10.1.0.{i + 1}:8080" for i in range(12)]
    weights = [1, 2, 3, 1, 1, 5, 2, 1, 4, 1, 1, 2]
    rng = np.random.default_rng(16)
    keys = np.concatenate([rng.integers(0, 2 ** 64, size=3000, dtype=np.uint64),
                           np.asarray(_edges(DEFAULT_TABLE_SIZE)[:200], dtype=np.uint64)])
    real = lbalgo.get("envoy-maglev")(weights, addresses=addresses)
    assert real.slots.shape[0] == DEFAULT_TABLE_SIZE
    ref = REFERENCES["envoy-maglev"](weights, addresses=addresses)
    assert real.pick_many(keys).tolist() == [ref.pick(int(k)) for k in keys.tolist()]
