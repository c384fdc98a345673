"""nginx 1.22 balancers: worked examples checked on nginx 1.22, the peer rules, string keys, bad input."""

import zlib

import numpy as np
import pytest

import lbalgo
from lbalgo import NoBackendAvailable
from lbalgo.schedulers.nginx.hash import server_register
from lbalgo.schedulers.nginx.random_lb import glibc_srandom
from tests.reference import REFERENCES


def seq(s, n, **kw):
    return [s.pick(**kw) for _ in range(n)]


# -- smooth weighted round robin (ngx_http_upstream_get_peer, ngx_http_upstream_round_robin.c) ------
@pytest.mark.parametrize("weights, period", [
    ([5, 1, 1], [0, 0, 1, 0, 2, 0, 0]),
    ([4, 3, 2], [0, 1, 2, 0, 1, 0, 2, 1, 0]),
    ([1, 2, 3, 4, 5], [4, 3, 2, 1, 4, 3, 0, 4, 2, 3, 4, 1, 2, 3, 4]),
])
def test_rr_captured_periods(weights, period):
    s = lbalgo.get("nginx-rr")(weights=weights)
    assert s.pick_many(3 * len(period)).tolist() == period * 3


def test_rr_down_peer_is_skipped_and_backups_take_over():
    s = lbalgo.NginxRR(weights=[1, 1, 1], backup=[False, False, True], down=[True, False, False])
    assert s.pick_many(4).tolist() == [1, 1, 1, 1]  # a single live primary, still not "single": 2 primaries
    s.set_weight(1, 0)  # down as well: a reload, then the backup
    assert s.pick_many(2).tolist() == [2, 2]
    assert s.weights.tolist() == [0, 0, 1] and s.pool.last_weights.tolist() == [1, 1, 1]


def test_rr_failure_lowers_effective_weight_and_jails():
    # weight 4, max_fails 2: a failure takes weight // max_fails = 2 off; each pass gives 1 back.
    s = lbalgo.NginxRR(weights=[4, 4], max_fails=2, fail_timeout=10)
    b = s.pick(now=100.0)
    s.release(b, failed=True, now=100.0)
    assert s.effective_weights[b] == 2 and s.fails[b] == 1
    s.release(s.pick(now=101.0), now=101.0)
    assert s.effective_weights[b] == 3
    # max_fails 1: one failure jails the peer for fail_timeout seconds (whole seconds).
    jailed = lbalgo.NginxRR(weights=[1, 1], max_fails=1, fail_timeout=10)
    first = jailed.pick(now=50.0)
    jailed.release(first, failed=True, now=50.0)
    assert seq(jailed, 4, now=60.9) == [1 - first] * 4  # floor(60.9) - 50 <= 10
    assert first in seq(jailed, 4, now=61.0)


def test_single_peer_ignores_failures():
    s = lbalgo.NginxRR(weights=[3], max_fails=1)
    s.release(s.pick(now=0.0), failed=True, now=0.0)
    assert s.fails.tolist() == [0]  # nginx's free_peer returns early for a single peer
    assert s.pick(now=1.0) == 0


def test_success_after_recheck_clears_fails():
    s = lbalgo.NginxRR(weights=[1, 1], max_fails=2, fail_timeout=5)
    b = s.pick(now=10.0)
    s.release(b, failed=True, now=10.0)
    assert s.fails[b] == 1
    # chosen again more than fail_timeout later: checked = now > accessed, so a success resets fails
    picks = []
    while b not in picks:
        picks.append(s.pick(now=20.0))
        s.release(picks[-1], now=20.0)
    assert s.fails[b] == 0


def test_max_conns_blocks_a_full_peer():
    s = lbalgo.NginxRR(weights=[1, 1], max_conns=1)
    assert sorted([s.pick(), s.pick()]) == [0, 1]
    with pytest.raises(NoBackendAvailable):
        s.pick()
    s.release(0)
    assert s.pick() == 0


def test_every_edit_is_a_reload():
    s = lbalgo.NginxRR(weights=[5, 1, 1])
    s.pick_many(3)
    assert s.current_weights.tolist() != [0, 0, 0]
    s.set_weight(2, 1)  # unchanged value: still a reload in nginx terms (config rewritten)
    assert s.current_weights.tolist() == [0, 0, 0]
    assert s.pick_many(7).tolist() == [0, 0, 1, 0, 2, 0, 0]


