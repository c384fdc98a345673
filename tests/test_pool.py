"""Validation: every bad input raises a clear error and changes nothing."""

import math

import numpy as np
import pytest

import lbalgo
from lbalgo import WRR, NoBackendAvailable, Pool, UnknownBackend


def snapshot(s):
    return (s.pool.table.copy(), s.pool.n_ids, [s.state.copy(), s.fstate.copy()])


def assert_unchanged(s, snap):
    table, n_ids, state = snap
    assert np.array_equal(s.pool.table, table)
    assert s.pool.n_ids == n_ids
    assert all(np.array_equal(a, b) for a, b in zip([s.state, s.fstate], state))


@pytest.mark.parametrize(
    "weights, error, message",
    [
        ([1, -1], ValueError, r"weights\[1\] must be >= 0"),
        ([1, float("nan")], ValueError, "NaN"),
        ([1, 2.5], TypeError, "float"),
        ([1.0], TypeError, "float"),
        ([True, 1], TypeError, "bool"),
        ([70000], ValueError, "<= 65535"),
        ([[1, 2]], ValueError, "1-D"),
        ("123", TypeError, "1-D sequence"),
        (np.array([[1, 2], [3, 4]]), ValueError, "1-D"),
        (np.array([1, -3]), ValueError, "must be >= 0"),
        ([1, "2"], TypeError, "integer"),
    ],
)
def test_bad_weights_are_rejected(weights, error, message):
    with pytest.raises(error, match=message):
        WRR(weights=weights)


def test_numpy_integer_weights_are_accepted():
    s = WRR(weights=np.array([4, 3, 2], dtype=np.uint16))
    assert s.pick() == 0


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda s: s.set_weight(0, -1), ValueError, ">= 0"),
        (lambda s: s.set_weight(0, math.nan), ValueError, "NaN"),
        (lambda s: s.set_weight(0, 1.5), TypeError, "float"),
        (lambda s: s.set_weight(7, 1), UnknownBackend, "no backend with id 7"),
        (lambda s: s.set_weight(-1, 1), UnknownBackend, "no backend with id -1"),
        (lambda s: s.set_weight("0", 1), TypeError, "backend id"),
        (lambda s: s.set_weights([1, 2]), ValueError, "2 entries but the pool has 3"),
        (lambda s: s.set_weights([1, 2, -5]), ValueError, r"weights\[2\]"),
        (lambda s: s.add_backend(weight=-2), ValueError, ">= 0"),
        (lambda s: s.add_backend(weight=1, address="10.0.0.300"), ValueError, "10.0.0.300"),
        (lambda s: s.add_backend(weight=1, u_threshold=-1), ValueError, "u_threshold"),
        (lambda s: s.remove_backend(3), UnknownBackend, "id 3"),
        (lambda s: s.release(2), ValueError, "no active connection"),
        (lambda s: s.release(9), UnknownBackend, "id 9"),
        (lambda s: s.pool.activate(0), ValueError, "no inactive connection"),
        (lambda s: s.pool.deactivate(1), ValueError, "no active connection"),
        (lambda s: s.pool.set_thresholds(0, upper=-3), ValueError, "upper"),
        (lambda s: s.pick(now=math.nan), ValueError, "finite"),
        (lambda s: s.pick(key="not-an-address"), ValueError, "not-an-address"),
        (lambda s: s.pick_many(-1), ValueError, ">= 0"),
        (lambda s: s.pick_many(np.array([1.5, 2.0])), TypeError, "dtype"),
        (lambda s: s.pick_many(np.array([1, 2**33])), ValueError, r"keys\[1\]"),
        (lambda s: s.pick_many(3, now=np.array([0.0, 1.0])), ValueError, "3 connections"),
    ],
)
def test_rejected_calls_leave_state_unchanged(call, error, message):
    s = WRR(weights=[3, 2, 1])
    s.pick()
    s.pick()
    snap = snapshot(s)
    with pytest.raises(error, match=message):
        call(s)
    assert_unchanged(s, snap)


