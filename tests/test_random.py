"""Random, kube-proxy iptables cascade, nftables numgen: distributions and exact values."""

import numpy as np
import pytest
from scipy import stats

from lbalgo import IptablesCascade, NftNumgen, Random
from lbalgo.schedulers.kube_random import (
    iptables_shares,
    nftables_shares,
    probability_int,
    probability_string,
)
from tests.support import cascade_shares, numgen_shares

# A chi-square test at this level fails by chance once in a million runs; with
# fixed seeds the outcome is deterministic anyway.
ALPHA = 1e-6


def chi2_pvalue(ids, probs):
    observed = np.bincount(ids, minlength=len(probs))
    expected = np.asarray(probs) * len(ids)
    mask = expected > 0
    assert observed[~mask].sum() == 0, "picked a backend with probability 0"
    if mask.sum() == 1:
        return 1.0  # a single possible outcome: nothing to test beyond the line above
    return stats.chisquare(observed[mask], expected[mask]).pvalue


@pytest.mark.parametrize("weights", [[4, 3, 2, 1], [1, 0, 5], [7], [1] * 10, [65535, 1, 300]])
def test_random_weighted_proportions(weights):
    s = Random(weights=weights, seed=11)
    ids = s.pick_many(400_000)
    probs = np.array(weights) / sum(weights)
    assert chi2_pvalue(ids, probs) > ALPHA


def test_random_uniform_mode_ignores_magnitude():
    s = Random(weights=[9, 1, 0, 3], weighted=False, seed=2)
    ids = s.pick_many(300_000)
    assert chi2_pvalue(ids, [1 / 3, 1 / 3, 0, 1 / 3]) > ALPHA


def test_random_skips_overloaded_backends_with_exact_conditional_distribution():
    s = Random(weights=[1, 2, 3], u_thresholds=[1, 0, 0], seed=5)
    while s.pool.active_conns[0] == 0:
        s.pick()
    assert s.pool.overloaded[0]
    ids = s.pick_many(200_000)
    assert chi2_pvalue(ids, [0, 2 / 5, 3 / 5]) > ALPHA


def test_random_same_seed_same_trace_different_seed_different_trace():
    a = Random([3, 2, 1], seed=42).pick_many(1000)
    b = Random([3, 2, 1], seed=42).pick_many(1000)
    c = Random([3, 2, 1], seed=43).pick_many(1000)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_random_pool_growth_keeps_the_stream():
    s = Random([1, 1], seed=9)
    for _ in range(40):  # forces the table (and the state arrays) to grow
        s.add_backend(1)
    ids = s.pick_many(100_000)
    assert chi2_pvalue(ids, np.full(42, 1 / 42)) > ALPHA


# --- kube-proxy iptables ----------------------------------------------------------------

def test_probability_strings_as_kube_proxy_writes_them():
    # computeProbability in kube-proxy's pkg/proxy/iptables/proxier.go: Go %0.10f of 1/(n-i)
    assert [probability_string(m) for m in (2, 3, 4, 5, 6, 7)] == [
        "0.5000000000", "0.3333333333", "0.2500000000", "0.2000000000", "0.1666666667", "0.1428571429"]


@pytest.mark.parametrize("n", range(1, 11))
def test_iptables_rules_for_n_endpoints(n):
    s = IptablesCascade(weights=[1] * n)
    rules = s.rules()
    assert len(rules) == n and rules[-1] == ""
    assert rules[:-1] == [f"{1 / (n - i):.10f}" for i in range(n - 1)]


def test_iptables_quantisation_matches_iptables_save():
    # iptables-save prints p_int / 2**31 with 11 decimals (print_match, iptables' libxt_statistic.c)
    shown = {m: f"{probability_int(m) / 2**31:.11f}" for m in (2, 3, 5, 6, 7)}
    assert shown == {2: "0.50000000000", 3: "0.33333333349", 5: "0.20000000019",
                     6: "0.16666666651", 7: "0.14285714272"}


def test_iptables_realised_shares_have_the_tiny_bias():
    shares = iptables_shares(3)
    assert shares[0] == pytest.approx(0.3333333335, abs=1e-10)
    assert shares[1] == pytest.approx(0.3333333333, abs=1e-10)
    assert shares[0] > 1 / 3 > shares[2]
    for n in range(1, 12):
        sh = iptables_shares(n)
        # the cascade of rules 1/(n-i), as kube-proxy prints them and iptables stores them
        exact = cascade_shares([f"{1 / (n - i):.10f}" for i in range(n - 1)])
        assert sh == pytest.approx([float(x) for x in exact], rel=1e-14, abs=0)
        assert sum(sh) == pytest.approx(1.0, abs=1e-15)
        assert max(abs(x - 1 / n) for x in sh) < 3e-10


def test_iptables_distribution_matches_the_cascade():
    s = IptablesCascade(weights=[1] * 5, seed=3)
    exact = [float(x) for x in cascade_shares(s.rules()[:-1])]
    ids = s.pick_many(500_000)
    assert chi2_pvalue(ids, exact) > ALPHA
    assert s.shares().tolist() == pytest.approx(exact, rel=1e-14, abs=0)
    s.set_weight(1, 0)  # four endpoints left; the quiesced one gets no rule and no share
    exact = [float(x) for x in cascade_shares(s.rules()[:-1])]
    assert s.shares().tolist() == pytest.approx([exact[0], 0.0, *exact[1:]], rel=1e-14, abs=0)


def test_iptables_weight_zero_endpoint_gets_no_rule():
    s = IptablesCascade(weights=[1, 0, 1], seed=1)
    assert s.rules() == ["0.5000000000", ""]
    assert set(s.pick_many(1000).tolist()) == {0, 2}


def test_iptables_orders_added_endpoints_by_ip_port_string():
    s = IptablesCascade(weights=[1, 1], addresses=["10.244.2.31:8080", "10.244.2.5:8080"])
    b = s.add_backend(1, address="10.244.2.4:8080")
    # "10.244.2.4:8080" sorts between "...2.31:8080" and "...2.5:8080" as a string
    assert list(s.list_order) == [0, b, 1]


# --- kube-proxy nftables ----------------------------------------------------------------

def test_nftables_reciprocal_scale_shares():
    assert nftables_shares(2) == [0.5, 0.5]
    sh = nftables_shares(3)  # 2**32 = 3 * 1431655765 + 1: index 0 owns the extra value
    assert sh[0] == 1431655766 / 2**32 and sh[1] == sh[2] == 1431655765 / 2**32
    for n in range(1, 12):
        assert nftables_shares(n) == [float(x) for x in numgen_shares(n)]


def test_nftables_distribution():
    s = NftNumgen(weights=[1] * 7, seed=4)
    exact = [float(x) for x in numgen_shares(7)]
    ids = s.pick_many(350_000)
    assert chi2_pvalue(ids, exact) > ALPHA
    assert s.shares().tolist() == exact
