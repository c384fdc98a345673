"""Workload models: seeding, distributions, key layouts, recorded traces."""

import hashlib
import ipaddress
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from lbalgo import workloads as W
from lbalgo.schedulers.base import key_array


def _digest(g):
    h = hashlib.sha256()
    for a in (g.arrival, g.lifetime, g.client, g.destination):
        if a is not None:
            h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


SCRIPT = textwrap.dedent("""
    import hashlib, numpy as np
    from lbalgo import workloads as W
    g = W.Workload(arrivals=W.onoff(rate=50.0, mean_on=1.0, mean_off=2.0), n=2000,
                   lifetimes=W.pareto(alpha=2.5, mean=1.0), clients=W.zipf(n_clients=1000, s=1.2),
                   destinations=W.uniform(n_clients=40, network="2001:db8::/64"), seed=99).generate()
    h = hashlib.sha256()
    for a in (g.arrival, g.lifetime, g.client, g.destination):
        h.update(np.ascontiguousarray(a).tobytes())
    print(h.hexdigest())
""")


def test_same_seed_same_arrays_across_processes():
    out = {subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True)
           .stdout.strip() for _ in range(2)}
    assert len(out) == 1
    g = W.Workload(arrivals=W.onoff(rate=50.0, mean_on=1.0, mean_off=2.0), n=2000,
                   lifetimes=W.pareto(alpha=2.5, mean=1.0), clients=W.zipf(n_clients=1000, s=1.2),
                   destinations=W.uniform(n_clients=40, network="2001:db8::/64"), seed=99).generate()
    assert _digest(g) in out


def test_models_draw_from_independent_streams():
    a = W.Workload(arrivals=W.poisson(rate=10.0), n=100, lifetimes=W.exponential(mean=1.0), seed=5).generate()
    b = W.Workload(arrivals=W.poisson(rate=10.0), n=100, lifetimes=W.constant(2.0),
                   clients=W.uniform(n_clients=10), seed=5).generate()
    np.testing.assert_array_equal(a.arrival, b.arrival)
    c = W.Workload(arrivals=W.poisson(rate=10.0), n=100, lifetimes=W.exponential(mean=1.0), seed=6).generate()
    assert not np.array_equal(a.arrival, c.arrival)


def test_arrival_models():
    rng = np.random.default_rng(0)
    t = W.poisson(rate=100.0).times(rng, 200_000)
    assert (np.diff(t) >= 0).all() and t[0] > 0
    assert 200_000 / t[-1] == pytest.approx(100.0, rel=0.01)
    t = W.constant_rate(rate=4.0, start=1.0).times(rng, 5)
    assert t.tolist() == [1.0, 1.25, 1.5, 1.75, 2.0]
    t = W.onoff(rate=100.0, mean_on=1.0, mean_off=3.0).times(rng, 200_000)
    assert (np.diff(t) >= 0).all()
    assert 200_000 / t[-1] == pytest.approx(25.0, rel=0.05)  # rate * on / (on + off)
    gaps = np.diff(t)
    assert (gaps > 1.0).sum() > 100  # off periods show up as long gaps
    t = W.replay([0.0, 0.5, 0.5, 2.0]).times(rng, 4)
    assert t.tolist() == [0.0, 0.5, 0.5, 2.0]
    with pytest.raises(ValueError, match="non-decreasing"):
        W.replay([0.0, 2.0, 1.0])
    with pytest.raises(ValueError, match=r"\[1\]"):
        W.replay([0.0, float("nan")])
    with pytest.raises(ValueError):
        W.poisson(rate=0)
    with pytest.raises(ValueError, match="holds 4"):
        W.replay([0.0, 0.5, 0.5, 2.0]).times(rng, 5)


