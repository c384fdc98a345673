"""IPVS lblc and lblcr: decisions derived by hand from the Linux sources.

net/netfilter/ipvs/ip_vs_lblc.c and ip_vs_lblcr.c; the rules in the project's words are in
docs/algorithms/locality.md.

Random runs against the plain-Python reference, with the GC under pressure, are in test_stateful.py.
"""

import ipaddress

import numpy as np
import pytest

from lbalgo import LBLC, LBLCR, NoBackendAvailable
from lbalgo.schedulers._locality import (
    ENTRIES as ENT,
)
from lbalgo.schedulers._locality import (
    ENTRIES_ROWS as ENT_ROWS,
)
from lbalgo.schedulers._locality import (
    FREE_ENTRY as FREE,
)
from lbalgo.schedulers._locality import (
    FREE_MEMBER as E_FREE,
)
from lbalgo.schedulers._locality import (
    MEMBER_NEXT as E_NEXT,
)
from lbalgo.schedulers._locality import (
    MEMBERS as ELEM,
)
from lbalgo.schedulers._locality import (
    MEMBERS_ROWS as ELEM_ROWS,
)
from lbalgo.schedulers._locality import (
    MEMBERS_USED as E_COUNT,
)
from lbalgo.schedulers._locality import (
    NEXT,
    STATE_LAYOUT,
)

A, B, C, D = "10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"


def hash_32(value, bits=10):
    return ((value * 0x61C88647) & 0xFFFFFFFF) >> (32 - bits)


def key_in_bucket(bucket, start=0x0A000000):
    """The first IPv4 address from ``start`` on whose lblc bucket is ``bucket``."""
    k = start
    while hash_32(k) != bucket:
        k += 1
    return k


def picks(s, keys, now=0.0):
    out = []
    for k in keys:
        try:
            out.append(s.pick(key=k, now=now))
        except NoBackendAvailable:
            out.append(-1)
    return out


# -- lblc -------------------------------------------------------------------------------
def test_cache_hit_keeps_the_backend():
    # UDP-like (inactive connections): the lbl rule never fires. A misses -> wlc
    # (all idle) -> 0; B misses -> 1 (0 now has one connection); A hits -> 0 again
    # although wlc would choose 1.
    s = LBLC([1, 1], new_conns="inactive")
    assert picks(s, [A, B, A, A, B]) == [0, 1, 0, 0, 1]
    assert {str(a): e.backend for a, e in s.cache_entries().items()} == {A: 0, B: 1}
    assert s.cache_size == 2


def test_lbl_overloaded_switches_to_wlc_and_replaces_the_entry():
    # weights [2, 2], active connections: the cached 0 serves until it has
    # 3 active > weight 2 while 1 has 0*2 < 2; then wlc gives 1 and the entry moves.
    s = LBLC([2, 2])
    assert picks(s, [A, A, A, A, A]) == [0, 0, 0, 1, 1]
    assert s.cache_entries()[ipaddress.ip_address(A)].backend == 1
    # mainline ip_vs_lblc_new deletes the old entry without decrementing the counter
    assert s.cache_size == 1 and s.entry_counter == 2


def test_lbl_overloaded_needs_a_lightly_loaded_backend():
    # A -> 0, B -> 1; A again: 0 has 1 active <= 1 -> 0; then 0 has 2 > 1 but no
    # backend has active*2 < weight (0: 4, 1: 2 vs weight 1): still 0.
    s = LBLC([1, 1])
    assert picks(s, [A, B, A, A]) == [0, 1, 0, 0]


def test_cached_path_ignores_the_threshold_overload_flag():
    # upper threshold 1 on backend 0: its first connection overloads it. The cached
    # path does not look at OVERLOAD, the wlc fallback does.
    s = LBLC([1, 1], u_thresholds=[1, 0], new_conns="inactive")
    assert s.pick(A) == 0
    assert s.pool.overloaded[0]
    assert picks(s, [A, A, B, C]) == [0, 0, 1, 1]


def test_removed_backend_stays_cached_until_the_next_pick():
    s = LBLC([1, 1], new_conns="inactive")
    assert s.pick(A) == 0
    s.remove_backend(0)
    # the entry still points at the removed backend ...
    assert s.cache_entries()[ipaddress.ip_address(A)].backend == 0
    # ... which fails AVAILABLE: wlc picks 1 and the entry follows
    assert s.pick(A, now=1.0) == 1
    assert s.cache_entries()[ipaddress.ip_address(A)] == (1, 1.0)
    s.release(0)  # its connection still drains


