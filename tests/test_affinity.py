"""ClientIP affinity: timelines per mode and validation (random runs against the reference: test_stateful)."""

import ipaddress

import numpy as np
import pytest

from lbalgo import RR, IptablesCascade, NftNumgen, NoBackendAvailable
from lbalgo.schedulers.affinity import ClientIPAffinity, Pin
from lbalgo.schedulers.rr import CURSOR

A, B, C = "10.0.0.1", "10.0.0.2", "10.0.0.3"


def ip(a):
    return ipaddress.IPv4Address(a)


# -- ipvs: persistence templates ---------------------------------------------------------------
def test_ipvs_sticks_and_bypasses_the_scheduler():
    aff = ClientIPAffinity(RR(weights=[1, 1, 1]), timeout=100, mode="ipvs")
    assert aff.pick(A, now=0.0) == 0
    cursor = int(aff.inner.state[CURSOR])
    assert [aff.pick(A, now=t) for t in (1.0, 2.0, 50.0)] == [0, 0, 0]
    assert int(aff.inner.state[CURSOR]) == cursor  # rr's cursor did not move while the template was valid
    assert aff.pick(B, now=50.0) == 1
    assert list(aff.persist_conns) == [1, 1, 0]
    assert list(aff.active_conns) == [4, 1, 0]  # the template is not a connection
    assert aff.pinned(50.0)[ip(A)] == Pin(0, 150.0, 4)


def test_ipvs_expires_exactly_at_timeout_when_no_connection_lives():
    aff = ClientIPAffinity(RR(weights=[1, 1, 1]), timeout=100, mode="ipvs")
    assert aff.pick(A, now=0.0) == 0
    aff.release(0, key=A, now=10.0)
    assert aff.pinned(99.5) == {ip(A): Pin(0, 100.0, 0)}
    assert aff.pinned(100.0) == {}  # the timer fires at now + T, before a connection at that instant
    assert aff.pick(A, now=100.0) == 1  # rescheduled: rr moves on
    assert list(aff.persist_conns) == [0, 1, 0]


def test_ipvs_refresh_per_new_connection():
    aff = ClientIPAffinity(RR(weights=[1, 1]), timeout=100, mode="ipvs")
    aff.pick(A, now=0.0)
    aff.pick(A, now=90.0)  # re-armed to 190
    for _ in range(2):
        aff.release(0, key=A, now=95.0)
    assert aff.pick(A, now=189.0) == 0
    assert aff.pinned(189.0)[ip(A)].expires == 289.0


def test_ipvs_template_extended_by_60s_while_connections_live():
    aff = ClientIPAffinity(RR(weights=[1, 1]), timeout=100, mode="ipvs")
    aff.pick(A, now=0.0)  # template to 100, one live connection
    assert aff.pinned(100.0)[ip(A)] == Pin(0, 160.0, 1)  # fired at 100 with a connection: +60
    assert aff.pinned(250.0)[ip(A)].expires == 280.0  # 100, 160, 220 fired; next at 280
    assert aff.pick(A, now=250.0) == 0  # still pinned; timeout is now a sticky 60 s
    assert aff.pinned(250.0)[ip(A)] == Pin(0, 310.0, 2)
    aff.release(0, key=A, now=260.0)
    aff.release(0, key=A, now=305.0)  # last connection gone; the timer at 310 ends it
    assert aff.pinned(309.0)[ip(A)] == Pin(0, 310.0, 0)
    assert aff.pinned(310.0) == {}
    assert aff.pick(A, now=310.0) == 1
    assert list(aff.persist_conns) == [0, 1]


def test_ipvs_release_without_key_cannot_end_the_template():
    aff = ClientIPAffinity(RR(weights=[1, 1]), timeout=10, mode="ipvs")
    aff.pick(A, now=0.0)
    aff.release(0, now=1.0)
    assert aff.pinned(1000.0)[ip(A)].connections == 1  # still believed alive: extended in 60 s steps