def test_duration_models_have_the_stated_means():
    rng = np.random.default_rng(1)
    n = 400_000
    assert W.exponential(mean=2.0).sample(rng, n).mean() == pytest.approx(2.0, rel=0.01)
    x = W.lognormal(mean=2.0, sigma=1.0).sample(rng, n)
    assert x.mean() == pytest.approx(2.0, rel=0.02)
    assert np.log(x).std() == pytest.approx(1.0, rel=0.01)
    x = W.pareto(alpha=3.0, mean=1.5).sample(rng, n)
    assert x.mean() == pytest.approx(1.5, rel=0.02) and x.min() >= 1.0 - 1e-12  # scale 1.5 * 2/3
    assert W.constant(0.25).sample(rng, 3).tolist() == [0.25] * 3
    x = W.empirical([1.0, 2.0, 4.0]).sample(rng, 30_000)
    assert set(np.unique(x)) == {1.0, 2.0, 4.0} and x.mean() == pytest.approx(7 / 3, rel=0.02)
    with pytest.raises(ValueError, match="alpha"):
        W.pareto(alpha=1.0, mean=1.0)
    with pytest.raises(ValueError):
        W.lognormal(mean=-1.0, sigma=1.0)


def test_populations():
    rng = np.random.default_rng(2)
    z = W.zipf(n_clients=100, s=1.1)
    p = z.probabilities()
    assert p[0] / p[1] == pytest.approx(2 ** 1.1) and p.sum() == pytest.approx(1.0)
    k = z.sample(rng, 200_000)
    base = int(ipaddress.IPv4Address("10.0.0.1"))
    freq = np.bincount(k - base, minlength=100) / 200_000
    assert np.abs(freq - p).max() < 0.005
    u = W.uniform(n_clients=5, network="192.168.1.0/24").sample(rng, 1000)
    assert set(u.tolist()) == {int(ipaddress.IPv4Address(f"192.168.1.{i}")) for i in range(1, 6)}
    with pytest.raises(ValueError, match="room"):
        W.uniform(n_clients=300, network="192.168.1.0/24")


def test_ipv6_clients_are_folded_like_key_array():
    rng = np.random.default_rng(3)
    net = ipaddress.ip_network("2001:db8::/64")
    k = W.uniform(n_clients=1000, network=str(net)).sample(rng, 500)
    ranks = np.unique(k)
    assert len(ranks) > 300
    # Recompute from the addresses themselves: (n, 4) words folded by key_array.
    addrs = [int(net.network_address) + 1 + r for r in range(1000)]
    words = np.array([[(a >> s) & 0xFFFFFFFF for s in (96, 64, 32, 0)] for a in addrs], dtype=np.uint64)
    folded = set(key_array(words).tolist())
    assert set(k.tolist()) <= folded
    given = W.keys(words[:10]).sample(rng, 10)
    np.testing.assert_array_equal(given, key_array(words[:10]))


def test_workload_validation():
    with pytest.raises(ValueError, match="n"):
        W.Workload(arrivals=W.poisson(rate=1.0), lifetimes=W.constant(1.0))
    with pytest.raises(TypeError, match="lifetimes"):
        W.Workload(arrivals=W.poisson(rate=1.0), n=5)
    with pytest.raises(TypeError, match="clients"):
        W.Workload(arrivals=W.poisson(rate=1.0), n=5, lifetimes=W.constant(1.0), clients=[1, 2])
    wl = W.Workload(arrivals=W.replay([0.0, 1.0]), lifetimes=W.constant(1.0))
    assert wl.n == 2 and len(wl.generate()) == 2


