"""HAProxy 2.6 balancers: the spec's worked examples, hash functions, defaults, ids, bad input."""

import numpy as np
import pytest

import lbalgo
from lbalgo import NoBackendAvailable, strings
from lbalgo.schedulers.haproxy._hashes import full_hash, hash_strings
from tests.reference import REFERENCES
from tests.reference.haproxy import FUNCTIONS as REF_FUNCTIONS
from tests.reference.haproxy import full_hash as ref_full_hash


# -- roundrobin (FWRR, 4.3) and static-rr (4.2) ---------------------------------------------------
@pytest.mark.parametrize("weights, start", [
    ([5, 1, 1], [0, 0, 0, 1, 0, 0, 2]),
    ([4, 3, 2], [0, 1, 0, 2, 1, 0, 0, 1, 2]),
    ([1, 2, 3, 4, 5], [4, 3, 2, 4, 3, 1, 4, 2, 3, 4, 0, 4, 2, 3, 1]),
])
def test_roundrobin_starts_on_the_heaviest_with_period_16_sum(weights, start):
    s = lbalgo.HAProxyRoundRobin(weights=weights)
    period = 16 * sum(weights)
    picks = s.pick_many(2 * period)
    assert picks[: len(start)].tolist() == start
    assert np.array_equal(picks[:period], picks[period:])
    assert np.bincount(picks[:period]).tolist() == [16 * w for w in weights]


@pytest.mark.parametrize("weights, period", [
    ([4, 3, 2], [0, 1, 0, 1, 2, 0, 0, 1, 2]),
    ([1, 2, 3, 4, 5], [0, 1, 4, 3, 2, 4, 2, 3, 4, 1, 2, 3, 4, 3, 4]),
    ([2, 1, 1, 1], [0, 1, 0, 2, 3]),
    ([5, 1, 1], [0, 0, 0, 1, 0, 0, 2]),
])
def test_static_rr_map(weights, period):
    s = lbalgo.HAProxyStaticRR(weights=weights)
    assert s.server_map.tolist() == period  # sum(weight) / gcd slots: map-based weights are not scaled
    assert s.pick_many(2 * len(period)).tolist() == period * 2


def test_static_rr_reduces_by_the_gcd():
    s = lbalgo.HAProxyStaticRR(weights=[4, 2])
    assert s.eweights.tolist() == [2, 1] and len(s.server_map) == 3
    r = lbalgo.HAProxyRoundRobin(weights=[4, 2])
    assert r.eweights.tolist() == [64, 32]


def test_roundrobin_weight_change_matches_the_reference():
    s = lbalgo.HAProxyRoundRobin(weights=[3, 2, 1])
    ref = REFERENCES["haproxy-roundrobin"]([3, 2, 1])
    out, want = [], []
    for edit in ((1, 5), (0, 0), (0, 3), (2, 7)):
        out += s.pick_many(37).tolist()
        want += [ref.pick() for _ in range(37)]
        s.set_weight(*edit)
        ref.set_weight(*edit)
    assert out == want


# -- leastconn (4.7) and first -------------------------------------------------------------------
def test_leastconn_keys_and_queue_order():
    s = lbalgo.HAProxyLeastConn(weights=[1, 1, 1])
    out = []
    for _ in range(4):
        out.append(s.pick())
        s.release(out[-1])
    assert out == [0, 1, 2, 0]  # an idle server that was used goes behind the other idle ones
    w = lbalgo.HAProxyLeastConn(weights=[2, 1, 1])
    # held 2,1,1: key 3*4096/32 = 384 for server 0 beats 2*4096/16 = 512: server 0 again (nginx: 2)
    assert w.pick_many(5).tolist() == [0, 1, 2, 0, 0]


def test_first_fills_by_id_up_to_maxconn():
    s = lbalgo.HAProxyFirst(weights=[1, 1, 1], ids=[3, 1, 2], maxconn=2)
    assert s.pick_many(6).tolist() == [1, 1, 2, 2, 0, 0]
    with pytest.raises(NoBackendAvailable):
        s.pick()
    s.release(2)
    assert s.pick() == 2
    assert lbalgo.HAProxyFirst(weights=[1, 1]).pick_many(5).tolist() == [0] * 5


