"""IPVS rr and wrr: exact pick sequences (Linux net/netfilter/ipvs/ip_vs_rr.c, ip_vs_wrr.c)."""

import numpy as np
import pytest

from lbalgo import RR, WRR, NoBackendAvailable


def picks(s, n):
    return [s.pick() for _ in range(n)]


# --- rr -----------------------------------------------------------------------------

def test_rr_cycles_in_list_order_and_skips_weight_zero():
    s = RR(weights=[1, 0, 7, 1])
    assert picks(s, 7) == [0, 2, 3, 0, 2, 3, 0]


def test_rr_weight_magnitude_is_irrelevant():
    assert picks(RR([5, 1, 1]), 6) == [0, 1, 2, 0, 1, 2]


def test_rr_add_goes_to_the_head_and_is_reached_on_wrap():
    s = RR([1, 1, 1])
    assert picks(s, 2) == [0, 1]
    new = s.add_backend(1)  # IPVS list_add_rcu: new dest at the head
    assert new == 3
    assert list(s.list_order) == [3, 0, 1, 2]
    # cursor stays on 1: next 2, then wrap to the head (3), then 0
    assert picks(s, 5) == [2, 3, 0, 1, 2]


def test_rr_delete_under_cursor_continues_with_the_follower():
    s = RR([1, 1, 1, 1])
    assert picks(s, 2) == [0, 1]
    s.remove_backend(1)  # cursor was on 1: moves back to 0, next is 2
    assert picks(s, 3) == [2, 3, 0]


def test_rr_delete_before_cursor_keeps_position():
    s = RR([1, 1, 1, 1])
    assert picks(s, 3) == [0, 1, 2]
    s.remove_backend(0)
    assert picks(s, 3) == [3, 1, 2]


def test_rr_delete_of_first_dest_under_cursor_returns_to_head():
    s = RR([1, 1, 1])
    assert picks(s, 1) == [0]
    s.remove_backend(0)
    assert s.cursor == -1
    assert picks(s, 3) == [1, 2, 1]


def test_rr_edits_do_not_move_the_cursor():
    s = RR([1, 1, 1])
    assert picks(s, 2) == [0, 1]
    s.set_weight(0, 0)
    s.set_weight(0, 3)
    assert picks(s, 2) == [2, 0]


def test_rr_quiesce_and_restore():
    s = RR([1, 1, 1])
    s.set_weight(1, 0)
    assert picks(s, 4) == [0, 2, 0, 2]
    s.set_weight(1, 1)  # cursor is still on 2: wrap to the head
    assert picks(s, 3) == [0, 1, 2]


def test_rr_overloaded_backend_is_skipped_until_it_drains():
    s = RR([1, 1], u_thresholds=[2, 0])
    assert picks(s, 3) == [0, 1, 0]  # backend 0 now has 2 connections = upper threshold
    assert s.pool.overloaded[0]
    assert picks(s, 2) == [1, 1]
    s.release(0)  # 1 connection: 1*4 < 2*3 clears the flag
    assert not s.pool.overloaded[0]
    assert picks(s, 2) == [0, 1]


def test_rr_nothing_available_leaves_cursor():
    s = RR([0, 0])
    with pytest.raises(NoBackendAvailable, match="weight 0"):
        s.pick()
    assert s.cursor == -1
    assert (s.pick_many(3) == -1).all()


# --- wrr ----------------------------------------------------------------------------

@pytest.mark.parametrize(
    "weights, expected",
    [
        ([4, 3, 2], [0, 0, 1, 0, 1, 2, 0, 1, 2]),  # LVS wiki: AABABCABC
        ([5, 1, 1], [0, 0, 0, 0, 0, 1, 2]),
        ([1, 2], [1, 0, 1, 1, 0, 1]),
        ([2, 2, 2], [0, 1, 2, 0, 1, 2]),  # equal weights: identical to rr
        ([4, 2, 6], [2, 0, 2, 0, 1, 2]),  # gcd 2: passes with cw = 6, 4, 2 (mw = 6 - 1 = 5 -> 5, 3, 1)
        ([3, 0, 1], [0, 0, 0, 2]),
    ],
)
def test_wrr_one_period(weights, expected):
    s = WRR(weights=weights)
    assert picks(s, len(expected)) == expected
    assert picks(s, len(expected)) == expected  # periodic


def test_wrr_incremental_build_starts_with_a_full_pass():
    # ip_vs_wrr_dest_changed (ip_vs_wrr.c) after each add: built one destination at a time, cw starts at 1.
    s = WRR(weights=[4, 3, 2], incremental=True)
    assert picks(s, 18) == [0, 1, 2, 0, 0, 1, 0, 1, 2, 0, 1, 2] + [0, 0, 1, 0, 1, 2]


def test_wrr_incremental_with_first_added_weight_zero():
    # Adds run 2 (w=0: mw = 0, cw stays 0), 1 (mw = 1, cw = mw = 1), 0 (mw = 2, cw stays 1).
    s = WRR(weights=[2, 1, 0], incremental=True)
    assert s.current_weight == 1
    assert picks(s, 6) == [0, 1, 0, 0, 1, 0]


def test_wrr_every_edit_resets_the_cursor_even_a_no_op():
    s = WRR(weights=[1, 1, 1])
    assert picks(s, 2) == [0, 1]
    s.set_weight(2, 1)  # no change, but upd_dest runs: cursor back to head
    assert picks(s, 3) == [0, 1, 2]


def test_wrr_update_snaps_cw_to_the_new_gcd_grid():
    s = WRR(weights=[4, 2])  # di=2, mw=3, cw starts at 3
    assert picks(s, 1) == [0]  # pass cw=3
    assert s.current_weight == 3
    s.set_weight(1, 4)  # di=4, mw=1, cw 3 > mw -> cw = 1
    assert s.current_weight == 1
    s2 = WRR(weights=[6, 3])  # di=3, mw=4
    assert picks(s2, 1) == [0]
    assert s2.current_weight == 4
    s2.set_weight(1, 9)  # di=3, mw=7: cw=4 stays below mw -> (4//3)*3+1 = 4
    assert s2.current_weight == 4


def test_wrr_all_overloaded_returns_none_after_a_full_pass():
    s = WRR(weights=[2, 1], u_thresholds=[1, 1])
    assert picks(s, 2) == [0, 1]
    with pytest.raises(NoBackendAvailable, match="overloaded"):
        s.pick()
    s.release(0)
    assert s.pick() == 0


def test_wrr_quiesce_and_restore():
    s = WRR(weights=[3, 1])
    s.set_weight(0, 0)  # mw = 1, so cw (3) snaps to 1
    assert picks(s, 3) == [1, 1, 1]
    s.set_weight(0, 3)  # mw = 3 but cw stays 1: a cw=1 pass first, then 3, 2, 1
    assert picks(s, 6) == [0, 1, 0, 0, 0, 1]


def test_wrr_add_backend_resets_and_inserts_at_head():
    s = WRR(weights=[2, 1])
    assert picks(s, 2) == [0, 0]
    b = s.add_backend(2)
    assert list(s.list_order) == [b, 0, 1]
    # cursor at head, cw unchanged (1 <= mw = 2): the cw=1 pass, then the period from cw=2
    assert picks(s, 6) == [2, 0, 1, 2, 0, 2]


def test_pick_many_equals_repeated_pick():
    a, b = WRR([5, 3, 2, 0, 1]), WRR([5, 3, 2, 0, 1])
    assert a.pick_many(1000).tolist() == picks(b, 1000)
    assert np.array_equal(a.active_conns, b.active_conns)
