"""``umod_by`` (Barrett reduction, no division) equals ``x % n`` for 64-bit x and 2 <= n < 2**31."""

import numpy as np

from lbalgo._jit import kernel
from lbalgo.schedulers.envoy._hosts import reciprocal, umod_by


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
