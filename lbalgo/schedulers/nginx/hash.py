"""nginx-hash: ``hash <key>`` and ``hash <key> consistent`` (``ngx_http_upstream_hash_module.c``).

The key is a string (``$request_uri``, a header, ...): ``pick(key="/img/cat.png")``.
An integer key is a client IPv4 address standing for its text, as
``hash $remote_addr`` sees it. ::

    pick(key, now):                            (plain; compatible with Cache::Memcached)
        single primary peer, or an empty key: nginx-rr
        h = 0
        for n = 0, 1, ..., 20:
            h += bits 16..30 of crc32(key if n == 0 else str(n) + key)
            w = h mod total_weight; walk the peers (as ip_hash); usable: take it
        then nginx-rr

    ring (consistent; built at each reload, Cache::Memcached::Fast compatible):
        for each primary peer in config order, down ones included:
            split its server string at the last ':' followed only by digits
            (host, port); "unix:path" has no port
            base = crc32 register over host, one NUL byte, port
            160 * weight points: point j = crc32(base + the 4 little-endian
            bytes of point j-1), point -1 = 0
        sort by value (a stable sort: glibc's qsort is a merge sort) and keep
        the first of equal values

    pick(key, now):                            (consistent)
        single primary peer, or an empty key: nginx-rr
        i = the first point >= crc32(key) (the full 32 bits), wrapping
        repeat, at most 21 times:
            smooth-WRR pass over the usable peers whose server string is the
            point's (one peer when the string is an address); found: take it
            else i += 1
        then nginx-rr

Server strings come from ``servers=`` (as written in the config, e.g.
``"127.0.0.1:19001"``), else from the pool's ``addresses``, else
``"backend<id>"``: ``localhost:80`` and ``127.0.0.1:80`` make different rings.
For key "127.1.2.3" crc32 is 0x075d7b5a, bits 16..30 = 1885: peer 1 of four.
Source: ``ngx_http_upstream_get_hash_peer``, ``ngx_http_upstream_init_chash``,
``ngx_http_upstream_get_chash_peer``, nginx 1.22.1.
"""

from __future__ import annotations

import zlib
from typing import Any, Sequence

import numpy as np

from ... import addresses, strings
from ..._jit import kernel
from ..._table import BACKEND, EV_RESIZE, LAST_WEIGHT, account_at, item, listed
from .. import _strkeys
from .._arith import fast_mod
from .._crc32 import CRC_INIT, M32, crc32_byte, crc32_strings, crc32_zeros, decimal_register, ipv4_text_crc
from ..registry import register
from ._base import NginxScheduler
from ._peers import (
    ALGO,
    CAP,
    DIRECT,
    EXTRA_AT,
    EXTRA_LEN,
    HEADER,
    ID_SERVER_GROUP,
    ID_SERVER_REG,
    INV_TOTAL,
    NPRIM,
    TOTAL_W,
    is_single,
    now_at,
    peer_rows,
    reload,
    rr_peer,
    seconds,
    single_peer,
    touch,
    usable,
    walk,
)

# header fields
CONSISTENT = ALGO  # 1: ketama ring
RING_N = ALGO + 1  # points on the ring
RING_CAP = ALGO + 2  # room for points (two rows of RING_CAP at EXTRA_AT: values, server groups)
OVERFLOW = ALGO + 3  # 1: the last reload needed more room than the ring has (see reserve)
TEXT = ALGO + 8  # 16 values: the text of an IPv4 key
POINTS = 160


@kernel(inline="always")
def key_crc(state, key):
    """``(crc32, length)`` of a key: a packed string (``(len + 1) << 32 | crc``) or an IPv4 address's text."""
    if key >= 1 << 32:
        return key & M32, (key >> 32) - 1
    return ipv4_text_crc(key)


@kernel(inline="always")
def plain_peer(p, state, n, crc, length, now, inv):
    """``ngx_http_upstream_get_hash_peer``: the slot or -1."""
    total = state[TOTAL_W]
    nprim = state[NPRIM]
    direct = state[DIRECT]
    if total > 0 and nprim > 0:
        h = 0
        for k in range(21):
            c = crc
            if k > 0:
                # crc32(str(k) + key) from crc32(key): the register after "k" differs
                # from the initial one by a value the key's bytes only shift along.
                c = crc ^ crc32_zeros(decimal_register(k) ^ CRC_INIT, length)
            h += (c >> 16) & 0x7FFF
            s = walk(p, nprim, fast_mod(h, total, inv), total, inv, direct)
            if usable(p, s, now):
                touch(p, s, now)
                return s
    return rr_peer(p, state, n, now)


