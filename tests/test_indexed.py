"""Indexed lc / wlc (``index="tree"``) decide exactly as the IPVS scan, tie-breaks included.

Random operation sequences (the tree against the reference) are in test_stateful.py.
"""

import pytest

from lbalgo import LC, WLC, Pool
from lbalgo._table import unbind


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
