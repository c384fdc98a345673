"""nginx-random: ``random`` and ``random two`` (``ngx_http_upstream_random_module.c``).

::

    ranges: peer k owns [start_k, start_k + weight_k), start_k = the weights
            before it (configured weights, down peers included)
    peek(): x = random() mod total_weight; binary search for the peer owning x

    pick(now):                                  (random)
        fewer than 2 primary peers: nginx-rr
        repeat: p = peek(); usable: take it; else count a try
                (after more than 20 tries: nginx-rr)

    pick(now):                                  (random two [least_conn])
        fewer than 2 primary peers: nginx-rr
        prev = none
        repeat:
            p = peek()
            if p is prev or p is not usable: count a try
            elif prev is none: prev = p; count a try
            else: take p, or prev when p.conns * prev.weight > prev.conns * p.weight
                  (ties go to the second draw)
            (after more than 20 tries: nginx-rr)

``random()`` is glibc's (the additive feedback generator, ``TYPE_3``), and
every nginx worker seeds it once: ``srandom((pid << 16) ^ sec ^ msec)`` at
start (``ngx_worker_process_init``). lbalgo runs the same generator from
``srandom(seed mod 2**32)``: with the worker's seed it makes the worker's
decisions, draw for draw; any seed gives nginx's distribution, modulo bias
included. Source: ``ngx_http_upstream_get_random_peer``,
``ngx_http_upstream_get_random2_peer``, ``ngx_http_upstream_peek_random_peer``,
nginx 1.22.1; glibc 2.36 ``stdlib/random_r.c``.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..._jit import kernel
from ..._table import account_at, listed
from .._arith import fast_mod
from ..registry import register
from ._base import NginxScheduler
from ._peers import (
    ALGO,
    DIRECT,
    INV_TOTAL,
    NPRIM,
    TOTAL_W,
    conns,
    now_at,
    peer_rows,
    reload,
    rr_peer,
    seconds,
    touch,
    usable,
    walk,
)

M32 = 0xFFFFFFFF
# header fields
TWO = ALGO
WORDS = ALGO + 2  # glibc's 31 state words
FRONT = WORDS + 31  # fptr and rptr, as indexes into the words
REAR = FRONT + 1


@kernel(inline="always")
def glibc_random(state, f, r):
    """Glibc ``random_r`` (TYPE_3): ``(value in 0..2**31-1, f, r)``; the words live in ``state``.

    ``f`` and ``r`` are the front and rear indexes (``fptr``, ``rptr``), kept
    in locals during a batch and stored back at its end.
    """
    value = (state[WORDS + f] + state[WORDS + r]) & M32
    state[WORDS + f] = value
    f += 1
    if f >= 31:
        f = 0
        r += 1
    else:
        r += 1
        if r >= 31:
            r = 0
    return value >> 1, f, r


@kernel(inline="always")
def random_peer(p, state, n, now, inv, f, r):
    """One ``random`` decision: ``(slot or -1, f, r)``."""
    nprim = state[NPRIM]
    direct = state[DIRECT]
    total = state[TOTAL_W]
    if nprim >= 2 and total > 0:
        for _ in range(21):
            x, f, r = glibc_random(state, f, r)
            s = walk(p, nprim, fast_mod(x, total, inv), total, inv, direct)
            if usable(p, s, now):
                touch(p, s, now)
                return s, f, r
    return rr_peer(p, state, n, now), f, r


@kernel(inline="always")
def random2_peer(table, p, state, n, now, inv, f, r):
    """One ``random two`` decision: ``(slot or -1, f, r)``."""
    nprim = state[NPRIM]
    direct = state[DIRECT]
    total = state[TOTAL_W]
    if nprim >= 2 and total > 0:
        prev = -1
        for _ in range(21):
            x, f, r = glibc_random(state, f, r)
            s = walk(p, nprim, fast_mod(x, total, inv), total, inv, direct)
            if s == prev or not usable(p, s, now):
                continue
            if prev >= 0:
                if conns(table, s) * p.weight[prev] > conns(table, prev) * p.weight[s]:
                    s = prev
                touch(p, s, now)
                return s, f, r
            prev = s
    return rr_peer(p, state, n, now), f, r


@kernel(signature="schedule", refcount=False)
def nginx_random_schedule(table, state, fstate, keys, times, out, first, last, mode):
    """``state``: the nginx peer layout, glibc's generator in the header."""
    two = state[TWO]
    inv = fstate[INV_TOTAL]
    p = peer_rows(table, state)
    n = listed(table)
    f = state[FRONT]
    r = state[REAR]
    now0 = seconds(times[0])
    backend = -1
    for i in range(first, last):
        now = now_at(times, i, now0)
        if two:
            s, f, r = random2_peer(table, p, state, n, now, inv, f, r)
        else:
            s, f, r = random_peer(p, state, n, now, inv, f, r)
        backend = account_at(table, s, mode)
        out[i] = backend
    state[FRONT] = f
    state[REAR] = r
    return backend