def test_set_weights_with_a_removed_backend_changes_nothing():
    s = WRR(weights=[3, 2, 1])
    s.remove_backend(1)
    snap = snapshot(s)
    with pytest.raises(UnknownBackend, match="backend 1 was removed"):
        s.set_weights([5, 9, 1])
    assert_unchanged(s, snap)
    s.set_weights([5, 2, 1])  # unchanged entry for the removed backend is fine
    assert s.weights.tolist() == [5, 2, 1]


def test_removed_backend_drains():
    s = WRR(weights=[1, 1])
    b = s.pick()
    s.remove_backend(b)
    assert s.pool.removed[b]
    s.release(b)  # allowed: IPVS keeps counting down connections of a deleted dest
    with pytest.raises(UnknownBackend, match="removed"):
        s.set_weight(b, 1)
    with pytest.raises(UnknownBackend, match="removed"):
        s.remove_backend(b)


def test_views_are_read_only():
    s = WRR(weights=[1, 2])
    for view in (s.weights, s.active_conns, s.inactive_conns, s.list_order):
        with pytest.raises(ValueError):
            view[0] = 5


def test_empty_pool_and_ids_are_stable():
    s = WRR()
    with pytest.raises(NoBackendAvailable, match="empty"):
        s.pick()
    assert s.pick_many(2).tolist() == [-1, -1]
    a = s.add_backend(2)
    b = s.add_backend(1)
    assert (a, b) == (0, 1)
    s.remove_backend(0)
    c = s.add_backend(1)
    assert c == 2  # ids are never reused


def test_ipvs_life_cycle_counters():
    s = WRR(weights=[1], new_conns="inactive")
    s.pick()
    assert (s.active_conns[0], s.inactive_conns[0]) == (0, 1)  # new connections start inactive
    s.pool.activate(0)  # handshake done: ESTABLISHED
    assert (s.active_conns[0], s.inactive_conns[0]) == (1, 0)
    s.pool.deactivate(0)  # FIN
    s.release(0)  # timer expired; leaves inactconns
    assert (s.active_conns[0], s.inactive_conns[0]) == (0, 0)


def test_overload_thresholds_follow_ipvs_rules():
    p = Pool([1], u_thresholds=[4], l_thresholds=[0])
    s = lbalgo.RR(pool=p)
    for _ in range(4):
        s.pick()
    assert p.overloaded[0]  # total 4 >= upper 4
    s.release(0)
    assert p.overloaded[0]  # 3*4 = 12 is not < 4*3 = 12
    s.release(0)
    assert not p.overloaded[0]
    p2 = Pool([1], u_thresholds=[4], l_thresholds=[3])
    s2 = lbalgo.RR(pool=p2)
    for _ in range(4):
        s2.pick()
    s2.release(0)
    assert p2.overloaded[0]  # with a lower threshold: cleared only when total < 3
    s2.release(0)
    assert not p2.overloaded[0]


def test_set_thresholds_clears_overload_when_raised_or_removed():
    s = lbalgo.RR(weights=[1], u_thresholds=[1])
    s.pick()
    assert s.pool.overloaded[0]
    s.pool.set_thresholds(0, upper=1)
    assert s.pool.overloaded[0]  # same threshold: flag kept
    s.pool.set_thresholds(0, upper=5)
    assert not s.pool.overloaded[0]


def test_shared_pool_rejects_pool_options():
    p = Pool([1, 2])
    with pytest.raises(ValueError, match="weights"):
        WRR([1], pool=p)
    with pytest.raises(TypeError, match="lbalgo.Pool"):
        WRR(pool=[1, 2])


def test_registry():
    assert lbalgo.get("wrr") is WRR
    assert lbalgo.get("WRR") is WRR
    assert lbalgo.get("roundrobin") is lbalgo.RR
    with pytest.raises(KeyError, match="known:"):
        lbalgo.get("nope")
