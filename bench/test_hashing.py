"""sh, dh, mh: keyed pick_many over 1,000,000 IPv4 keys and the MH table build.

Groups: ``keyed-<algo>`` (pick_many with one IPv4 client per connection,
lbalgo beside the plain-Python reference on a 20,000-key slice; both report
``ns_per_decision`` in extra_info) and ``mh-build-<M>`` (a full MH table
rebuild for 1,000 backends at M = 4093 and 65521, as after any pool change).

Targets (measured on a machine about 5x faster than the CI box): sh and dh
<= 2 ns per key, mh <= 12 ns per key, the M = 65521 build <= 10 ms.
"""

import numpy as np
import pytest

import lbalgo
from bench.conftest import hit_spread, mixed_weights, ns_per
from lbalgo._table import EV_UPDATE
from lbalgo.schedulers.mh import mh_changed
from tests.reference import REFERENCES

ALGOS = ["sh", "dh", "mh"]
N_BACKENDS = 100
KEYS = 1_000_000
REF_KEYS = 20_000


def _keys(n, seed=11):
    return np.random.default_rng(seed).integers(0, 2**32, size=n, dtype=np.int64).astype(np.uint32)


@pytest.mark.parametrize("name", ALGOS)
def test_keyed_lbalgo(benchmark, name):
    benchmark.group = f"keyed-{name}"
    keys = _keys(KEYS)
    s = lbalgo.get(name)(weights=mixed_weights(N_BACKENDS))
    s.pick_many(keys[:1000])  # warm-up JIT / load cache
    ids = benchmark(s.pick_many, keys)
    assert len(ids) == KEYS and (ids >= 0).all()
    benchmark.extra_info.update(impl="lbalgo", n_backends=N_BACKENDS, decisions=KEYS,
                                ns_per_decision=ns_per(benchmark, KEYS, "min"),
                                hit_spread=hit_spread(ids, N_BACKENDS))


@pytest.mark.parametrize("name", ALGOS)
def test_keyed_plain_python(benchmark, name):
    benchmark.group = f"keyed-{name}"
    keys = _keys(REF_KEYS).tolist()
    ref = REFERENCES[name](mixed_weights(N_BACKENDS))

    def run():
        pick = ref.pick
        return [pick(k) for k in keys]

    ids = benchmark.pedantic(run, rounds=3, iterations=1)
    assert len(ids) == REF_KEYS and min(ids) >= 0
    lb = lbalgo.get(name)(weights=mixed_weights(N_BACKENDS)).pick_many(np.array(keys, dtype=np.uint32))
    assert lb.tolist() == ids  # same decisions as the kernel on the slice
    benchmark.extra_info.update(impl="plain-python", n_backends=N_BACKENDS, decisions=REF_KEYS,
                                ns_per_decision=ns_per(benchmark, REF_KEYS, "min"))


@pytest.mark.parametrize("m", [4093, 65521])
def test_mh_build_lbalgo(benchmark, m):
    benchmark.group = f"mh-build-{m}"
    s = lbalgo.MH(weights=mixed_weights(1000), table_size=m)
    pool = s.pool
    benchmark(mh_changed.entry, pool.table, s.state, s.fstate, EV_UPDATE, 0)
    counts = np.bincount(s.slots, minlength=1000)
    assert counts.sum() == m and (s.slots >= 0).all()
    benchmark.extra_info.update(impl="lbalgo", n_backends=1000, table_size=m,
                                ms_per_build=ns_per(benchmark, 1e6, "min"))


@pytest.mark.parametrize("m", [4093, 65521])
def test_mh_build_plain_python(benchmark, m):
    benchmark.group = f"mh-build-{m}"
    ref = REFERENCES["mh"](mixed_weights(1000), table_size=m)
    benchmark.pedantic(ref.rebuild, rounds=1 if m > 10000 else 3, iterations=1)
    slots = [d.id for d in ref.slots]
    assert slots == lbalgo.MH(weights=mixed_weights(1000), table_size=m).slots.tolist()
    benchmark.extra_info.update(impl="plain-python", n_backends=1000, table_size=m,
                                ms_per_build=ns_per(benchmark, 1e6, "min"))
