"""IPVS lc, wlc, sed, nq, fo, ovf, twos: exact decisions.

Expected sequences are derived by hand from the Linux sources
(net/netfilter/ipvs/ip_vs_{lc,wlc,sed,nq,fo,ovf,twos}.c and ip_vs_core.c; the
rules in the project's words are in docs/algorithms/connection.md); the comments give the
counters each decision sees.
"""

import numpy as np
import pytest
from scipy import stats

from lbalgo import FO, LC, NQ, OVF, SED, TWOS, WLC, NoBackendAvailable
from lbalgo._table import ACTIVE, SLOT
from tests.reference import REFERENCES


def picks(s, n):
    return [s.pick() for _ in range(n)]


# --- lc ---------------------------------------------------------------------------------

def test_lc_ties_go_to_the_earlier_backend():
    assert picks(LC([1, 1, 1]), 7) == [0, 1, 2, 0, 1, 2, 0]


def test_lc_ignores_weight_magnitude_but_not_weight_zero():
    assert picks(LC([5, 1]), 4) == [0, 1, 0, 1]
    assert picks(LC([0, 1, 1]), 4) == [1, 2, 1, 2]


def test_lc_new_backend_at_the_head_wins_the_tie():
    s = LC([1, 1])
    assert picks(s, 2) == [0, 1]
    new = s.add_backend(1)
    assert list(s.list_order) == [new, 0, 1]
    assert picks(s, 4) == [new, new, 0, 1]  # 0 conns, then all at 1: head first


def test_lc_an_active_connection_weighs_256_inactive_ones():
    s = LC([1, 1], new_conns="inactive")
    assert s.pick() == 0  # overhead 0 + 1 inactive
    s.pool.activate(0)  # backend 0: 1 active = 256
    # backend 1 takes connections until its 256 inactive tie with 0; the tie goes to 0
    assert list(s.pick_many(257)) == [1] * 256 + [0]


def test_lc_overload_set_by_threshold_and_cleared_by_release():
    s = LC([1, 1], u_thresholds=[2, 0])
    assert picks(s, 3) == [0, 1, 0]  # backend 0 reaches 2 = upper: overloaded
    assert s.pool.overloaded[0]
    assert picks(s, 2) == [1, 1]
    s.release(0)  # 1 conn: 1*4 < 2*3 clears the flag
    assert picks(s, 1) == [0]


def test_lc_overload_cleared_by_raising_the_threshold():
    s = LC([1, 1], u_thresholds=[1, 0])
    assert picks(s, 3) == [0, 1, 1]
    s.pool.set_thresholds(0, upper=5)  # larger upper threshold clears OVERLOAD
    assert picks(s, 1) == [0]
    s2 = LC([1, 1], u_thresholds=[1, 0])
    assert picks(s2, 2) == [0, 1]
    s2.pool.set_thresholds(0, upper=1)  # same upper: flag stays
    assert picks(s2, 1) == [1]


def test_lc_lower_threshold_decides_when_the_flag_clears():
    s = LC([1, 1], u_thresholds=[3, 0], l_thresholds=[1, 0])
    s.pick_many(5)  # 0,1,0,1,0: backend 0 has 3 = upper
    assert s.pool.overloaded[0]
    s.release(0)
    s.release(0)  # 1 left, not < lower 1: still overloaded
    assert s.pool.overloaded[0]
    s.release(0)
    assert not s.pool.overloaded[0]


@pytest.mark.parametrize("cls", [LC, WLC, SED, NQ, FO, OVF, TWOS])
def test_nothing_qualifies(cls):
    s = cls([0, 0])
    with pytest.raises(NoBackendAvailable):
        s.pick()
    assert list(s.pick_many(3)) == [-1, -1, -1]
    s = cls([1, 2], u_thresholds=[1, 1])
    s.pick_many(2)
    assert s.pool.overloaded.all()
    assert s.pick_many(1)[0] == -1
    with pytest.raises(NoBackendAvailable):
        cls([]).pick()


# --- wlc --------------------------------------------------------------------------------

def test_wlc_hand_derived_sequence():
    # conns (3,1,2 weights): 000 -> 0 | 100 -> 1 | 110 -> 2 | 111 -> 0 | 211 -> 2 (2/3 > 1/2)
    # 212 -> 0 (2/3 < 2/2) | 312 -> 0 (ties 3/3 = 1/1 = 2/2 keep 0) | 412 -> 1
    assert picks(WLC([3, 1, 2]), 8) == [0, 1, 2, 0, 2, 0, 0, 1]


def test_wlc_weight_zero_never_wins_even_unloaded():
    s = WLC([1, 0])
    assert picks(s, 3) == [0, 0, 0]
    assert picks(WLC([0, 1]), 2) == [1, 1]


def test_wlc_equal_weights_is_lc():
    a, b = WLC([4, 4, 4]), LC([4, 4, 4])
    assert list(a.pick_many(50)) == list(b.pick_many(50))


def test_wlc_inactive_counts_one_active_256():
    s = WLC([1, 2], new_conns="inactive")
    assert picks(s, 2) == [0, 1]  # 0/1 vs 0/2 -> 0; then 1/1 > 0/2 -> 1
    s.pool.activate(1)  # backend 1: 256 per weight 2
    # backend 0 (weight 1, overhead h) wins while h*2 > 256 is false: h = 1..128, then 1
    assert list(s.pick_many(129)) == [0] * 128 + [1]