# -- recorded traces ------------------------------------------------------------------
def test_load_csv_trace(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("arrival,lifetime,client,destination\n0.0,1.5,10.0.0.1,192.168.0.1\n"
                 "0.5,2,167772162,2001:db8::1\n\n1.0,0.25,10.0.0.1,192.168.0.1\n")
    wl = W.load_trace(p)
    g = wl.generate()
    assert g.arrival.tolist() == [0.0, 0.5, 1.0] and g.lifetime.tolist() == [1.5, 2.0, 0.25]
    assert g.client.tolist() == [0x0A000001, 0x0A000002, 0x0A000001]
    v6 = int(ipaddress.IPv6Address("2001:db8::1"))
    fold = (v6 >> 96 ^ v6 >> 64 ^ v6 >> 32 ^ v6) & 0xFFFFFFFF
    assert g.destination.tolist() == [0xC0A80001, fold, 0xC0A80001]


@pytest.mark.parametrize("text, message", [
    ("", "empty"),
    ("time,client\n0,10.0.0.1\n", "no 'lifetime' column"),
    ("arrival,lifetime\n0,1\n1,x\n", "line 3, column 'lifetime': 'x' is not a number"),
    ("arrival,lifetime\n0,1\n1,2,3\n", "line 3: expected 2 fields, got 3"),
    ("arrival,lifetime\n2,1\n1,1\n", "line 3, column 'arrival': 1.0 is earlier"),
    ("arrival,lifetime\n0,-1\n", "line 2, column 'lifetime': '-1' is not a finite time"),
    ("arrival,lifetime,client\n0,1,10.0.0.300\n", "line 2, column 'client': '10.0.0.300'"),
    ("arrival,duration\n0,1\nnan,1\n", "line 3, column 'arrival'"),
])
def test_malformed_csv_names_line_and_column(tmp_path, text, message):
    p = tmp_path / "bad.csv"
    p.write_text(text)
    with pytest.raises(W.TraceError, match=message.replace("(", r"\(")) as err:
        W.load_trace(p)
    assert "bad.csv" in str(err.value)


def test_load_numpy_traces(tmp_path):
    rec = np.zeros(3, dtype=[("arrival", "f8"), ("lifetime", "f8"), ("client", "u4")])
    rec["arrival"] = [0, 1, 2]
    rec["lifetime"] = [1, 1, 3]
    rec["client"] = [5, 6, 5]
    np.save(tmp_path / "t.npy", rec)
    g = W.load_trace(tmp_path / "t.npy").generate()
    assert g.lifetime.tolist() == [1.0, 1.0, 3.0] and g.client.tolist() == [5, 6, 5]
    np.savez(tmp_path / "t.npz", arrival=np.array([0.0, 1.0]), lifetime=np.array([2.0, 3.0]),
             client=np.array([[0x20010DB8, 0, 0, 1], [0x20010DB8, 0, 0, 2]], dtype=np.uint32))
    g = W.load_trace(tmp_path / "t.npz").generate()
    assert g.client.tolist() == [0x20010DB8 ^ 1, 0x20010DB8 ^ 2]


def test_malformed_numpy_traces(tmp_path):
    np.save(tmp_path / "plain.npy", np.arange(3.0))
    with pytest.raises(W.TraceError, match="structured"):
        W.load_trace(tmp_path / "plain.npy")
    np.savez(tmp_path / "a.npz", arrival=np.array([0.0, 1.0, 0.5]), lifetime=np.ones(3))
    with pytest.raises(W.TraceError, match=r"row 2, column 'arrival'"):
        W.load_trace(tmp_path / "a.npz")
    np.savez(tmp_path / "b.npz", arrival=np.array([0.0, 1.0]), lifetime=np.array([1.0, np.inf]))
    with pytest.raises(W.TraceError, match=r"row 1, column 'lifetime'"):
        W.load_trace(tmp_path / "b.npz")
    np.savez(tmp_path / "c.npz", arrival=np.array([0.0, 1.0]), lifetime=np.ones(3))
    with pytest.raises(W.TraceError, match="3 rows, expected 2"):
        W.load_trace(tmp_path / "c.npz")
    np.savez(tmp_path / "d.npz", arrival=np.array([0.0]))
    with pytest.raises(W.TraceError, match="no 'lifetime'"):
        W.load_trace(tmp_path / "d.npz")
    (tmp_path / "e.txt").write_text("x")
    with pytest.raises(W.TraceError, match="unknown trace format"):
        W.load_trace(tmp_path / "e.txt")