@kernel(inline="always")
def ring_peer(p, state, groups, n, crc, now):
    """``ngx_http_upstream_get_chash_peer``: the slot or -1 (``groups``: server group per slot)."""
    if state[OVERFLOW]:
        return -1  # the ring did not fit (a simulation past reserve()): no silent fallback
    npts = state[RING_N]
    if npts > 0:
        at = state[EXTRA_AT]
        ring_cap = state[RING_CAP]
        lo = 0
        hi = npts
        while lo < hi:  # the first point >= crc
            mid = (lo + hi) >> 1
            if state[at + mid] < crc:
                lo = mid + 1
            else:
                hi = mid
        point = lo
        for _ in range(21):
            group = state[at + ring_cap + point % npts]
            best = -1
            total = 0
            for s in range(n):
                if groups[s] != group or not usable(p, s, now):
                    continue
                e = p.ew[s]
                p.cw[s] += e
                total += e
                if e < p.weight[s]:
                    p.ew[s] = e + 1
                if best < 0 or p.cw[s] > p.cw[best]:
                    best = s
            if best >= 0:
                p.cw[best] -= total
                touch(p, best, now)
                return best
            point += 1
    return rr_peer(p, state, n, now)


@kernel(signature="schedule", refcount=False)
def nginx_hash_schedule(table, state, fstate, keys, times, out, first, last, mode):
    """``keys``: packed strings or IPv4 addresses (see :func:`key_crc`)."""
    consistent = state[CONSISTENT]
    p = peer_rows(table, state)
    n = listed(table)
    inv = fstate[INV_TOTAL]
    groups = state[0:0]
    if consistent:
        start = state[EXTRA_AT] + 2 * state[RING_CAP]
        groups = state[start: start + n]
    now0 = seconds(times[0])
    backend = -1
    for i in range(first, last):
        now = now_at(times, i, now0)
        crc, length = key_crc(state, item(keys, i))
        if is_single(state):
            s = single_peer(p, n)
        elif length == 0:
            s = rr_peer(p, state, n, now)
        elif consistent:
            s = ring_peer(p, state, groups, n, crc, now)
        else:
            s = plain_peer(p, state, n, crc, length, now, inv)
        backend = account_at(table, s, mode)
        out[i] = backend
    return backend


@kernel
def build_ring(table, state):
    """Rebuild the ketama ring: 160 points per unit of configured weight, sorted, duplicates dropped."""
    at = state[EXTRA_AT]
    ring_cap = state[RING_CAP]
    need = 0
    for s in range(listed(table)):
        need += POINTS * table[LAST_WEIGHT, s]
    state[RING_N] = 0
    state[OVERFLOW] = 0
    slot_groups = at + 2 * ring_cap
    grps = HEADER + ID_SERVER_GROUP * state[CAP]
    for s in range(listed(table)):
        state[slot_groups + s] = state[grps + table[BACKEND, s]]
    if need > ring_cap:
        state[OVERFLOW] = 1
        return
    order = np.empty(need, dtype=np.int64)
    groups = np.empty(need, dtype=np.int64)
    regs = HEADER + ID_SERVER_REG * state[CAP]
    k = 0
    for s in range(listed(table)):
        b = table[BACKEND, s]
        reg = state[regs + b]
        prev = 0
        for _ in range(POINTS * table[LAST_WEIGHT, s]):
            r = reg
            for shift in range(0, 32, 8):
                r = crc32_byte(r, (prev >> shift) & 0xFF)
            value = r ^ M32
            order[k] = (value << 31) | k  # sort by value, then by insertion (a stable sort)
            groups[k] = state[grps + b]
            prev = value
            k += 1
    ranked = np.sort(order)
    n = 0
    last = -1
    for j in range(need):
        value = ranked[j] >> 31
        if value != last:
            state[at + n] = value
            state[at + ring_cap + n] = groups[ranked[j] & 0x7FFFFFFF]
            n += 1
            last = value
    state[RING_N] = n


@kernel(signature="changed")
def nginx_hash_changed(table, state, fstate, event, where):
    """Every edit is a reload (and a new ring)."""
    reload(table, state, fstate)
    if state[CONSISTENT]:
        build_ring(table, state)