# -- least_conn (ngx_http_upstream_least_conn_module.c) ---------------------------------------------
def test_least_conn_captured_examples():
    s = lbalgo.NginxLeastConn(weights=[1, 1, 1])
    out = []
    for _ in range(4):
        out.append(s.pick())
        s.release(out[-1])
    assert out == [0, 1, 2, 0]
    t = lbalgo.NginxLeastConn(weights=[1, 1, 1])
    held = t.pick()
    assert held == 0
    out = []
    for _ in range(4):
        out.append(t.pick())
        t.release(out[-1])
    assert out == [1, 2, 1, 2]


def test_least_conn_compares_configured_weight_ratios():
    # Held 2, 1, 1 on weights 2, 1, 1: every ratio is 1, a three-way tie that the smooth-WRR
    # pass over the tied peers breaks (HAProxy's leastconn takes peer 0 here: see test_haproxy).
    s = lbalgo.NginxLeastConn(weights=[2, 1, 1])
    assert s.pick_many(5).tolist() == [0, 1, 2, 0, 2]


# -- ip_hash (ngx_http_upstream_ip_hash_module.c) ---------------------------------------------------
def test_ip_hash_worked_example_and_last_octet():
    s = lbalgo.NginxIPHash(weights=[1, 1, 1, 1])
    assert s.pick("127.1.2.3") == 3  # 89 -> 3913 -> 3200 -> 4155; 4155 mod 4 = 3
    assert {s.pick(f"10.20.30.{i}") for i in range(256)} == {s.pick("10.20.30.0")}


def test_ip_hash_down_peer_stays_in_the_modulus():
    clients = [f"192.0.{i}.{i}" for i in range(200)]
    before = lbalgo.NginxIPHash(weights=[1, 1, 1, 1]).pick_many(clients)
    s = lbalgo.NginxIPHash(weights=[1, 1, 1, 1], down=[False, True, False, False])
    after = s.pick_many(clients)
    moved = before != after
    assert (before[moved] == 1).all() and (after != 1).all()


def test_ip_hash_ipv6_uses_all_bytes():
    s = lbalgo.NginxIPHash(weights=[1, 1, 1])
    words = np.array([[0x20010DB8, 0, 0, i] for i in range(50)], dtype=np.uint32)
    texts = [f"2001:db8::{i:x}" for i in range(50)]
    assert s.pick_many(words).tolist() == [s.pick(t) for t in texts]
    assert len(set(s.pick_many(words).tolist())) > 1
    ref = REFERENCES["nginx-ip-hash"]([1, 1, 1])
    assert [s.pick(t) for t in texts] == [ref.pick(t) for t in texts]


# -- hash and hash consistent (ngx_http_upstream_hash_module.c) -------------------------------------
def test_hash_worked_example_and_address_keys():
    s = lbalgo.NginxHash(weights=[1, 1, 1, 1])
    assert zlib.crc32(b"127.1.2.3") == 0x075D7B5A
    assert s.pick("127.1.2.3") == 1  # bits 16..30 = 1885, 1885 mod 4 = 1
    assert s.pick(0x7F010203) == 1  # an int key is the address's text ($remote_addr)
    keys = np.array([0x7F010203 + 977 * i for i in range(100)], dtype=np.uint32)
    text = [f"{k >> 24}.{(k >> 16) & 255}.{(k >> 8) & 255}.{k & 255}" for k in keys.tolist()]
    assert s.pick_many(keys).tolist() == s.pick_many(text).tolist()


def test_hash_strings_match_the_reference():
    keys = [f"/img/{i}.png?v={i % 3}" for i in range(300)] + ["", "é/ü", "x" * 500]
    for w, down in (([3, 1, 2], None), ([1, 1, 1, 1], [False, True, False, False])):
        s = lbalgo.NginxHash(weights=w, down=down)
        ref = REFERENCES["nginx-hash"](w, down=down)
        assert s.pick_many(keys).tolist() == [ref.pick(k) for k in keys]