def test_release_with_key_counts_the_template_down():
    aff = ClientIPAffinity(RR(weights=[1, 1]), timeout=100, mode="ipvs")
    aff.pick(A, now=0.0)
    aff.release(0, key=A, now=50.0)
    assert aff.pinned(50.0)[ip(A)].connections == 0
    assert aff.pinned(100.0) == {}


def test_ipvs_quiesced_backend_with_and_without_expire_quiescent_template():
    for eqt, expected in ((True, 1), (False, 0)):
        aff = ClientIPAffinity(RR(weights=[1, 1]), timeout=100, mode="ipvs", expire_quiescent_template=eqt)
        aff.pick(A, now=0.0)
        aff.set_weight(0, 0)
        assert aff.pick(A, now=1.0) == expected
        assert list(aff.persist_conns) == ([0, 1] if eqt else [1, 0])


def test_ipvs_removed_backend_breaks_the_template():
    aff = ClientIPAffinity(RR(weights=[1, 1, 1]), timeout=100, mode="ipvs", expire_quiescent_template=False)
    assert aff.pick(A, now=0.0) == 0
    aff.remove_backend(0)
    assert aff.pinned(1.0) == {}
    assert aff.pick(A, now=1.0) == 1
    assert aff.persist_conns[0] == 0 and aff.persist_conns[1] == 1


def test_ipvs_template_bind_sets_the_overload_flag():
    aff = ClientIPAffinity(RR(weights=[1, 1], u_thresholds=[1, 0]), timeout=100, mode="ipvs")
    assert aff.pick(A, now=0.0) == 0  # the connection reaches the threshold
    assert aff.pool.overloaded[0]
    assert aff.pick(A, now=1.0) == 0  # a template ignores the overload flag
    assert aff.pick(B, now=1.0) == 1


# -- iptables: xt_recent -------------------------------------------------------------------------
def _iptables(n=3, **kw):
    return ClientIPAffinity(IptablesCascade(weights=[1] * n, seed=1), mode="iptables", **kw)


def test_iptables_sticks_and_expires_after_timeout_inclusive():
    aff = _iptables(timeout=100)
    b = aff.pick(A, now=0.0)
    assert all(aff.pick(A, now=t) == b for t in (10.0, 20.0))
    assert aff.pinned(120.0) == {ip(A): Pin(b, 120.0, 0)}  # --seconds matches at exactly T
    assert aff.pinned(120.5) == {}
    assert aff.pick(A, now=120.0) == b
    # No random draw while a list matched: new clients continue the cascade's stream right
    # after its first draw (A's first pick), as the same cascade without affinity does.
    alone = IptablesCascade(weights=[1] * 3, seed=1)
    assert alone.pick() == b
    fresh = [f"10.8.0.{i}" for i in range(40)]
    assert aff.pick_many(fresh, now=121.0).tolist() == alone.pick_many(40).tolist()


def test_iptables_refresh_by_any_route_and_long_connections_do_not_count():
    aff = _iptables(timeout=100)
    b = aff.pick(A, now=0.0)
    # A connection open for an hour does not keep affinity: only new connections refresh.
    assert aff.pinned(100.0)[ip(A)].backend == b
    assert aff.pinned(101.0) == {}


def test_iptables_list_order_precedence():
    aff = _iptables(n=3, timeout=100)
    from lbalgo.schedulers.affinity import _kernels as K
    # Put A fresh in the lists of endpoints 2 and 1 (the random choice is bypassed by hand).
    a = int(ip(A))
    K.recent_set(aff._aff, K.slot_of(aff._aff, a), a, 2, 5.0)
    K.recent_set(aff._aff, K.slot_of(aff._aff, a), a, 1, 6.0)
    assert aff.pinned(7.0)[ip(A)].backend == 1  # endpoint 1's rule comes first
    assert aff.pick(A, now=7.0) == 1
    assert aff.entries == 2


