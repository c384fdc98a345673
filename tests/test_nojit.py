"""``NUMBA_DISABLE_JIT=1`` runs every kernel as plain Python, and decides exactly as compiled code does.

``lbalgo/_jit.py`` promises that with ``NUMBA_DISABLE_JIT=1`` the kernels run as
the plain Python functions they are. CI leans on it: its coverage pass runs
the contract, reference and state-machine tests that way (``.ci/run``), so that
the kernels' source lines are measured. Those tests compare each mode with the
references; this file compares the two modes with each other, on every
registered algorithm and on the simulator's event loop, in two processes (this
one, compiled, and a plain-Python child), and checks that the plain-Python mode
never loads Numba. Under ``NUMBA_DISABLE_JIT=1`` the comparisons are skipped
(the compiled run of the suite makes them).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import lbalgo
from lbalgo._jit import DISABLED

ROOT = Path(__file__).resolve().parent.parent

#: Smaller lookup tables than the defaults where a table of 65537 slots would be built in plain
#: Python on every edit; the same options are used in both modes, so the comparison is exact.
SMALL = {"envoy-maglev": {"table_size": 251}, "mh": {"table_size": 251},
         "envoy-ring-hash": {"minimum_ring_size": 64, "maximum_ring_size": 256}}

KEYS = np.array([0x0A000001 + 7919 * i for i in range(64)], dtype=np.int64)


def _digest(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()[:16]


def workout(name: str) -> dict:
    """One algorithm through batches, single picks, releases and every pool edit; what it decided."""
    out = {}
    for new_conns in ("active", "inactive"):
        s = lbalgo.get(name)(weights=[3, 1, 2, 0, 5, 1], seed=11, new_conns=new_conns, **SMALL.get(name, {}))
        rng = np.random.default_rng(5)
        keys = KEYS[rng.integers(0, len(KEYS), 300)]
        times = np.arange(300, dtype=np.float64) * 0.37
        first = s.pick_many(keys, now=times)
        try:
            one = s.pick(key=int(keys[7]), now=200.0)
        except lbalgo.NoBackendAvailable:  # ovf: every backend over its threshold
            one = None
        for b in first[first >= 0][::3].tolist():
            s.release(b)
        s.set_weight(0, 0)
        added = s.add_backend(4)
        s.remove_backend(2)
        s.pool.set_thresholds(1, upper=4)
        second = s.pick_many(keys[::-1].copy(), now=times + 300.0)
        out[new_conns] = {"first": first.tolist(), "one": [type(one).__name__, one], "added": added,
                          "second": second.tolist(), "table": _digest(s.pool.table),
                          "state": _digest(s.state), "fstate": _digest(s.fstate)}
    return out


def simulations() -> dict:
    """The event loop under each service model, life cycle, pool events and ClientIP affinity."""
    from lbalgo import ClientIPAffinity, simulate, workloads
    from lbalgo.sim import Add, Fail, Quiesce, Recover, Remove, SetThresholds, SetWeight

    def wl(n, seed, **kw):
        return workloads.Workload(arrivals=workloads.poisson(rate=40.0), n=n,
                                  lifetimes=workloads.lognormal(mean=0.3, sigma=1.0),
                                  clients=workloads.zipf(n_clients=50, s=1.1), seed=seed, **kw)

    events = [Fail(5.0, 1), SetWeight(8.0, 0, 1), Add(10.0, weight=3), Recover(14.0, 1), Quiesce(18.0, 2),
              SetThresholds(20.0, 3, 6, 2), Remove(24.0, 0)]
    runs = {
        "wlc-infinite": lambda: simulate(lbalgo.WLC(weights=[4, 2, 1, 1]), wl(1200, 1), events=events,
                                         sample_every=0.5),
        "lc-tree-fifo": lambda: simulate(lbalgo.LC(weights=[4, 2, 1, 1], index="tree"), wl(1200, 2),
                                         events=events, service="fifo", servers="weight", speeds=2.0),
        "sed-ps": lambda: simulate(lbalgo.SED(weights=[4, 2, 1, 1]), wl(1200, 3), events=events, service="ps",
                                   speeds="weight"),
        "wrr-tcp": lambda: simulate(lbalgo.WRR(weights=[4, 2, 1, 1], new_conns="inactive"), wl(1200, 4),
                                    events=events, lifecycle="tcp", establish=0.01, linger=2.0),
        "mh-ipvs-affinity": lambda: simulate(
            ClientIPAffinity(lbalgo.MH(weights=[1, 1, 1, 1], table_size=251), timeout=3, mode="ipvs"),
            wl(1200, 5), events=events),
        "iptables-affinity": lambda: simulate(
            ClientIPAffinity(lbalgo.IptablesCascade(weights=[1] * 4, seed=3), timeout=2, mode="iptables"),
            wl(1200, 6)),
        "lblcr-destinations": lambda: simulate(
            lbalgo.LBLCR(weights=[1, 2, 1, 1]),
            wl(1200, 7, destinations=workloads.uniform(n_clients=30, network="192.168.0.0/16")),
            events=events),
    }
    out = {}
    for label, run in runs.items():
        r = run()
        tr = r.trace
        out[label] = {"backend": _digest(tr.backend), "start": _digest(tr.start), "end": _digest(tr.end),
                      "events": r.events, "drops": r.drops, "counts": r.counts().tolist(),
                      "samples": None if r.samples_active is None else _digest(r.samples_active)}
    return out


def everything() -> dict:
    return {"disabled": DISABLED, "algorithms": {n: workout(n) for n in lbalgo.names()}, "sim": simulations()}


CHILD = textwrap.dedent("""
    import json, sys
    from tests.test_nojit import everything
    result = everything()
    result["numba_loaded"] = "numba" in sys.modules
    json.dump(result, sys.stdout)