# -- hashing (4.4 - 4.6) -----------------------------------------------------------------------------
def _hash(name, text):
    data, offsets = strings.encode([text])
    out = np.empty(1, dtype=np.int64)
    hash_strings({"sdbm": 0, "djb2": 1, "wt6": 2, "crc32": 3}[name], data, offsets, out)
    return int(out[0]) & 0xFFFFFFFF


@pytest.mark.parametrize("name, value", [("sdbm", 0x95561F3D), ("djb2", 0xADEB89AA), ("wt6", 0xFCCC4EEA),
                                         ("crc32", 0x9C971CC2)])
def test_hash_function_vectors(name, value):
    assert _hash(name, "/api/v1/items/42") == value
    assert REF_FUNCTIONS[name](b"/api/v1/items/42") == value


def test_full_hash_vectors():
    assert full_hash(0x7F010203) == ref_full_hash(0x7F010203) == 0xC244638A
    assert full_hash(4096) == 0x49C2008B
    rng = np.random.default_rng(0)
    for v in rng.integers(0, 2**32, size=200).tolist():
        assert full_hash(v) == ref_full_hash(v)


def test_source_worked_examples():
    assert lbalgo.HAProxySource(weights=[1, 1, 1, 1]).pick("127.1.2.3") == 3  # 0x7F010203 mod 4
    assert lbalgo.HAProxySource(weights=[1, 1, 1, 1], hash_type="consistent").pick("127.1.2.3") == 2


def test_hash_type_defaults():
    assert lbalgo.HAProxyURI(weights=[1]).avalanche is False  # no hash-type: map-based sdbm
    c = lbalgo.HAProxyURI(weights=[1], hash_type="consistent")
    assert (c.hash_function, c.avalanche) == ("sdbm", True)  # bare "consistent" implies avalanche
    n = lbalgo.HAProxyURI(weights=[1], hash_type="consistent", hash_function="crc32")
    assert n.avalanche is False  # naming a function drops it
    a = lbalgo.HAProxyURI(weights=[1], hash_type="consistent", hash_function="crc32", avalanche=True)
    assert a.avalanche is True


def test_uri_cut_whole_len_depth_path_only():
    keys = ["/a/b/c?x=1", "/a/b/c?x=2", "/a/b/d", "/a/x/c", "http://h.example/a/b/c?x=3", "/"]
    for options in ({}, {"whole": True}, {"len": 4}, {"depth": 2}, {"path_only": True}):
        s = lbalgo.HAProxyURI(weights=[1, 2, 1, 3], hash_function="djb2", **options)
        ref = REFERENCES["haproxy-uri"]([1, 2, 1, 3], hash_function="djb2",
                                        **{k: v for k, v in options.items() if k != "path_only"})
        got = s.pick_many(keys).tolist()
        if "path_only" in options:
            keys_ref = [k.replace("http://h.example", "") for k in keys]
        else:
            keys_ref = keys
        assert got == [ref.pick(k) for k in keys_ref]
    plain = lbalgo.HAProxyURI(weights=[1] * 64)
    assert plain.pick("/a/b/c?x=1") == plain.pick("/a/b/c?x=2")
    whole = lbalgo.HAProxyURI(weights=[1] * 64, whole=True)
    assert whole.pick("/a/b/c?x=1") != whole.pick("/a/b/c?x=2")


def test_hdr_missing_header_falls_back_to_round_robin():
    s = lbalgo.HAProxyHdr(weights=[1, 1, 1])
    assert s.pick_many(["", "", "", ""]).tolist() == [0, 1, 2, 0]  # static-rr's walk over the map
    c = lbalgo.HAProxyHdr(weights=[1, 1, 1], hash_type="consistent")
    ref = REFERENCES["haproxy-hdr"]([1, 1, 1], hash_type="consistent")
    keys = ["", "a", "", "b", "", ""]
    assert c.pick_many(keys).tolist() == [ref.pick(k) for k in keys]