def test_weight_zero_backend_is_not_used_from_the_cache():
    s = LBLC([1, 1], new_conns="inactive")
    assert s.pick(A) == 0
    s.set_weight(0, 0)
    assert s.pick(A) == 1
    s.set_weight(0, 1)
    assert s.pick(A) == 1  # the cache moved to 1 and 1 still qualifies


def test_no_backend_keeps_the_refreshed_lastuse():
    s = LBLC([1], new_conns="inactive")
    s.pick(A, now=5.0)
    s.set_weight(0, 0)
    with pytest.raises(NoBackendAvailable):
        s.pick(A, now=9.0)
    assert s.cache_entries()[ipaddress.ip_address(A)] == (0, 9.0)
    assert s.pick_many([A, B], now=10.0).tolist() == [-1, -1]


def _three_entries_at_100(cls=LBLC):
    # A -> 0, C -> 1, D -> 0 at t = 100: backend 0 holds 2 connections, 1 holds 1.
    s = cls([1, 1], new_conns="inactive")
    assert picks(s, [A, C, D], now=100.0) == [0, 1, 0]
    return s


def test_idle_entry_is_used_until_the_full_sweep_that_expires_it():
    # Full sweeps run at ticks 30, 60, ... = every 1800 s. A (lastuse 100) is
    # idle for 24 h at 86500; the first full sweep at or after it is at 88200.
    before = _three_entries_at_100()
    assert before.pick(A, now=88199.0) == 0  # idle 24h+ but still cached
    after = _three_entries_at_100()
    assert after.pick(A, now=88200.0) == 1  # deleted first, wlc: 0 has 2, 1 has 1
    s = _three_entries_at_100()
    s.advance(86400.0)  # a full sweep, too early for A
    assert len(s.cache_entries()) == 3
    s.advance(88199.9)
    assert len(s.cache_entries()) == 3
    s.advance(88200.0)
    assert s.cache_entries() == {} and s.cache_size == 0 and s.entry_counter == 0


def test_expiration_option_and_gc_counter():
    s = LBLC([1, 1], expiration=100.0, new_conns="inactive")
    s.pick(A, now=0.0)
    s.advance(1799.0)  # ticks 60 .. 1740: counter 1 -> 30
    assert s.gc_counter == 30 and s.cache_size == 1
    s.advance(1800.0)  # the full sweep: counter back to 1
    assert s.gc_counter == 1 and s.cache_size == 0
    assert s.next_tick == 1860.0


def test_timer_starts_at_construction_time():
    s = LBLC([1], expiration=10.0, start=1000.0, new_conns="inactive")
    with pytest.raises(ValueError):
        s.pick(A, now=999.0)
    s.pick(A, now=1000.0)
    s.advance(1000.0 + 1799.0)
    assert s.cache_size == 1
    s.advance(1000.0 + 1800.0)
    assert s.cache_size == 0


def test_size_pressure_sweep_follows_the_rover():
    # max_size 2, four entries in buckets 10, 20, 30, 40 at t = 0. From the tick
    # at 60 on, entries (4) > max_size: goal = min((4-2)*4//3, 2//2) = 1. Nothing
    # is idle 360 s before the tick at 360, which deletes bucket 10's entry and
    # stops there (rover 10); at 420 goal = min(4//3, 1) = 1: bucket 20 (rover 20);
    # at 480 entries = 2 <= max_size and the counter moves again.
    keys = [key_in_bucket(b) for b in (10, 20, 30, 40)]
    s = LBLC([1], max_size=2, new_conns="inactive")
    for k in keys:
        s.pick(k, now=0.0)
    s.advance(359.0)
    assert s.cache_size == 4 and s.rover == 0 and s.gc_counter == 1
    s.advance(360.0)
    assert s.cache_size == 3 and s.rover == 10
    assert ipaddress.IPv4Address(keys[0]) not in s.cache_entries()
    s.advance(420.0)
    assert [int(a) for a in s.cache_entries()] == keys[2:] and s.rover == 20 and s.gc_counter == 1
    s.advance(480.0)
    assert s.cache_size == 2 and s.gc_counter == 2


def test_size_pressure_sweep_spares_recent_entries():
    # max_size 2, entries in buckets 10, 20, 30 at t = 0: goal = min((3-2)*4//3, 1) = 1.
    # Ticks 60 .. 300 find nothing idle 360 s: the sweep goes round all 1024
    # buckets and the rover comes back to 0. The entry in bucket 10, refreshed at
    # 300, survives the tick at 360; bucket 20's goes and meets the goal (rover 20).
    keys = [key_in_bucket(b) for b in (10, 20, 30)]
    s = LBLC([1], max_size=2, new_conns="inactive")
    for k in keys:
        s.pick(k, now=0.0)
    s.advance(300.0)
    assert s.rover == 0 and s.cache_size == 3 and s.gc_counter == 1
    s.pick(keys[0], now=300.0)
    s.advance(360.0)
    assert [int(a) for a in s.cache_entries()] == [keys[0], keys[2]] and s.rover == 20
    # max_size 1: goal = min(2*4//3, 1//2) = 0, so each tick sweeps exactly one bucket
    t = LBLC([1], max_size=1, new_conns="inactive")
    for k in keys:
        t.pick(k, now=0.0)
    t.advance(360.0)
    assert t.rover == 6 and t.cache_size == 3


