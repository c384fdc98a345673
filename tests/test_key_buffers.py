"""Integer key batches converted for one kernel call reuse a per-thread buffer (addresses.int64_keys)."""

import threading

import numpy as np
import pytest

import lbalgo
from lbalgo import addresses


def _u32(n, seed):
    return np.random.default_rng(seed).integers(0, 2**32, size=n, dtype=np.int64).astype(np.uint32)


def test_contiguous_int64_keys_are_used_as_given():
    keys = np.arange(10, dtype=np.int64)
    assert addresses.int64_keys(keys) is keys
    assert addresses.int64_keys(keys, reuse=True) is keys


def test_reused_conversions_share_one_buffer_and_plain_ones_never_do():
    a = addresses.key_array(_u32(1000, 1), reuse=True)
    expect_a = _u32(1000, 1).astype(np.int64)
    assert a.tolist() == expect_a.tolist()
    b = addresses.key_array(_u32(500, 2), reuse=True)
    assert np.shares_memory(a, b)  # the documented contract: a is overwritten
    assert b.tolist() == _u32(500, 2).astype(np.int64).tolist()
    kept = addresses.key_array(_u32(1000, 3))
    addresses.key_array(_u32(1000, 4), reuse=True)
    assert not np.shares_memory(kept, b)
    assert kept.tolist() == _u32(1000, 3).astype(np.int64).tolist()


def test_batches_above_the_limit_get_a_fresh_array(monkeypatch):
    monkeypatch.setattr(addresses, "MAX_REUSED_KEYS", 100)
    small = addresses.key_array(_u32(100, 1), reuse=True)
    large = addresses.key_array(_u32(101, 2), reuse=True)
    assert not np.shares_memory(small, large)
    assert small.tolist() == _u32(100, 1).astype(np.int64).tolist()


def test_each_thread_has_its_own_buffer():
    got = {}

    def convert(seed):
        got[seed] = addresses.key_array(_u32(256, seed), reuse=True)

    threads = [threading.Thread(target=convert, args=(s,)) for s in (5, 6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not np.shares_memory(got[5], got[6])
    assert got[5].tolist() == _u32(256, 5).astype(np.int64).tolist()
    assert got[6].tolist() == _u32(256, 6).astype(np.int64).tolist()


@pytest.mark.parametrize("names", [("haproxy-source", "nginx-ip-hash"), ("sh", "haproxy-uri")])
def test_interleaved_batches_of_two_schedulers_decide_as_each_alone(names):
    batches = [_u32(3000, s) for s in range(4)]
    alone = {}
    for name in names:
        s = lbalgo.get(name)(weights=[3, 1, 2, 5])
        alone[name] = [s.pick_many(b).tolist() for b in batches]
    pair = {name: lbalgo.get(name)(weights=[3, 1, 2, 5]) for name in names}
    outs = {name: [] for name in names}
    for b in batches:
        for name in names:
            outs[name].append(pair[name].pick_many(b))
    for name in names:
        assert [o.tolist() for o in outs[name]] == alone[name]
