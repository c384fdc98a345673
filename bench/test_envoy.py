"""Envoy balancers at 100 backends beside the plain-Python reference; Maglev vs IPVS mh; Maglev build.

Groups:

- ``envoy-<policy>``: ``pick_many`` of 1,000,000 decisions (keyed policies:
  one uint64 request hash each) at 100 backends of mixed weights, beside the
  reference on a 20,000-decision slice that must give the same decisions.
  ``extra_info['speedup']`` is reference ns / lbalgo ns per decision
  (target >= 100).
- ``maglev-vs-mh``: per-key lookups of Envoy Maglev (M = 65537) and IPVS mh
  (M = 4093) over the same 1,000,000 keys (target: Maglev within 2x of mh,
  ``extra_info['maglev_over_mh']``).
- ``envoy-maglev-build``: one full table build, M = 65537 and 1,000 hosts
  (target <= 20 ms, ``extra_info['ms_per_build']``).
"""

import numpy as np
import pytest

import lbalgo
from bench.conftest import hit_spread, mixed_weights, ns_per, paired
from lbalgo._table import EV_UPDATE
from lbalgo.schedulers.envoy._hosts import FORCE
from lbalgo.schedulers.envoy.maglev import maglev_changed
from tests.reference import REFERENCES

POLICIES = ["envoy-round-robin", "envoy-least-request", "envoy-random", "envoy-ring-hash", "envoy-maglev"]
N_BACKENDS = 100
DECISIONS = 1_000_000
REF_DECISIONS = 20_000
ADDRESSES = [f"10.1.{i // 250}.{i % 250 + 1}:8080" for i in range(N_BACKENDS)]
SPEEDUP = [("speedup", "plain-python", "lbalgo")]


def _hashes(n, seed=7):
    return np.random.default_rng(seed).integers(0, 2**64, size=n, dtype=np.uint64)


def _make(name, cls_or_ref):
    options = {"seed": 3}
    if lbalgo.get(name).keyed:
        options["addresses"] = ADDRESSES
    return cls_or_ref(mixed_weights(N_BACKENDS), **options)


@pytest.mark.parametrize("name", POLICIES)
def test_envoy_lbalgo(benchmark, name):
    benchmark.group = f"envoy-{name[6:]}"
    s = _make(name, lbalgo.get(name))
    arg = _hashes(DECISIONS) if s.keyed else DECISIONS
    s.pick_many(arg[:1000] if s.keyed else 1000)  # warm-up JIT / load cache
    ids = benchmark.pedantic(s.pick_many, args=(arg,), rounds=3, iterations=1)
    assert len(ids) == DECISIONS and (ids >= 0).all()
    ns = ns_per(benchmark, DECISIONS, "min")
    info = dict(impl="lbalgo", n_backends=N_BACKENDS, decisions=DECISIONS, ns_per_decision=ns,
                hit_spread=hit_spread(ids, N_BACKENDS))
    benchmark.extra_info.update(paired(name, "lbalgo", ns, info, SPEEDUP))


@pytest.mark.parametrize("name", POLICIES)
def test_envoy_plain_python(benchmark, name):
    benchmark.group = f"envoy-{name[6:]}"
    ref = _make(name, REFERENCES[name])
    keyed = lbalgo.get(name).keyed
    keys = _hashes(REF_DECISIONS).tolist() if keyed else [None] * REF_DECISIONS

    def run():
        pick = ref.pick
        return [pick(k) for k in keys]

    ids = benchmark.pedantic(run, rounds=1, iterations=1)
    assert len(ids) == REF_DECISIONS and min(ids) >= 0
    real = _make(name, lbalgo.get(name))
    got = real.pick_many(np.array(keys, dtype=np.uint64) if keyed else REF_DECISIONS)
    assert got.tolist() == ids  # the same decisions as the kernel on the slice
    ns = ns_per(benchmark, REF_DECISIONS, "min")
    info = dict(impl="plain-python", n_backends=N_BACKENDS, decisions=REF_DECISIONS, ns_per_decision=ns)
    benchmark.extra_info.update(paired(name, "plain-python", ns, info, SPEEDUP))


@pytest.mark.parametrize("impl", ["envoy-maglev", "mh"])
def test_maglev_vs_mh_lookup(benchmark, impl):
    benchmark.group = "maglev-vs-mh"
    keys = _hashes(DECISIONS)
    if impl == "mh":
        s = lbalgo.MH(weights=mixed_weights(N_BACKENDS), addresses=[a for a in ADDRESSES])
        keys = (keys >> np.uint64(32)).astype(np.uint32)  # IPv4 client keys for IPVS
    else:
        s = lbalgo.get(impl)(weights=mixed_weights(N_BACKENDS), addresses=ADDRESSES)
    s.lookup_many(keys[:1000])
    ids = benchmark.pedantic(s.lookup_many, args=(keys,), rounds=5, iterations=1)
    assert len(ids) == DECISIONS and (ids >= 0).all()
    ns = ns_per(benchmark, DECISIONS, "min")
    info = dict(impl=impl, n_backends=N_BACKENDS, keys=DECISIONS, ns_per_key=ns)
    ratio = [("maglev_over_mh", "envoy-maglev", "mh")]
    benchmark.extra_info.update(paired("maglev-vs-mh", impl, ns, info, ratio))


def test_envoy_maglev_build(benchmark):
    benchmark.group = "envoy-maglev-build"
    s = lbalgo.get("envoy-maglev")(weights=mixed_weights(1000), addresses=[f"10.2.{i // 250}.{i % 250 + 1}:80"
                                                                          for i in range(1000)])
    table = s.pool.table

    def build():
        s.state[FORCE] = 1  # rebuild although the host set is unchanged
        maglev_changed.entry(table, s.state, s.fstate, EV_UPDATE, 0)

    benchmark.pedantic(build, rounds=10, iterations=1, warmup_rounds=1)
    counts = np.bincount(s.slots, minlength=1000)
    assert counts.sum() == 65537 and (s.slots >= 0).all() and (counts > 0).all()
    benchmark.extra_info.update(impl="lbalgo", n_backends=1000, table_size=65537,
                                ms_per_build=ns_per(benchmark, 1e6, "min"))
