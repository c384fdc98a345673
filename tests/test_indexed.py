"""Indexed lc / wlc (``index="tree"``) decide exactly as the IPVS scan, tie-breaks included."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lbalgo import LC, WLC, NoBackendAvailable, Pool
from lbalgo._table import unbind
from tests.reference import REFERENCES

CLASSES = {"lc": LC, "wlc": WLC}


def _pick(s):
    try:
        return s.pick()
    except NoBackendAvailable:
        return -1


def run(name, weights, ops, new_conns, max_backends=40):
    """Apply ``ops`` to a scan, a tree and the reference; all three must agree at every step."""
    cls = CLASSES[name]
    scan = cls(weights, new_conns=new_conns)
    tree = cls(weights, new_conns=new_conns, index="tree")
    ref = REFERENCES[name](weights, new_conns=new_conns)
    both = (scan, tree)
    for op, a, b in ops:
        ids = list(scan.list_order)
        n_ids = scan.pool.n_ids
        if op <= 2:
            want = ref.pick()
            assert [_pick(s) for s in both] == [want, want]
        elif op == 3:  # a burst in one compiled loop
            k = 1 + b % 20
            want = [ref.pick() for _ in range(k)]
            assert [list(s.pick_many(k)) for s in both] == [want, want]
        elif op in (4, 5):  # releases, through the scheduler or the pool
            active = bool(b % 2) if new_conns == "inactive" else True
            col = scan.active_conns if active else scan.inactive_conns
            have = [i for i in range(n_ids) if col[i] > 0]
            for j in range(1 + a % 3):
                if have:
                    x = have[(a + j) % len(have)]
                    if (scan.active_conns if active else scan.inactive_conns)[x] > 0:
                        scan.release(x, active=active)
                        (tree.release if op == 4 else tree.pool.release)(x, active=active)
                        ref.release(x, active)
        elif op == 6 and ids:
            x = ids[a % len(ids)]
            for s in (*both, ref):
                s.set_weight(x, b % 7)
        elif op == 7 and len(ids) < max_backends:
            assert scan.add_backend(b % 5) == tree.add_backend(b % 5) == ref.add_backend(b % 5)
        elif op == 8 and ids:
            x = ids[a % len(ids)]
            for s in (*both, ref):
                s.remove_backend(x)
        elif op == 9 and ids:
            x = ids[a % len(ids)]
            upper = b % 8
            lower = (a // 11) % 3 if upper else 0
            for s in both:
                s.pool.set_thresholds(x, upper, lower)
            ref.set_thresholds(x, upper, lower)
        elif op == 10:
            src = scan.inactive_conns if b % 2 else scan.active_conns
            have = [i for i in range(n_ids) if src[i] > 0]
            if have:
                x = have[a % len(have)]
                for s in both:
                    (s.pool.activate if b % 2 else s.pool.deactivate)(x)
                (ref.activate if b % 2 else ref.deactivate)(x)
    assert np.array_equal(scan.pool.table, tree.pool.table)


OPS = st.lists(st.tuples(st.integers(0, 10), st.integers(0, 10_000), st.integers(0, 10_000)), max_size=80)


@pytest.mark.parametrize("name", ["lc", "wlc"])
@pytest.mark.parametrize("new_conns", ["active", "inactive"])
@settings(max_examples=60)
@given(weights=st.lists(st.integers(0, 6), max_size=12), ops=OPS)
def test_tree_equals_scan_on_random_operations(name, new_conns, weights, ops):
    run(name, weights, ops, new_conns)


@pytest.mark.parametrize("name", ["lc", "wlc"])
@settings(max_examples=15)
@given(n=st.integers(20, 300), seed=st.integers(0, 2**32 - 1),
       ops=st.lists(st.tuples(st.integers(0, 10), st.integers(0, 10_000), st.integers(0, 10_000)),
                    min_size=50, max_size=150))
def test_tree_equals_scan_with_many_backends(name, n, seed, ops):
    weights = np.random.default_rng(seed).integers(0, 4, size=n).tolist()  # many ties
    run(name, weights, ops, "inactive", max_backends=400)


@pytest.mark.parametrize("cls", [LC, WLC])
def test_many_releases_between_picks(cls):
    scan, tree = cls([1, 2, 3, 1]), cls([1, 2, 3, 1], index="tree")
    for s in (scan, tree):
        s.pick_many(400)
    for k in range(200):
        b = k % 4
        if scan.active_conns[b] > 0:
            scan.release(b)
            tree.release(b)
    assert list(scan.pick_many(300)) == list(tree.pick_many(300))


@pytest.mark.parametrize("cls", [LC, WLC])
def test_pool_growth_rebuilds_the_tree(cls):
    scan, tree = cls([1, 2]), cls([1, 2], index="tree")
    cap = tree.pool.capacity
    for i in range(2 * cap):  # forces EV_RESIZE
        assert scan.add_backend(1 + i % 3) == tree.add_backend(1 + i % 3)
        assert list(scan.pick_many(3)) == list(tree.pick_many(3))
    assert tree.pool.capacity > cap


def test_shared_pool_and_direct_pool_calls_are_seen():
    pool = Pool([2, 1, 3], new_conns="inactive")
    scan, tree = WLC(pool=pool), WLC(pool=pool, index="tree")
    mirror = WLC([2, 1, 3], new_conns="inactive")
    for _ in range(30):
        b = tree.pick()
        assert mirror.pick() == b
        pool.activate(b)
        mirror.pool.activate(b)
        if b == 2:
            pool.release(2, active=True)
            mirror.release(2, active=True)
    assert scan.pick() == mirror.pick()  # the scan sees the shared counters too


def test_compiled_unbind_is_reported_with_touch():
    tree = LC([1, 1, 1], index="tree")
    scan = LC([1, 1, 1])
    for s in (tree, scan):
        s.pick_many(6)
        unbind(s.pool.table, 2, True)  # behind the pool's back, as a compiled loop would
    tree.touch(2)
    assert tree.pick() == scan.pick() == 2


def test_touch_and_resync_from_python():
    tree, scan = LC([1, 1], index="tree"), LC([1, 1])
    for s in (tree, scan):
        s.pick_many(4)
        unbind(s.pool.table, 1, True)
    tree.touch(1)
    assert tree.pick() == scan.pick() == 1
    for s in (tree, scan):
        unbind(s.pool.table, 0, True)
        unbind(s.pool.table, 0, True)
    tree.resync()
    assert tree.pick() == scan.pick() == 0


def test_index_option_is_validated():
    with pytest.raises(ValueError, match="index"):
        LC([1], index="heap")