""")


def _child(disable: bool, code: str) -> str:
    env = dict(os.environ)
    env["NUMBA_DISABLE_JIT"] = "1" if disable else "0"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


@pytest.fixture(scope="module")
def both_modes():
    """(this process's results, a plain-Python child's): compiled vs plain Python."""
    if DISABLED:  # this process is plain Python: the compiled run of this file compares the two
        pytest.skip("compares compiled code with plain Python: runs without NUMBA_DISABLE_JIT")
    other = json.loads(_child(True, CHILD))
    here = everything()
    assert here["disabled"] is False and other["disabled"] is True
    assert other["numba_loaded"] is False  # plain Python: Numba is never imported
    return here, other


@pytest.mark.parametrize("name", lbalgo.names())
def test_algorithm_decides_the_same_compiled_and_as_plain_python(both_modes, name):
    here, other = both_modes
    assert here["algorithms"][name] == other["algorithms"][name]
    for mode in ("active", "inactive"):  # pick() returns a Python int in both modes
        assert here["algorithms"][name][mode]["one"][0] in ("int", "NoneType")
    assert any(here["algorithms"][name][mode]["one"][0] == "int" for mode in ("active", "inactive"))


def test_simulations_are_the_same_compiled_and_as_plain_python(both_modes):
    here, other = both_modes
    assert set(here["sim"]) == set(other["sim"])
    for label in here["sim"]:
        assert here["sim"][label] == other["sim"][label], label
    assert here["sim"]["wlc-infinite"]["events"] > 2 * 1200  # they ran: arrivals + ends + pool events


def test_plain_python_kernels_are_python_functions():
    code = textwrap.dedent("""
        import sys, types
        from lbalgo import WRR, simulate, workloads
        from lbalgo._jit import DISABLED
        from lbalgo.schedulers.wrr import wrr_schedule
        from lbalgo.sim import engine
        s = WRR(weights=[2, 1])
        ids = s.pick_many(6).tolist()
        r = simulate(s, workloads.Workload(arrivals=workloads.constant_rate(1.0), n=4,
                                          lifetimes=workloads.constant(0.5)))
        plain = [isinstance(k.compiled, types.FunctionType) for k in (wrr_schedule, engine.run)]
        print(DISABLED, ids, r.trace.backend.tolist(), type(s.pick()).__name__, plain, "numba" in sys.modules)
    """)
    out = _child(True, code).strip()
    assert out == "True [0, 0, 1, 0, 0, 1] [0, 0, 1, 0] int [True, True] False"


def _python(func):
    """The Python function of a kernel, of a Numba dispatcher, or itself (a kernel's rebound name)."""
    return getattr(func, "py_func", func)


def _as_plain_python(kernel, module):
    """``kernel``'s Python function with every kernel it calls as Python too (dispatchers or not)."""
    import types

    namespace = {name: _python(value) for name, value in vars(module).items()}
    return types.FunctionType(_python(kernel).__code__, namespace, _python(kernel).__name__)


def test_native_uint64_hashes_agree_with_the_plain_python_versions():
    """The uint64-lane versions (what compiled code runs) as Python, wrapping like uint64 does.

    Under NUMBA_DISABLE_JIT=1 the kernels run the Python-integer / 32-bit-halves versions, so
    this is where the native versions' lines are run (and checked) without Numba.
    """
    from lbalgo import _hash
    from lbalgo.schedulers.envoy import _hash as envoy_hash

    xx = _as_plain_python(envoy_hash._xxhash64_native, envoy_hash)
    murmur = _as_plain_python(envoy_hash._murmur2_64_native, envoy_hash)
    sip = _as_plain_python(_hash._hsiphash32_native, _hash)
    rng = np.random.default_rng(3)
    with np.errstate(over="ignore"):  # uint64 arithmetic wraps, as it does compiled
        for n in list(range(0, 70, 3)) + [255]:
            data = rng.integers(0, 256, n + 5, dtype=np.uint8)
            for seed in (0, 1, envoy_hash.MURMUR_SEED, 2**62 + 3):
                assert xx(data, 2, n, seed) == envoy_hash._xxhash64_py(data, 2, n, seed)
                assert murmur(data, 2, n, seed) == envoy_hash._murmur2_64_py(data, 2, n, seed)
        for m, *key in rng.integers(0, 2**32, (200, 5)).tolist():
            assert sip(m, *key) == _python(_hash._hsiphash32_halves)(m, *key)
        empty = np.frombuffer(b"", dtype=np.uint8)
        assert xx(empty, 0, 0, 0) == envoy_hash._signed(0xEF46DB3751D8E999)  # XXH64 of ""