def test_ketama_points_and_worked_example():
    servers = [f"127.0.0.1:{19001 + i}" for i in range(4)]
    s = lbalgo.NginxHash(weights=[1, 1, 1, 1], consistent=True, servers=servers)
    values, owners = s.ring
    assert len(values) == 640 and (np.diff(values) > 0).all()
    reg = server_register("127.0.0.1:19001")
    p0 = zlib.crc32(b"\0\0\0\0", reg ^ 0xFFFFFFFF)
    assert (p0, zlib.crc32(p0.to_bytes(4, "little"), reg ^ 0xFFFFFFFF)) == (0x2695830A, 0x74603D15)
    assert {int(v) for v in values[owners == 0]} >= {0x2695830A, 0x74603D15}
    assert s.pick("127.1.2.3") == 3
    # addresses are the default server strings
    t = lbalgo.NginxHash(weights=[1, 1, 1, 1], consistent=True, addresses=servers)
    assert np.array_equal(t.ring[0], values)


def test_ketama_server_string_matters_and_removal_moves_only_its_keys():
    keys = [f"/k/{i}" for i in range(400)]
    a = lbalgo.NginxHash(weights=[1, 1, 1], consistent=True, servers=["localhost:80", "b:80", "c:80"])
    b = lbalgo.NginxHash(weights=[1, 1, 1], consistent=True, servers=["127.0.0.1:80", "b:80", "c:80"])
    assert not np.array_equal(a.ring[0], b.ring[0])
    full = lbalgo.NginxHash(weights=[1, 1, 1, 1], consistent=True, servers=["a", "b", "c", "d"])
    less = lbalgo.NginxHash(weights=[1, 1, 1], consistent=True, servers=["a", "c", "d"])
    before = full.pick_many(keys)
    after = less.pick_many(keys)
    ids = np.array([0, 2, 3])[after]
    assert (ids[before != 1] == before[before != 1]).all()


def test_ketama_same_string_shares_points():
    s = lbalgo.NginxHash(weights=[1, 1, 1], consistent=True, servers=["a", "a", "b"])
    owners = s.ring[1]
    assert set(owners.tolist()) == {0, 2}  # group of "a" is id 0
    picks = s.pick_many(["k"] * 8 + [f"q{i}" for i in range(40)])
    assert {0, 1} <= set(picks.tolist())  # the two "a" peers share its points by smooth WRR