@kernel(signature="changed")
def nginx_random_changed(table, state, fstate, event, where):
    """Every edit is a reload (new ranges: the prefix sums); the generator goes on."""
    reload(table, state, fstate)


def glibc_srandom(seed: int) -> np.ndarray:
    """Glibc ``srandom_r(seed)`` for TYPE_3: the 31 words, front and rear indexes (33 int64 values)."""
    def int32(x: int) -> int:
        x &= M32
        return x - (1 << 32) if x & 0x80000000 else x

    seed &= M32
    if seed == 0:
        seed = 1
    words = [int32(seed)]
    word = int32(seed)
    for _ in range(1, 31):
        hi = abs(word) // 127773 * (1 if word >= 0 else -1)  # C division truncates toward zero
        lo = word - hi * 127773
        word = int32(16807 * lo - 2836 * hi)
        if word < 0:
            word += 2147483647
        words.append(word)
    state = [w & M32 for w in words] + [3, 0]
    f, r = 3, 0
    for _ in range(310):  # srandom_r discards 10 * 31 values
        state[f] = (state[f] + state[r]) & M32
        f, r = (0, r + 1) if f + 1 >= 31 else (f + 1, 0 if r + 1 >= 31 else r + 1)
    state[31], state[32] = f, r
    return np.array(state, dtype=np.int64)


@register
class NginxRandom(NginxScheduler):
    """nginx ``random`` (weighted), or ``random two least_conn``.

    Parameters
    ----------
    weights : sequence of int
        Peer weights in config order; see :class:`~lbalgo.schedulers.nginx._base.NginxScheduler`
        for ``down``, ``max_fails``, ``fail_timeout`` and ``max_conns``
        (nginx accepts no ``backup`` here).
    two : bool
        Draw two peers and keep the one with fewer requests per weight.
    seed : int
        The worker's ``srandom`` seed (taken mod 2**32): nginx uses
        ``(pid << 16) ^ sec ^ msec`` of the worker's start.
    """

    name = "nginx-random"
    summary = "weighted random over ranges with glibc random(); two=True keeps the less loaded of two draws"
    source = "nginx 1.22 ngx_http_upstream_random_module.c"
    randomized = True

    _schedule = nginx_random_schedule
    _changed = nginx_random_changed

    def __init__(self, weights: Sequence[int] | np.ndarray | None = None, *, two: bool = False,
                 **options: Any) -> None:
        if not isinstance(two, (bool, np.bool_)):
            raise TypeError(f"two must be True or False, got {two!r}")
        self.two = bool(two)
        super().__init__(weights, **options)

    def _fill_extra(self, state: np.ndarray) -> None:
        state[TWO] = int(self.two)
        state[WORDS:REAR + 1] = glibc_srandom(self.seed)

    def _copy_extra(self, old: np.ndarray, new: np.ndarray) -> None:
        new[TWO:REAR + 1] = old[TWO:REAR + 1]
        super()._copy_extra(old, new)