def test_replacements_inflate_the_kernel_counter():
    # each replacement counts one more entry (mainline ip_vs_lblc_new), so with
    # max_size 2 two cached addresses put the table under size pressure.
    s = LBLC([1, 1], max_size=2, new_conns="inactive")
    s.pick(A, now=0.0)  # -> 0
    s.pick(B, now=0.0)  # -> 1
    s.set_weight(0, 0)
    s.pick(A, now=0.0)  # moves to 1
    assert s.cache_size == 2 and s.entry_counter == 3
    s.advance(300.0)  # entries 3 > 2: size-pressure sweeps (finding nothing) instead of counter += 1
    assert s.gc_counter == 1 and s.cache_size == 2
    s.advance(360.0)  # goal 1: the first of the two buckets after the rover loses its entry
    assert s.cache_size == 1 and s.entry_counter == 2
    s.advance(420.0)  # 2 <= max_size: the counter moves again
    assert s.gc_counter == 2


def test_time_must_not_go_backwards():
    s = LBLC([1, 1])
    s.pick(A, now=10.0)
    with pytest.raises(ValueError, match="back in time"):
        s.pick(A, now=9.0)
    with pytest.raises(ValueError):
        s.pick_many([A, B], now=[11.0, 10.5])
    with pytest.raises(ValueError):
        s.pick_many([A], now=5.0)
    with pytest.raises(ValueError):
        s.pick(A, now=float("nan"))
    with pytest.raises(ValueError):
        s.advance(1.0)
    assert s.clock == 10.0
    with pytest.raises(TypeError):
        s.pick()
    with pytest.raises(TypeError):
        s.pick_many(3)


def test_options_are_validated():
    with pytest.raises(ValueError):
        LBLC([1], expiration=-1.0)
    with pytest.raises(TypeError):
        LBLC([1], max_size=1.5)
    with pytest.raises(ValueError):
        LBLCR([1], start=float("inf"))


# -- IPv6 --------------------------------------------------------------------------------
X = ipaddress.IPv6Address((0x20010DB8 << 96) | 1)
Y = ipaddress.IPv6Address((0x20010DB8 << 96) | (1 << 32))  # same XOR fold as X
Z = ipaddress.IPv4Address(0x20010DB9)  # IPv4 with that fold too


@pytest.mark.parametrize("cls", [LBLC, LBLCR])
def test_ipv6_addresses_keep_their_own_entries(cls):
    s = cls([1, 1], new_conns="inactive")
    # one bucket, three entries: if Y shared X's entry it would get 0 back
    assert picks(s, [X, str(Y), int(Z), X, Y]) == [0, 1, 0, 0, 1]
    assert set(s.cache_entries()) == {X, Y, Z}
    t = cls([1, 1], new_conns="inactive")
    words = np.array([[0x20010DB8, 0, 0, 1], [0x20010DB8, 0, 1, 0], [0x20010DB8, 0, 0, 1]], dtype=np.uint32)
    assert t.pick_many(words).tolist() == [0, 1, 0]
    assert t.pick_many([int(X), int(Z)]).tolist() == [0, 1]  # Z is new: 0 holds 2, 1 holds 1
    assert set(t.cache_entries()) == {X, Y, Z}


# -- lblcr -------------------------------------------------------------------------------
def _grown_set():
    # [1, 1], active: A -> 0, 0, then 0 has 2 active > 1 while 1 has 0*2 < 1:
    # wlc -> 1, inserted at the set head. Then set_min over (1, 0) takes the head
    # 1 (ties keep the earlier member) and the lbl rule no longer fires
    # (nobody has active*2 < weight).
    s = LBLCR([1, 1], expiration=100.0)
    assert picks(s, [A, A, A, A, A], now=0.0) == [0, 0, 1, 1, 1]
    assert s.cache_entries()[ipaddress.ip_address(A)] == ((1, 0), 0.0, 0.0)
    return s


def test_lblcr_set_grows_at_the_head():
    _grown_set()