def test_string_keys_single_and_batch_agree_with_the_reference():
    keys = [f"/p/{i}?q={i}" for i in range(200)] + ["ü/€", ""]
    for fn in ("sdbm", "djb2", "wt6", "crc32"):
        for ht in ("map-based", "consistent"):
            s = lbalgo.HAProxyURI(weights=[3, 1, 2], hash_type=ht, hash_function=fn)
            t = lbalgo.HAProxyURI(weights=[3, 1, 2], hash_type=ht, hash_function=fn)
            ref = REFERENCES["haproxy-uri"]([3, 1, 2], hash_type=ht, hash_function=fn)
            batch = s.pick_many(keys).tolist()
            assert batch == [t.pick(k) for k in keys] == [ref.pick(k) for k in keys]


def test_consistent_removal_auto_ids_versus_runtime_delete():
    keys = np.array([0x0A000001 + 7919 * i for i in range(3000)], dtype=np.uint32)
    full = lbalgo.HAProxySource(weights=[1, 1, 1, 1], hash_type="consistent")
    before = full.pick_many(keys)
    # A new configuration without s1: s2, s3 are renumbered 2, 3 and their points move.
    renumbered = lbalgo.HAProxySource(weights=[1, 1, 1], hash_type="consistent")
    after = np.array([0, 2, 3])[renumbered.pick_many(keys)]
    kept = before != 1
    assert (after[kept] != before[kept]).mean() > 0.3
    # With explicit ids only s1's keys move; the runtime API (del server) keeps ids too.
    explicit = lbalgo.HAProxySource(weights=[1, 1, 1], hash_type="consistent", ids=[1, 3, 4])
    assert (np.array([0, 2, 3])[explicit.pick_many(keys)][kept] == before[kept]).all()
    full.remove_backend(1)
    assert (full.pick_many(keys)[kept] == before[kept]).all()
    assert full.server_ids.tolist() == [1, 0, 3, 4]


def test_server_ids_like_check_config_validity():
    assert lbalgo.HAProxyFirst(weights=[1, 1, 1], ids=[None, 2, None]).server_ids.tolist() == [1, 2, 3]
    assert lbalgo.HAProxyFirst(weights=[1, 1, 1], ids=[5, None, None]).server_ids.tolist() == [5, 2, 3]
    # next_id moves on after every server, explicit ones too: a=2 (1 is taken), b=1, then c from 4
    assert lbalgo.HAProxyFirst(weights=[1, 1, 1], ids=[None, 1, None]).server_ids.tolist() == [2, 1, 4]
    s = lbalgo.HAProxyRoundRobin(weights=[1, 1, 1])
    s.remove_backend(1)
    s.add_backend(1)
    assert s.server_ids.tolist() == [1, 0, 3, 2]  # add server takes the smallest free id


def test_runtime_added_server_gets_the_points_of_id_zero():
    s = lbalgo.HAProxySource(weights=[1, 1], hash_type="consistent")
    s.add_backend(1)
    assert s.server_ids.tolist() == [1, 2, 3]
    ref = REFERENCES["haproxy-source"]([1, 1], hash_type="consistent")
    ref.add_backend(1)
    keys = [f"10.{i % 250}.{i // 250}.7" for i in range(2000)]
    got = s.pick_many(keys)
    assert got.tolist() == [ref.pick(k) for k in keys]
    # id 0's points, not id 3's: a key on one of full_hash(j), j < 16, lands on server 2
    for j in range(16):
        h = full_hash(j)
        probe = lbalgo.HAProxySource(weights=[1, 1], hash_type="consistent", avalanche=False)
        probe.add_backend(1)
        assert probe.pick(int(h)) == 2