def server_register(server: str) -> int:
    """Return the CRC-32 register over ``host NUL port`` of a server string (split as ``init_chash`` does)."""
    raw = server.encode("utf-8")
    if raw[:5].lower() == b"unix:":
        host, port = raw[5:], b""
    else:
        host, port = raw, b""
        j = len(raw) - 1
        while j >= 0 and 48 <= raw[j] <= 57:
            j -= 1
        if j >= 0 and raw[j] == 58:  # ':' followed only by digits
            host, port = raw[:j], raw[j + 1:]
    return zlib.crc32(host + b"\0" + port) ^ M32


def packed_string(value: Any) -> int:
    """Return the kernel key of one string key: ``(len + 1) << 32 | crc32``."""
    if isinstance(value, str):
        raw = value.encode("utf-8", "surrogateescape")
    elif isinstance(value, (bytes, bytearray)):
        raw = bytes(value)
    else:
        raise TypeError(f"key must be a str, bytes or an IPv4 address, got {type(value).__name__}")
    return ((len(raw) + 1) << 32) | zlib.crc32(raw)


def string_keys(values: Any) -> np.ndarray:
    """Return the kernel keys of a batch of strings (hashed by a compiled kernel)."""
    data, offsets = _strkeys.encode(values)
    out = np.empty(len(offsets) - 1, dtype=np.int64)
    if len(out):
        crc32_strings(data, offsets, out)
    return out


