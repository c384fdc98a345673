"""The simulator against queueing theory (FIFO backends, exponential service).

Setup for every check: ``n`` backends with one server each (speed 1), work
exponential with mean 1 (mu = 1), Poisson arrivals at total rate ``n * rho``.
The numbers measured with these seeds are in ``docs/simulator.md``.

- Random (uniform) routing splits a Poisson stream into independent Poisson
  streams: every backend is an M/M/1 queue, mean sojourn ``1 / (mu - lambda)``.
- Round robin gives each backend every n-th arrival: Erlang-n gaps, an
  E_n/M/1 queue. Mean sojourn ``1 / (mu (1 - sigma))`` with sigma the root in
  (0, 1) of ``sigma = (L / (L + mu (1 - sigma)))**n``, ``L = n * lambda``.
- Least connection is join-the-shortest-queue here (a connection is counted
  from arrival to departure), which is better than round robin, which is
  better than random (Winston 1977; Ephremides, Varaiya and Walrand 1980).
- Power of two choices (IPVS twos) approaches the supermarket model as the
  pool grows (Mitzenmacher 2001; Vvedenskaya et al. 1996): the fraction of
  queues with at least i jobs is ``lambda**(2**i - 1)``, so by Little's law
  the mean sojourn is ``sum_{i>=1} lambda**(2**i - 1) / lambda``.
- Processor sharing is insensitive (Kleinrock): with random routing each
  backend is M/G/1-PS and ``E[T | w] = w / (1 - rho)`` for any work
  distribution; checked with lognormal work (sigma 1).

Tolerances are a few standard errors of the batch mean for these run lengths
(the runs are seeded, so the results are fixed numbers).
"""

import numpy as np
import pytest

from lbalgo import LC, RR, TWOS, Random, simulate
from lbalgo import workloads as W

CONNS = 400_000


def mean_sojourn(sched, n, rho, conns=CONNS, seed=1):
    wl = W.Workload(arrivals=W.poisson(rate=n * rho), n=conns, lifetimes=W.exponential(mean=1.0), seed=seed)
    res = simulate(sched, wl, service="fifo")
    assert res.drops == 0 and not sched.active_conns.any()
    return float(np.mean(res.trace.sojourn)), float(np.mean(res.trace.wait))


def en_m_1_sojourn(n, rho):
    """Mean sojourn of E_n/M/1 with per-queue rate rho and mu = 1."""
    from scipy.optimize import brentq

    total = n * rho
    sigma = brentq(lambda s: s - (total / (total + 1 - s)) ** n, 0.0, 1 - 1e-12)
    return 1 / (1 - sigma)


def supermarket_sojourn(lam):
    return sum(lam ** (2**i - 1) for i in range(1, 64)) / lam


@pytest.mark.parametrize("rho", [0.5, 0.7])
def test_random_routing_is_m_m_1(rho):
    t, w = mean_sojourn(Random(weights=[1] * 4, weighted=False, seed=2), 4, rho, seed=11)
    assert t == pytest.approx(1 / (1 - rho), rel=0.05)
    assert w == pytest.approx(rho / (1 - rho), rel=0.07)


def test_round_robin_is_e_n_m_1():
    t, _ = mean_sojourn(RR(weights=[1] * 4), 4, 0.7, seed=12)
    assert t == pytest.approx(en_m_1_sojourn(4, 0.7), rel=0.05)


def test_lc_beats_rr_beats_random():
    n, rho = 4, 0.8
    lc = mean_sojourn(LC(weights=[1] * n), n, rho, seed=13)[0]
    rr = mean_sojourn(RR(weights=[1] * n), n, rho, seed=13)[0]
    rnd = mean_sojourn(Random(weights=[1] * n, seed=2), n, rho, seed=13)[0]
    assert lc < 0.8 * rr and rr < 0.8 * rnd
    assert rnd == pytest.approx(1 / (1 - rho), rel=0.06)


@pytest.mark.slow
def test_power_of_two_choices_approaches_the_supermarket_model():
    lam = 0.9
    limit = supermarket_sojourn(lam)  # 2.614
    small = mean_sojourn(TWOS(weights=[1] * 10, seed=3), 10, lam, seed=14)[0]
    large = mean_sojourn(TWOS(weights=[1] * 300, seed=3), 300, lam, seed=14)[0]
    assert limit < large < small
    assert large == pytest.approx(limit, rel=0.05)
    # ... and is far better than random routing (M/M/1: 10.0)
    assert small < 0.4 / (1 - lam)


def test_processor_sharing_is_insensitive():
    # M/G/1-PS: E[T | work w] = w / (1 - rho) whatever the work distribution,
    # so the mean sojourn is 1 / (1 - rho) and the mean slowdown T / w too.
    n, rho = 4, 0.7
    wl = W.Workload(arrivals=W.poisson(rate=n * rho), n=CONNS, lifetimes=W.lognormal(mean=1.0, sigma=1.0),
                    seed=15)
    res = simulate(Random(weights=[1] * n, weighted=False, seed=2), wl, service="ps")
    life = wl.generate().lifetime
    assert np.mean(res.trace.sojourn) == pytest.approx(1 / (1 - rho), rel=0.05)
    assert np.mean(res.trace.sojourn / life) == pytest.approx(1 / (1 - rho), rel=0.05)