# -- random -----------------------------------------------------------------------------------------
def test_random_is_haproxys_generator_from_its_fixed_start():
    s = lbalgo.HAProxyRandom(weights=[1, 1, 1, 1], draws=1)
    ref = REFERENCES["haproxy-random"]([1, 1, 1, 1], draws=1)
    assert s.pick_many(300).tolist() == [ref.pick() for _ in range(300)]
    x, first = 2463534242, []
    for _ in range(3):
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        first.append(x)
    probe = lbalgo.HAProxySource(weights=[1, 1, 1, 1], hash_type="consistent", avalanche=False)
    assert lbalgo.HAProxyRandom(weights=[1, 1, 1, 1], draws=1).pick_many(3).tolist() == \
        [probe.pick(v) for v in first]


def test_random_two_draws_balance_load():
    s = lbalgo.HAProxyRandom(weights=[1, 1, 1, 1], seed=5)
    s.pick_many(400)
    loads = s.active_conns
    one = lbalgo.HAProxyRandom(weights=[1, 1, 1, 1], seed=5, draws=1)
    one.pick_many(400)
    assert loads.max() - loads.min() < one.active_conns.max() - one.active_conns.min()


# -- bad input ---------------------------------------------------------------------------------------
def test_bad_options_raise_with_the_problem_named():
    with pytest.raises(ValueError, match="256"):
        lbalgo.HAProxyRoundRobin(weights=[1, 300])
    with pytest.raises(ValueError, match="2.8"):
        lbalgo.HAProxyURI(weights=[1], hash_function="none")
    with pytest.raises(ValueError, match="hash_type"):
        lbalgo.HAProxySource(weights=[1], hash_type="ring")
    with pytest.raises(ValueError, match="distinct"):
        lbalgo.HAProxyFirst(weights=[1, 1], ids=[2, 2])
    with pytest.raises(ValueError, match="draws"):
        lbalgo.HAProxyRandom(weights=[1], draws=0)
    with pytest.raises(ValueError, match="maxconn has 1 entries"):
        lbalgo.HAProxyLeastConn(weights=[1, 1], maxconn=[1])
    with pytest.raises(ValueError, match="len must be"):
        lbalgo.HAProxyURI(weights=[1], len=-1)


def test_bad_edits_leave_the_state_unchanged():
    s = lbalgo.HAProxyRoundRobin(weights=[2, 1], ids=[4, None])
    s.pick_many(5)
    state, table = s.state.copy(), s.pool.table.copy()
    with pytest.raises(ValueError, match="256"):
        s.set_weight(0, 257)
    with pytest.raises(ValueError, match="256"):
        s.add_backend(1000)
    with pytest.raises(ValueError, match="already used"):
        s.add_backend(1, id=4)
    with pytest.raises(ValueError, match="weights\\[1\\]"):
        s.set_weights([1, 999])
    assert np.array_equal(s.state, state) and np.array_equal(s.pool.table, table)


@pytest.mark.parametrize("name", ["haproxy-roundrobin", "haproxy-leastconn"])
def test_insertion_numbers_renumber_before_they_overflow(name):
    from lbalgo.schedulers.haproxy._heap import SEQ_LIMIT
    from lbalgo.schedulers.haproxy._servers import SEQ
    s = lbalgo.get(name)(weights=[3, 1, 2, 2])
    ref = REFERENCES[name]([3, 1, 2, 2])
    s.state[SEQ] = SEQ_LIMIT - 7  # later insertions only need to stay larger: the order is unchanged
    out, want = [], []
    for i in range(300):
        out.append(s.pick())
        want.append(ref.pick())
        if i % 3 == 0:
            s.release(out[-1])
            ref.release(want[-1])
    assert out == want
    assert s.state[SEQ] < 1000  # renumbered


def test_detached_copy_owns_its_configuration():
    s = lbalgo.HAProxyRoundRobin(weights=[2, 1], backup=[False, True])
    clone = s.detached()
    clone.add_backend(3, backup=True, id=7)
    assert s.backups.tolist() == [False, True] and clone.backups.tolist() == [False, True, True]
    assert s.server_ids.tolist() == [1, 2] and clone.server_ids.tolist() == [1, 2, 7]
    assert s.pick_many(6).tolist() == [0] * 6  # the backup stays unused while server 0 is up
    assert clone.pick_many(6).tolist() == [0] * 6