@register
class NginxHash(NginxScheduler):
    """nginx ``hash <key>`` (CRC-32, 15 bits, retry sum), or ``consistent`` (ketama, 160 points per weight).

    Parameters
    ----------
    weights : sequence of int
        Peer weights in config order; see :class:`~lbalgo.schedulers.nginx._base.NginxScheduler`
        for ``down``, ``max_fails``, ``fail_timeout`` and ``max_conns``
        (nginx accepts no ``backup`` here).
    consistent : bool
        The ketama ring (``hash $key consistent``).
    servers : sequence of str, optional
        Each peer's ``server`` string as written in the config: the ring
        hashes it. Default: the pool's ``addresses`` as ``ip:port``, else
        ``"backend<id>"``. Peers with the same string share its points.
    """

    name = "nginx-hash"
    summary = "hash $key: crc32 bits 16..30 mod total weight, retries add crc32(n+key); or ketama ring"
    source = "nginx 1.22 ngx_http_upstream_hash_module.c"
    keyed = True

    _schedule = nginx_hash_schedule
    _changed = nginx_hash_changed

    def __init__(self, weights: Sequence[int] | np.ndarray | None = None, *, consistent: bool = False,
                 servers: Sequence[str] | None = None, **options: Any) -> None:
        if not isinstance(consistent, (bool, np.bool_)):
            raise TypeError(f"consistent must be True or False, got {consistent!r}")
        self.consistent = bool(consistent)
        self._servers_given = servers
        super().__init__(weights, **options)

    def _extra_init(self, n: int, options: dict[str, Any]) -> None:
        servers = self._servers_given
        if servers is None:
            given = options.get("addresses")
            pool = options.get("pool")
            if given is not None:
                servers = [addresses.endpoint_string(*addresses.parse_endpoint(a, f"addresses[{i}]"))
                           for i, a in enumerate(given)]
            elif pool is not None:
                servers = [addresses.endpoint_string(a, p) if a is not None else f"backend{b}"
                           for b, (a, p) in enumerate(zip(pool.addresses, pool.ports))]
            else:
                servers = [f"backend{b}" for b in range(n)]
        elif isinstance(servers, (str, bytes)) or len(servers) != n:
            raise ValueError(f"servers must be one string per backend ({n})")
        self.servers = [self._server(s, f"servers[{i}]") for i, s in enumerate(servers)]

    @staticmethod
    def _server(value: Any, what: str) -> str:
        if not isinstance(value, str) or not value:
            raise TypeError(f"{what} must be a non-empty string (the server as written), got {value!r}")
        return value

    def _id_extra(self, b: int) -> tuple[int, int]:
        text = self.servers[b]
        return server_register(text), self.servers.index(text)

    def _ring_need(self, capacity: int) -> int:
        pool = getattr(self, "pool", None)
        if pool is None:
            return 0
        return POINTS * int(pool.table[LAST_WEIGHT, : len(pool)].sum())

    def _extra_len(self, capacity: int) -> int:
        if not self.consistent:
            return 0
        # ring values, their server groups, then a server group per slot
        return 2 * self._ring_room(self._ring_need(capacity)) + capacity

    @staticmethod
    def _ring_room(need: int) -> int:
        return max(2 * need, 4 * POINTS)

    def _fill_extra(self, state: np.ndarray) -> None:
        state[CONSISTENT] = int(self.consistent)
        state[RING_CAP] = (state[EXTRA_LEN] - state[CAP]) // 2 if self.consistent else 0

    def _copy_extra(self, old: np.ndarray, new: np.ndarray) -> None:
        new[CONSISTENT:TEXT] = old[CONSISTENT:TEXT]
        new[RING_CAP] = (new[EXTRA_LEN] - new[CAP]) // 2 if self.consistent else 0
        self._changed.entry(self.pool.table, new, self.fstate, EV_RESIZE, 0)

    def _grow_ring(self, need: int) -> None:
        """Reallocate the state with room for ``need`` points (the per-id and per-slot rows carried over)."""
        old = self.state
        extra = 2 * self._ring_room(need) + int(old[CAP])
        state = np.zeros(int(old[EXTRA_AT]) + extra, dtype=np.int64)
        state[: int(old[EXTRA_AT])] = old[: int(old[EXTRA_AT])]
        state[EXTRA_LEN] = extra
        state[RING_CAP] = (extra - int(old[CAP])) // 2
        self.state = state

    def _pool_changed(self, event: int, where: int) -> None:
        if self.consistent and event != EV_RESIZE:
            need = self._ring_need(self.pool.capacity)
            if need > self.state[RING_CAP]:
                self._grow_ring(need)
        super()._pool_changed(event, where)

    def reserve(self, picks: int) -> None:
        """Make room, before a simulation, for rings up to twice the current one plus new peers."""
        super().reserve(picks)
        if self.consistent:
            pool = self.pool
            top = int(pool.table[LAST_WEIGHT, : len(pool)].max(initial=1))
            need = 2 * self._ring_need(pool.capacity) + POINTS * top * (pool.capacity - len(pool))
            if need > self.state[RING_CAP]:
                self._grow_ring(need)
                self._changed.entry(pool.table, self.state, self.fstate, EV_RESIZE, 0)

    def _new_id_extra(self, options: dict[str, Any]) -> Any:
        server = options.pop("server", None)
        b = self.pool.n_ids
        if server is None:
            address = options.get("address")
            server = addresses.endpoint_string(*addresses.parse_endpoint(address, "address")) \
                if address is not None else f"backend{b}"
        return self._server(server, "server")

    def _set_id(self, b: int, backup: int, max_fails: int, fail_timeout: int, extra: Any) -> None:
        super()._set_id(b, backup, max_fails, fail_timeout, extra)
        while len(self.servers) <= b:
            self.servers.append(f"backend{len(self.servers)}")
        self.servers[b] = extra
        reg, group = self._id_extra(b)
        cap = int(self.state[CAP])
        self.state[id_row_py(ID_SERVER_REG, cap) + b] = reg
        self.state[id_row_py(ID_SERVER_GROUP, cap) + b] = group

    # -- keys ------------------------------------------------------------------------------
    def _key(self, key: Any) -> int:
        if key is None:
            raise TypeError(f"{type(self).__name__}.pick() needs key= (a string, or a client IPv4 address)")
        if type(key) is int and 0 <= key < 4294967296:
            return key
        if isinstance(key, (str, bytes, bytearray)):
            return packed_string(key)
        addr = addresses.parse(key, "key")
        return int(addr) if addr.version == 4 else packed_string(str(addr))

    def _keys(self, keys: Any) -> np.ndarray:
        if strings.is_string_batch(keys):
            return string_keys(keys)
        return addresses.key_array(keys, reuse=True)  # one kernel call: see Scheduler._keys

    @property
    def ring(self) -> tuple[np.ndarray, np.ndarray]:
        """The ketama ring: point values and the backend id owning each (consistent only; read-only)."""
        if not self.consistent:
            raise AttributeError("the ring exists only with consistent=True")
        n = int(self.state[RING_N])
        at = int(self.state[EXTRA_AT])
        cap = int(self.state[RING_CAP])
        values = self.state[at: at + n].copy()
        owners = self.state[at + cap: at + cap + n].copy()
        return values, owners


def id_row_py(row: int, cap: int) -> int:
    """Python twin of :func:`~lbalgo.schedulers.nginx._peers.id_row`."""
    return HEADER + row * cap

