"""Envoy's own unit-test expectations (tests/fixtures/envoy/*.json), replayed through lbalgo.

Each fixture case names the Envoy test it comes from and the Envoy version;
its steps drive a scheduler the way the test drives Envoy's balancer:

- ``pick``: decisions in a row (``random`` first injects the mocked draws);
- ``pick_release``: a decision whose request ends at once, so the active
  counts stay what the test set (Envoy's tests never count their picks);
- ``set_active``: the active requests per backend (``rq_active_.set``);
- ``set_weight_in_place``: ``host->weight(w)`` without a host-set update;
- ``add`` / ``remove`` / ``fail`` / ``recover`` / ``refresh``: host-set updates;
- ``lookup``, ``ring``, ``ring_size``, ``table``, ``counts``: hashing balancers;
- ``hash``, ``edf_sequence``, ``edf_counts``: the hash functions and the EDF scheduler.

The module checks every expectation and that their number is the one the
docs report (:data:`EXPECTED_TOTAL`).
"""

import collections
import json
from pathlib import Path

import numpy as np
import pytest

import lbalgo
from lbalgo import NoBackendAvailable, _table
from lbalgo.schedulers.envoy import ENVOY_VERSION, murmur2_64_of, xxhash64_of
from lbalgo.schedulers.envoy._edf_lb import edf_picks

FIXTURES = Path(__file__).parent / "fixtures" / "envoy"
#: Transcribed expected values (one per expected host, hash, count, ring entry or table slot).
EXPECTED_TOTAL = 700
U64MAX = (1 << 64) - 1


def _cases():
    for path in sorted(FIXTURES.glob("*.json")):
        doc = json.loads(path.read_text())
        assert doc["envoy_version"] == ENVOY_VERSION
        for case in doc["cases"]:
            yield pytest.param(path.name, case, id=f"{path.stem}:{case['test']}")


def _build(spec):
    options = dict(spec)
    name = options.pop("name")
    weights = options.pop("weights")
    return lbalgo.get(name)(weights=weights, **options)


def _set_active(s, active):
    for b, k in enumerate(active):
        while s.active_conns[b] < k:
            _table.bind(s.pool.table, b, True)
        while s.active_conns[b] > k:
            s.release(b)


def _pick(s, now):
    try:
        return s.pick(now=now)
    except NoBackendAvailable:
        return -1


def run_step(s, step):
    """Apply one step; return the number of expectations it checked."""
    op = step["op"]
    now = step.get("now", 0.0)
    if op in ("pick", "pick_release"):
        if "random" in step:
            s.inject_random(step["random"])
        got = []
        for _ in step["expect"]:
            b = _pick(s, now)
            if op == "pick_release" and b >= 0:
                s.release(b)
            got.append(b)
        assert got == step["expect"]
        return len(got)
    if op == "set_active":
        _set_active(s, step["active"])
    elif op == "set_weight_in_place":
        _table.set_weight(s.pool.table, step["backend"], step["weight"])  # no host-set update
    elif op == "add":
        s.add_backend(step["weight"], **({"address": step["address"]} if "address" in step else {}))
    elif op == "remove":
        s.remove_backend(step["backend"])
    elif op == "fail":
        for b in step["backends"]:
            s.pool.fail(b)
    elif op == "recover":
        for b in step["backends"]:
            s.pool.recover(b)
    elif op == "refresh":
        s.refresh(now=step.get("now"))
    elif op == "lookup":
        got = s.lookup_many(np.array(step["keys"], dtype=np.uint64)).tolist()
        assert got == step["expect"]
        return len(got)
    elif op == "ring":
        assert [list(e) for e in s.ring] == step["expect"]
        return len(step["expect"])
    elif op == "ring_size":
        assert len(s.ring) == step["expect"]
        return 1
    elif op == "table":
        assert s.slots.tolist() == step["expect"]
        return len(step["expect"])
    elif op in ("counts", "counts_zeroes"):
        n = step["n"]
        keys = np.array([i * (U64MAX // n) for i in range(n)], dtype=np.uint64)
        counts = np.bincount(s.lookup_many(keys), minlength=s.pool.n_ids).tolist()
        if op == "counts":
            assert counts == step["expect"]
            return len(counts)
        assert sum(1 for c in counts if c == 0) == step["zeroes"] and sum(counts) == step["sum"]
        return 2
    elif op == "attribute":
        assert getattr(s, step["attribute"]) == step["expect"]
        return 1
    else:
        raise AssertionError(f"unknown fixture op {op!r}")
    return 0


def run_case(case):
    spec = case["scheduler"]
    steps = case["steps"]
    checked = 0
    if spec["name"] in ("xxhash64", "murmur2_64"):
        for step in steps:
            fn = xxhash64_of if step["function"] == "xxhash64" else murmur2_64_of
            assert [fn(v) for v in step["values"]] == step["expect"]
            checked += len(step["values"])
        return checked
    if spec["name"] == "edf":
        for step in steps:
            seq = edf_picks(step["weights"], step["picks"])
            if step["op"] == "edf_sequence":
                cycle = step["expect_cycle"]
                assert seq == cycle * (len(seq) // len(cycle))
                checked += len(cycle)  # the recorded values (each checked 128 times)
            else:
                counts = collections.Counter(seq)
                assert [counts[i] for i in range(len(step["weights"]))] == step["expect"]
                checked += len(step["expect"])
        return checked
    if steps[0]["op"] == "error":
        with pytest.raises(ValueError, match=steps[0]["match"]):
            _build(spec)
        return 1
    if steps[0]["op"] == "first_pick_counts":
        step = steps[0]
        firsts = []
        for r in step["randoms"]:
            s = _build({**spec, "random": [r]})  # seed_ and the priority draw both return r
            firsts.append(s.pick())
        counts = collections.Counter(firsts)
        assert [counts[b] for b in range(len(step["expect"]))] == step["expect"]
        return len(step["expect"])
    s = _build(spec)
    for step in steps:
        checked += run_step(s, step)
    return checked


@pytest.mark.parametrize("fixture, case", list(_cases()))
def test_envoy_expectation(fixture, case):
    assert case["version"] == ENVOY_VERSION
    assert run_case(case) > 0


def test_expectation_count():
    """Every fixture case is replayed above; their expectations add up to the documented count."""
    total = sum(run_case(p.values[1]) for p in _cases())
    assert total == EXPECTED_TOTAL