def test_iptables_lru_capacity_evicts_oldest():
    aff = ClientIPAffinity(IptablesCascade(weights=[1], seed=1), mode="iptables", timeout=1000)
    clients = [f"10.1.0.{i}" for i in range(101)]
    for i, c in enumerate(clients):
        aff.pick(c, now=float(i))
    assert aff.entries == 100
    pins = aff.pinned(200.0)
    assert ip(clients[0]) not in pins and ip(clients[1]) in pins  # the least recently set went
    aff.pick(clients[1], now=201.0)  # refresh: clients[1] becomes the newest
    aff.pick("10.2.0.1", now=202.0)
    pins = aff.pinned(202.0)
    assert ip(clients[1]) in pins and ip(clients[2]) not in pins


def test_iptables_capacity_option():
    aff = ClientIPAffinity(IptablesCascade(weights=[1], seed=1), mode="iptables", capacity=2)
    for i, c in enumerate([A, B, C]):
        aff.pick(c, now=float(i))
    assert set(aff.pinned(3.0)) == {ip(B), ip(C)}


def test_iptables_reap_removes_one_stale_entry_per_check():
    aff = ClientIPAffinity(IptablesCascade(weights=[1], seed=1), mode="iptables", timeout=10)
    aff.pick(A, now=0.0)
    aff.pick(B, now=1.0)
    aff.pick(C, now=50.0)  # C has no entry yet: no rcheck match, no reap; then --set
    assert aff.entries == 3
    aff.pick(C, now=51.0)  # C's rcheck matches; the reap drops the oldest stale entry (A)
    assert aff.entries == 3 - 1 + 0
    aff.pick(C, now=52.0)  # next check reaps B
    assert aff.entries == 1


def test_iptables_endpoint_leaving_discards_its_list():
    aff = _iptables(n=3, timeout=100)
    b = aff.pick(A, now=0.0)
    aff.set_weight(b, 0)
    assert aff.pinned(1.0) == {}
    aff.set_weight(b, 1)  # back with an empty list
    assert aff.pinned(1.0) == {} and aff.entries == 0
    c = aff.pick(B, now=2.0)
    aff.remove_backend(c)
    assert ip(B) not in aff.pinned(3.0)


def test_iptables_adding_an_endpoint_keeps_affinity():
    aff = _iptables(n=2, timeout=100)
    b = aff.pick(A, now=0.0)
    aff.add_backend(1)
    assert aff.pick(A, now=1.0) == b


# -- nftables: sets with timeouts ----------------------------------------------------------------
def test_nftables_expires_at_timeout_exclusive_and_refreshes():
    aff = ClientIPAffinity(NftNumgen(weights=[1, 1, 1], seed=3), mode="nftables", timeout=100)
    b = aff.pick(A, now=0.0)
    assert aff.pinned(99.9) == {ip(A): Pin(b, 100.0, 0)}
    assert aff.pinned(100.0) == {}  # expired when now >= expiration
    aff.pick(A, now=99.0)
    assert aff.pinned(100.0)[ip(A)].expires == 199.0


def test_nftables_full_set_takes_no_new_client():
    aff = ClientIPAffinity(NftNumgen(weights=[1], seed=3), mode="nftables", timeout=100, capacity=2)
    for i, c in enumerate([A, B, C]):
        aff.pick(c, now=float(i))
    assert set(aff.pinned(3.0)) == {ip(A), ip(B)}  # no eviction: C was not added
    aff.pick(C, now=100.5)  # A has expired: room again
    assert set(aff.pinned(100.5)) == {ip(B), ip(C)}


def test_nftables_set_deleted_with_endpoint():
    aff = ClientIPAffinity(NftNumgen(weights=[1, 1], seed=3), mode="nftables")
    b = aff.pick(A, now=0.0)
    aff.remove_backend(b)
    assert aff.pinned(0.0) == {} and aff.entries == 0