def test_lblcr_set_shrinks_after_expiration_and_returns_the_evicted_member():
    s = _grown_set()
    for b, n in ((0, 2), (1, 3)):
        for _ in range(n):
            s.release(b)
    # equal (zero) loads: set_min and set_max both take the head, 1
    assert s.pick(A, now=100.0) == 1  # not yet: now must exceed lastmod + 100
    s.release(1)
    assert s.cache_entries()[ipaddress.ip_address(A)].backends == (1, 0)
    assert s.pick(A, now=100.5) == 1  # evicted and returned
    assert s.cache_entries()[ipaddress.ip_address(A)] == ((0,), 100.5, 100.5)
    s.release(1)
    assert s.pick(A, now=101.0) == 0
    # a single member is never evicted
    assert s.pick(A, now=1000.0) == 0
    assert s.cache_entries()[ipaddress.ip_address(A)].backends == (0,)


def test_lblcr_set_max_prefers_the_most_loaded_and_ignores_overload():
    s = _grown_set()  # 0 holds 2 active, 1 holds 3 active; weights 1, 1
    s.set_weight(0, 2)  # loads per weight: 0 -> 256, 1 -> 768: set_max = 1, set_min = 0
    assert s.pick(A, now=150.0) == 0
    assert s.cache_entries()[ipaddress.ip_address(A)].backends == (0,)


def test_lblcr_member_usable_rules():
    s = LBLCR([1, 1, 1], new_conns="inactive")
    assert s.pick(A) == 0
    s.remove_backend(0)
    # set {0}: 0 is not AVAILABLE, set_min gives nothing: wlc -> 1 at the head
    assert s.pick(A, now=1.0) == 1
    assert s.cache_entries()[ipaddress.ip_address(A)] == ((1, 0), 1.0, 1.0)
    s.pool.set_thresholds(1, upper=1)  # 1 holds one connection: overloaded
    s.release(1)
    s.pick(B, now=1.0)  # B -> wlc: 1 has 0 again, it gets B and is overloaded
    assert s.pool.overloaded[1]
    # set_min skips OVERLOAD (unlike lblc's cached path): nothing -> wlc -> 2
    assert s.pick(A, now=2.0) == 2
    assert s.cache_entries()[ipaddress.ip_address(A)].backends == (2, 1, 0)


def test_lblcr_entries_expire_like_lblc():
    s = _three_entries_at_100(LBLCR)
    assert s.pick(A, now=88199.0) == 0
    t = _three_entries_at_100(LBLCR)
    assert t.pick(A, now=88200.0) == 1
    assert t.entry_counter == t.cache_size == 1


@pytest.mark.parametrize("cls", [LBLC, LBLCR])
def test_cache_grows_past_its_initial_rows(cls):
    # 3000 distinct addresses (the cache starts with 256 rows): batch and single
    # picks agree, every address is cached, and no decision ran out of rows.
    rng = np.random.default_rng(4)
    keys = (0x0A000000 + rng.permutation(3000)).astype(np.uint32)
    keys = np.concatenate([keys, keys[:500]])
    times = np.arange(len(keys)) * 0.01
    a, b = cls([3, 1, 2]), cls([3, 1, 2])
    batch = a.pick_many(keys, now=times)
    single = [b.pick(int(k), now=float(t)) for k, t in zip(keys, times)]
    assert batch.tolist() == single
    assert a.cache_size == b.cache_size == 3000
    assert a.cache_entries() == b.cache_entries()
    for s in (a, b):
        # every row is either in use or on its free list: no decision took a row past the end
        assert _free_rows(s, ENT, FREE, NEXT) + s.cache_size == s.state[ENT_ROWS]
        if cls is LBLCR:
            assert _free_rows(s, ELEM, E_FREE, E_NEXT) + s.state[E_COUNT] == s.state[ELEM_ROWS]
            assert s.state[E_COUNT] == sum(len(e.backends) for e in s.cache_entries().values())


def _free_rows(s, region, head, link):
    """Length of a free list (walked, and at most the region's rows)."""
    rows = STATE_LAYOUT.view(s.state, region)
    n, i = 0, int(s.state[head])
    while i >= 0 and n <= len(rows):
        n, i = n + 1, int(rows[i, link])
    return n


@pytest.mark.parametrize("cls", [LBLC, LBLCR])
def test_a_batch_mixing_integer_and_string_addresses_schedules_each_as_an_address(cls):
    # NumPy would read [167772161, "10.0.0.2"] as two strings; the integer is the address 10.0.0.1.
    mixed = cls([1, 1, 1]).pick_many([0x0A000001, "10.0.0.2", "10.0.0.1", 0x0A000002])
    strings = cls([1, 1, 1]).pick_many(["10.0.0.1", "10.0.0.2", "10.0.0.1", "10.0.0.2"])
    assert mixed.tolist() == strings.tolist()
    assert mixed[0] == mixed[2] and mixed[1] == mixed[3]
