"""The contract every registered scheduler keeps (run over the whole registry)."""

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import lbalgo
from lbalgo import NoBackendAvailable
from tests.support import KEY_POOL

ALL = lbalgo.names()


def make(name, weights, **options):
    return lbalgo.get(name)(weights=weights, seed=7, **options)


def keys_and_times(n, seed=0):
    rng = np.random.default_rng(seed)
    keys = KEY_POOL[rng.integers(0, len(KEY_POOL), size=n)]
    times = np.arange(n, dtype=np.float64) * 0.25
    return keys, times


@pytest.mark.parametrize("name", ALL)
def test_metadata(name):
    cls = lbalgo.get(name)
    assert cls.name == name
    assert cls.summary and cls.source
    assert cls.__doc__


@pytest.mark.parametrize("name", ALL)
def test_never_picks_removed_or_quiesced_backends(name):
    s = make(name, [3, 0, 2, 1, 5, 1])
    s.remove_backend(3)
    s.set_weight(4, 0)
    keys, times = keys_and_times(600)
    ids = s.pick_many(keys, now=times)
    picked = set(ids[ids >= 0].tolist())
    assert picked <= {0, 2, 5}
    assert (ids >= 0).any()


@pytest.mark.parametrize("name", ALL)
def test_each_pick_counts_exactly_one_connection(name):
    s = make(name, [2, 1, 3, 1])
    keys, times = keys_and_times(500)
    ids = s.pick_many(keys, now=times)
    counted = s.active_conns + s.inactive_conns
    assert np.array_equal(counted, np.bincount(ids[ids >= 0], minlength=4))
    for b in ids[ids >= 0]:
        s.release(int(b))
    assert not s.active_conns.any() and not s.inactive_conns.any()
    # one release too many is refused and changes nothing: a counter never goes below zero
    table = s.pool.table.copy()
    with pytest.raises(lbalgo.errors.InvalidArgument, match="no active connection"):
        s.release(int(ids[ids >= 0][0]))
    assert np.array_equal(s.pool.table, table)


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("new_conns", ["active", "inactive"])
def test_pick_many_equals_repeated_pick(name, new_conns):
    a = make(name, [5, 3, 0, 2, 1], new_conns=new_conns)
    b = make(name, [5, 3, 0, 2, 1], new_conns=new_conns)
    keys, times = keys_and_times(400, seed=3)
    batch = a.pick_many(keys, now=times)
    single = []
    for k, t in zip(keys.tolist(), times.tolist()):
        try:
            single.append(b.pick(key=k, now=t))
        except NoBackendAvailable:
            single.append(-1)
    assert batch.tolist() == single
    assert np.array_equal(a.pool.table, b.pool.table)


@pytest.mark.parametrize("name", ALL)
def test_empty_pool_and_all_quiesced(name):
    s = make(name, [])
    with pytest.raises(NoBackendAvailable):
        s.pick(key=int(KEY_POOL[0]), now=0.0)
    assert s.pick_many(KEY_POOL[:3], now=0.0).tolist() == [-1, -1, -1]
    z = make(name, [0, 0, 0])
    with pytest.raises(NoBackendAvailable):
        z.pick(key=int(KEY_POOL[0]), now=0.0)
    assert not z.active_conns.any() and not z.inactive_conns.any()


@pytest.mark.parametrize("name", ALL)
def test_same_seed_same_trace(name):
    keys, times = keys_and_times(300, seed=5)
    a = make(name, [4, 1, 2]).pick_many(keys, now=times)
    b = make(name, [4, 1, 2]).pick_many(keys, now=times)
    assert np.array_equal(a, b)


def test_same_seed_same_trace_across_processes():
    script = textwrap.dedent(
        """
        import json, sys
        import numpy as np
        import lbalgo
        from tests.support import KEY_POOL
        keys = KEY_POOL[np.random.default_rng(1).integers(0, len(KEY_POOL), size=200)]
        times = np.arange(200) * 0.5
        out = {n: lbalgo.get(n)(weights=[3, 1, 2, 5], seed=99).pick_many(keys, now=times).tolist()
               for n in lbalgo.names()}
        json.dump(out, sys.stdout)
        """
    )
    runs = [json.loads(subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                                      check=True, cwd=_root()).stdout) for _ in range(2)]
    assert runs[0] == runs[1]
    keys = KEY_POOL[np.random.default_rng(1).integers(0, len(KEY_POOL), size=200)]
    here = {n: lbalgo.get(n)(weights=[3, 1, 2, 5], seed=99).pick_many(keys, now=np.arange(200) * 0.5).tolist()
            for n in ALL}
    assert runs[0] == here


def _root():
    import os
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