# -- keys, batches, validation ---------------------------------------------------------------------
def test_ipv6_clients_keep_full_identity():
    aff = ClientIPAffinity(RR(weights=[1, 1, 1]), mode="ipvs")
    x, y = "2001:db8::1", "2001:db8:0:0:0:0:1:0"  # the same 32-bit fold, different clients
    assert aff.pick(x, now=0.0) == 0 and aff.pick(y, now=0.0) == 1
    assert set(aff.pinned()) == {ipaddress.ip_address(x), ipaddress.ip_address(y)}


def test_pick_many_equals_repeated_pick():
    keys = np.random.default_rng(5).integers(0, 50, 3000) + 0x0A000000
    times = np.sort(np.random.default_rng(6).uniform(0, 500, 3000))
    for mode, inner in (("iptables", IptablesCascade), ("nftables", NftNumgen), ("ipvs", RR)):
        one = ClientIPAffinity(inner(weights=[1, 2, 1, 1], seed=2), mode=mode, timeout=60)
        many = ClientIPAffinity(inner(weights=[1, 2, 1, 1], seed=2), mode=mode, timeout=60)
        expected = [one.pick(int(k), now=float(t)) for k, t in zip(keys, times)]
        assert many.pick_many(keys, now=times).tolist() == expected
        assert (one.pool.table == many.pool.table).all()


def test_validation_errors_leave_state_unchanged():
    with pytest.raises(ValueError):
        ClientIPAffinity(RR(weights=[1]), timeout=0)
    with pytest.raises(ValueError):
        ClientIPAffinity(RR(weights=[1]), timeout=86401)
    with pytest.raises(TypeError):
        ClientIPAffinity(RR(weights=[1]), timeout=1.5)
    with pytest.raises(ValueError):
        ClientIPAffinity(RR(weights=[1]), mode="userspace")
    with pytest.raises(ValueError):
        ClientIPAffinity(RR(weights=[1]), mode="iptables", expire_quiescent_template=True)
    with pytest.raises(ValueError):
        ClientIPAffinity(RR(weights=[1]), mode="ipvs", capacity=10)
    assert ClientIPAffinity(RR(weights=[1]), timeout=86400).timeout == 86400
    aff = ClientIPAffinity(RR(weights=[1, 1]), mode="ipvs")
    with pytest.raises(TypeError):
        aff.pick(now=1.0)
    aff.pick(A, now=5.0)
    table = aff.pool.table.copy()
    with pytest.raises(ValueError):
        aff.pick(A, now=4.0)
    with pytest.raises(ValueError):
        aff.pick_many([A, B], now=[6.0, 5.0])
    with pytest.raises(ValueError):
        aff.release(0, key=A, now=1.0)
    with pytest.raises(ValueError):
        aff.release(1, key=A, now=6.0)  # no connection there
    assert (aff.pool.table == table).all() and aff.clock == 5.0


def test_no_backend_available():
    aff = ClientIPAffinity(RR(weights=[0]), mode="ipvs")
    with pytest.raises(NoBackendAvailable):
        aff.pick(A, now=0.0)
    assert aff.pick_many([A], now=0.0).tolist() == [-1]
    assert aff.pinned() == {}


def test_pool_growth_keeps_affinity_and_inner_state():
    aff = ClientIPAffinity(IptablesCascade(weights=[1, 1], seed=1), mode="iptables")
    alone = IptablesCascade(weights=[1, 1], seed=1)  # the same cascade without affinity
    b = aff.pick(A, now=0.0)
    assert alone.pick() == b
    capacity = aff.pool.capacity
    for _ in range(20):  # past the pool's initial capacity: EV_RESIZE
        aff.add_backend(1)
        alone.add_backend(1)
    assert aff.pool.capacity > capacity
    assert aff.pick(A, now=1.0) == b
    # new clients match no list: each takes the cascade's next draw, as the scheduler alone does
    ids = aff.pick_many([f"10.9.0.{i}" for i in range(200)], now=2.0)
    assert ids.tolist() == alone.pick_many(200).tolist()
    assert (ids >= 0).all() and len(set(ids.tolist())) > 2