# -- random (random) --------------------------------------------------------------------------
def test_glibc_generator_matches_the_c_library():
    # srandom(seed); random() x 5, from a C program linked against glibc 2.36
    expected = {12345: [383100999, 858300821, 357768173, 455528251, 133005921],
                3000000000: [2058147116, 854483408, 922419988, 286396165, 2068523933],
                0: [1804289383, 846930886, 1681692777, 1714636915, 1957747793]}
    for seed, values in expected.items():
        s = lbalgo.NginxRandom(weights=[2**16 - 1, 2**16 - 1], seed=seed)
        st = glibc_srandom(seed)
        words, f, r = [int(x) for x in st[:31]], int(st[31]), int(st[32])
        out = []
        for _ in range(5):
            words[f] = (words[f] + words[r]) & 0xFFFFFFFF
            out.append(words[f] >> 1)
            f, r = (0, r + 1) if f + 1 >= 31 else (f + 1, 0 if r + 1 >= 31 else r + 1)
        assert out == values
        assert s.pick_many(5).tolist() == [v % (2 * (2**16 - 1)) // (2**16 - 1) for v in values]


def test_random_distribution():
    s = lbalgo.NginxRandom(weights=[5, 1, 1], seed=7)
    n = 70_000
    share = np.bincount(s.pick_many(n), minlength=3) / n
    # 5/7, 1/7, 1/7 within 1% (about 6 standard deviations at this n)
    assert np.allclose(share, [5 / 7, 1 / 7, 1 / 7], atol=0.01)


def test_random_two_keeps_the_less_loaded():
    s = lbalgo.NginxRandom(weights=[1, 1, 1, 1], two=True, seed=3)
    s.pick_many(40)  # never released: two-choice keeps the loads close
    loads = s.active_conns
    assert loads.max() - loads.min() <= 2


# -- bad input ----------------------------------------------------------------------------------
def test_bad_options_raise_with_the_problem_named():
    with pytest.raises(ValueError, match="backup"):
        lbalgo.NginxIPHash(weights=[1, 1], backup=[False, True])
    with pytest.raises(ValueError, match="max_fails has 1 entries"):
        lbalgo.NginxRR(weights=[1, 1], max_fails=[1])
    with pytest.raises(ValueError, match="max_fails must be in 0..255"):
        lbalgo.NginxRR(weights=[1, 1], max_fails=300)
    with pytest.raises(TypeError, match="fail_timeout"):
        lbalgo.NginxRR(weights=[1, 1], fail_timeout=1.5)
    with pytest.raises(ValueError, match="max_conns or u_thresholds"):
        lbalgo.NginxRR(weights=[1, 1], max_conns=1, u_thresholds=[1, 1])
    with pytest.raises(TypeError, match="servers\\[1\\]"):
        lbalgo.NginxHash(weights=[1, 1], consistent=True, servers=["a", 3])
    with pytest.raises(TypeError, match="consistent"):
        lbalgo.NginxHash(weights=[1, 1], consistent="yes")


def test_bad_calls_leave_the_state_unchanged():
    s = lbalgo.NginxIPHash(weights=[1, 2, 3])
    s.pick("10.0.0.1")
    state, table = s.state.copy(), s.pool.table.copy()
    with pytest.raises(ValueError, match="backup"):
        s.add_backend(1, backup=True)
    with pytest.raises(TypeError, match="failed"):
        s.release(0, failed="yes")
    with pytest.raises(ValueError, match="not a valid"):
        s.pick("10.0.0.300")
    assert np.array_equal(s.state, state) and np.array_equal(s.pool.table, table)
    h = lbalgo.NginxHash(weights=[1, 1])
    with pytest.raises(TypeError, match="keys\\[1\\]"):
        h.pick_many(["a", 3])


def test_added_peers_follow_the_config():
    s = lbalgo.NginxRR(weights=[1, 1], max_fails=3)
    b = s.add_backend(2, backup=True)
    assert s.backups.tolist() == [False, False, True]
    ref = REFERENCES["nginx-rr"]([1, 1], max_fails=3)
    ref.add_backend(2, backup=True)
    s.set_weight(0, 0)
    ref.set_weight(0, 0)
    s.set_weight(1, 0)
    ref.set_weight(1, 0)
    assert seq(s, 5) == [ref.pick() for _ in range(5)] == [b] * 5
    k = lbalgo.NginxHash(weights=[1, 1], consistent=True, servers=["a", "b"])
    c = k.add_backend(1, server="c")
    assert k.servers == ["a", "b", "c"] and c in set(k.ring[1].tolist())


def test_weight_walk_with_large_totals_uses_buckets_exactly():
    # total_weight above 4 * capacity: the bucket index plus a forward step (not the direct table)
    weights = [60000, 3, 0, 50000, 1, 7, 65535]
    keys = [f"k{i}" for i in range(400)]
    for name in ("nginx-ip-hash", "nginx-hash", "nginx-random"):
        s = lbalgo.get(name)(weights=weights, seed=3)
        ref = REFERENCES[name](weights, seed=3)
        if name == "nginx-ip-hash":
            batch = [f"10.{i % 256}.{i * 7 % 256}.{i // 256}" for i in range(400)]
        elif name == "nginx-hash":
            batch = keys
        else:
            batch = [None] * 400
        got = [s.pick(k) for k in batch]
        assert got == [ref.pick(k) for k in batch]
        assert 2 not in got  # weight 0 owns no residue


def test_detached_copy_owns_its_configuration():
    s = lbalgo.NginxHash(weights=[1, 1], consistent=True, servers=["a", "b"])
    s.pick("k")
    clone = s.detached()
    clone.add_backend(1, server="c")
    assert s.servers == ["a", "b"] and clone.servers == ["a", "b", "c"]
    assert s.pick_many(["x", "y", "z"]).tolist() == lbalgo.NginxHash(
        weights=[1, 1], consistent=True, servers=["a", "b"]).pick_many(["k", "x", "y", "z"]).tolist()[1:]
