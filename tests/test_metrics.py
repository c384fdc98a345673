"""Metrics against hand-computed values, and Hypothesis properties."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lbalgo.metrics import (
    active_over_time,
    affinity_hit_ratio,
    chi_square_test,
    coefficient_of_variation,
    g_test,
    imbalance_over_time,
    jain_index,
    latency_percentiles,
    max_over_mean,
)


def test_dispersion_hand_computed():
    # loads 2, 4, 6: mean 4, population std sqrt(8/3)
    assert coefficient_of_variation([2, 4, 6]) == pytest.approx(math.sqrt(8 / 3) / 4)
    assert max_over_mean([2, 4, 6]) == pytest.approx(1.5)
    # weight-normalised: 2/1, 4/2, 6/3 are all 2 -> perfectly even
    assert coefficient_of_variation([2, 4, 6], [1, 2, 3]) == 0.0
    assert max_over_mean([2, 4, 6], [1, 2, 3]) == 1.0
    # weight-0 backends are left out
    assert max_over_mean([3, 1, 100], [1, 1, 0]) == pytest.approx(1.5)
    assert coefficient_of_variation([0, 0]) == 0.0 and max_over_mean([0, 0]) == 1.0
    with pytest.raises(ValueError):
        max_over_mean([1, 2], [1, 2, 3])
    with pytest.raises(ValueError):
        coefficient_of_variation([-1, 2])


def test_chi_square_and_g_test_hand_computed():
    counts, weights = [30, 10, 20], [1, 1, 1]  # expected 20 each
    chi, p = chi_square_test(counts, weights)
    assert chi == pytest.approx((100 + 100 + 0) / 20)  # 10
    assert p == pytest.approx(math.exp(-10 / 2))  # chi-square with 2 dof: survival = exp(-x/2)
    g, pg = g_test(counts, weights)
    expect = 2 * (30 * math.log(30 / 20) + 10 * math.log(10 / 20))
    assert g == pytest.approx(expect) and pg == pytest.approx(math.exp(-expect / 2))
    # weights 3:1, counts exactly proportional
    assert chi_square_test([300, 100], [3, 1]) == (0.0, 1.0)
    # a connection on a weight-0 backend is impossible under the weights
    assert chi_square_test([5, 5, 1], [1, 1, 0]) == (math.inf, 0.0)
    assert g_test([5, 5, 0], [1, 1, 0])[1] == pytest.approx(1.0)
    assert chi_square_test([7], [2]) == (0.0, 1.0)


def test_active_over_time_hand_computed():
    arrival = np.array([0.0, 1.0, 1.5, 2.0, 3.0])
    end = np.array([2.0, 4.0, 1.5, 5.0, np.nan])
    backend = np.array([0, 1, 0, 0, -1])
    times = np.array([0.0, 1.0, 1.5, 2.0, 4.0, 5.0])
    a = active_over_time(arrival, end, backend, 2, times)
    # open means arrival <= t < end; the zero-length connection at 1.5 never counts
    assert a.tolist() == [[1, 0], [1, 1], [1, 1], [1, 1], [1, 0], [0, 0]]
    imb = imbalance_over_time(a, [1, 1])
    assert imb.tolist() == [2.0, 1.0, 1.0, 1.0, 2.0, 1.0]
    assert imbalance_over_time(np.array([[2, 1]]), [2, 1]).tolist() == [1.0]


def test_latency_percentiles():
    x = np.arange(1, 101, dtype=float)
    m = latency_percentiles(np.append(x, np.nan))
    assert m["mean"] == 50.5 and m["p50"] == 50.5 and m["p90"] == pytest.approx(90.1)
    assert m["p99.9"] == pytest.approx(99.901)
    assert math.isnan(latency_percentiles(np.array([np.nan]))["mean"])
    assert set(latency_percentiles(x, [10]).keys()) == {"mean", "p10"}


def test_affinity_hit_ratio():
    clients = [1, 2, 1, 1, 2, 3, 2]
    backends = [0, 1, 0, 1, 1, 2, -1]
    # client 1: 0 -> 0 (hit), 0 -> 1 (miss); client 2: 1 -> 1 (hit), then a drop; client 3: first only
    assert affinity_hit_ratio(clients, backends) == pytest.approx(2 / 3)
    assert math.isnan(affinity_hit_ratio([1, 2], [0, 0]))


def test_affinity_hit_ratio_with_a_precomputed_order():
    rng = np.random.default_rng(3)
    clients = rng.integers(0, 50, 2000)
    backends = rng.integers(-1, 3, 2000)  # -1: dropped
    order = np.argsort(clients, kind="stable")
    assert affinity_hit_ratio(clients, backends, order) == affinity_hit_ratio(clients, backends)
    with pytest.raises(ValueError, match="order must be a permutation"):
        affinity_hit_ratio(clients, backends, order[:10])


loads = st.lists(st.floats(min_value=0, max_value=1e6, allow_nan=False), min_size=1, max_size=30)


@settings(max_examples=100)
@given(loads)
def test_jain_index_is_between_one_over_n_and_one(x):
    j = jain_index(x)
    assert 1 / len(x) - 1e-9 <= j <= 1 + 1e-9


@settings(max_examples=100)
@given(loads, st.floats(min_value=1e-3, max_value=1e3))
def test_fairness_metrics_are_scale_invariant(x, c):
    y = [v * c for v in x]
    assert jain_index(y) == pytest.approx(jain_index(x), rel=1e-9, abs=1e-12)
    assert coefficient_of_variation(y) == pytest.approx(coefficient_of_variation(x), rel=1e-6, abs=1e-9)
    assert max_over_mean(y) == pytest.approx(max_over_mean(x), rel=1e-9)


@settings(max_examples=100)
@given(st.lists(st.integers(min_value=1, max_value=50), min_size=1, max_size=20), st.integers(1, 1000))
def test_loads_in_proportion_to_weights_are_perfectly_fair(w, k):
    x = [k * v for v in w]
    assert jain_index(x, w) == pytest.approx(1.0)
    assert coefficient_of_variation(x, w) == pytest.approx(0.0, abs=1e-12)
    assert max_over_mean(x, w) == pytest.approx(1.0)
    assert chi_square_test(x, w)[1] == pytest.approx(1.0)