def test_wlc_overloaded_first_candidate_is_skipped():
    s = WLC([1, 1], u_thresholds=[1, 0])
    assert picks(s, 3) == [0, 1, 1]


# --- sed / nq -------------------------------------------------------------------------

def test_sed_hand_derived_sequence():
    # active (w 1,2): 00 -> 1 (1*2 > 1*1) | 01 -> 0 (1*2 = 2*1 tie) | 11 -> 1 | 12 -> 1 | 13 -> 0
    assert picks(SED([1, 2]), 5) == [1, 0, 1, 1, 0]


def test_sed_udp_always_returns_the_first_max_weight_backend():
    s = SED([1, 3, 3, 2], new_conns="inactive")
    assert set(s.pick_many(100)) == {1}


def test_sed_ignores_inactive_connections():
    s = SED([1, 1], new_conns="inactive")
    s.pick_many(10)
    assert list(s.inactive_conns) == [10, 0]


def test_nq_hand_derived_sequence():
    # idle first: 0, then 1 (0 busy, 1 idle); then (w 1,3): 11 -> 1 (2*3 > 2*1)
    # 12 -> 1 (6 > 3) | 13 -> 1 (6 > 4) | 14 -> 1 (6 > 5) | 15 -> 0 (6 = 6 tie)
    assert picks(NQ([1, 3]), 7) == [0, 1, 1, 1, 1, 1, 0]


def test_nq_idle_later_backend_beats_busy_earlier_one():
    s = NQ([5, 1])
    assert picks(s, 2) == [0, 1]


def test_nq_udp_always_returns_the_first_non_quiesced_backend():
    s = NQ([0, 2, 5], new_conns="inactive")
    assert set(s.pick_many(50)) == {1}


# --- fo / ovf -------------------------------------------------------------------------

def test_fo_highest_weight_ties_to_earlier_and_overload_fails_over():
    s = FO([1, 3, 3, 2], u_thresholds=[0, 2, 0, 0])
    assert picks(s, 4) == [1, 1, 2, 2]
    s.release(1)
    s.release(1)
    assert s.pick() == 1
    assert picks(FO([0, 0, 1]), 2) == [2, 2]


def test_ovf_weight_is_a_capacity_of_weight_plus_one_active():
    s = OVF([2, 1])
    assert list(s.pick_many(6)) == [0, 0, 0, 1, 1, -1]
    s.release(0)
    assert s.pick() == 0


def test_ovf_udp_never_overflows():
    assert set(OVF([2, 1], new_conns="inactive").pick_many(20)) == {0}


def test_ovf_threshold_overload_is_skipped():
    assert list(OVF([5, 1], u_thresholds=[1, 0]).pick_many(3)) == [0, 1, 1]


# --- twos -----------------------------------------------------------------------------

def twos_first_choice_probabilities(weights):
    w = np.array(weights, dtype=float)
    p = w.copy()
    p[np.flatnonzero(w > 0)[0]] += 1  # the +1 goes to the first candidate
    return p / (w.sum() + 1)


def twos_probabilities(weights, conns):
    """Exact law of the twos decision with fixed active counts (new_conns='active')."""
    p = twos_first_choice_probabilities(weights)
    out = np.zeros(len(weights))
    for i in range(len(weights)):
        for j in range(len(weights)):
            oh_i, oh_j = conns[i] * 256, conns[j] * 256
            k = j if weights[j] * oh_i > weights[i] * oh_j else i
            out[k] += p[i] * p[j]
    return out


def run_twos(weights, preload, n, seed=3):
    s = TWOS(weights, seed=seed)
    for b, c in enumerate(preload):
        s.pool.table[ACTIVE, s.pool.table[SLOT, b]] = c  # fixed active counts, kept by releasing every pick
    counts = np.zeros(len(weights))
    for _ in range(n):
        b = s.pick()
        s.release(b)  # keep the counters fixed
        counts[b] += 1
    return counts


def test_twos_first_candidate_gets_w_plus_one():
    # All loads equal: choice1 always wins, so the law is (w1+1, w2, ...) / (sum + 1).
    weights = [2, 0, 3, 1]
    n = 40_000
    counts = run_twos(weights, [0, 0, 0, 0], n)
    p = twos_first_choice_probabilities(weights)
    assert counts[1] == 0
    mask = p > 0
    # 3 degrees of freedom: p > 1e-4 fails only when the generator is wrong
    assert stats.chisquare(counts[mask], p[mask] * n).pvalue > 1e-4


def test_twos_less_loaded_choice_wins():
    weights, conns = [1, 2, 4], [3, 1, 6]
    n = 40_000
    counts = run_twos(weights, conns, n, seed=11)
    p = twos_probabilities(weights, conns)
    assert stats.chisquare(counts, p * n).pvalue > 1e-4


def test_twos_same_seed_same_trace_as_reference():
    for seed in (0, 1, 99):
        s = TWOS([3, 1, 2, 5], seed=seed)
        r = REFERENCES["twos"]([3, 1, 2, 5], seed=seed)
        assert list(s.pick_many(300)) == [r.pick() for _ in range(300)]
    a = TWOS([1] * 8, seed=1).pick_many(50)
    b = TWOS([1] * 8, seed=2).pick_many(50)
    assert list(a) != list(b)
