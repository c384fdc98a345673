"""kube-proxy's userspace mode: a shuffled round robin in the proxy process, with its own ClientIP affinity.

Sources (Kubernetes 1.25, the last release with the mode): ``pkg/proxy/userspace/roundrobin.go``
(``LoadBalancerRR``: ``NextEndpoint``, ``OnEndpointsUpdate``, ``removeStaleAffinity``,
``resetService``), ``pkg/proxy/userspace/proxysocket.go`` (``TryConnectEndpoints``, the TCP
``ProxyLoop``), ``pkg/proxy/util/utils.go`` (``ShuffleStrings``, ``BuildPortsToEndpointsMap``)
and ``k8s.io/apimachinery/pkg/util/rand`` (``Perm``: Go's ``math/rand.Rand.Perm``). ::

    on every change of the endpoint *set* (compared as sets; same set: nothing happens):
        drop the affinity entries whose endpoint left the set
        list = shuffle(new set)       # perm = Perm(k); list[perm[i]] = new[i]
        index = 0                     # Perm: for i in 0..k-1: j = Intn(i+1); m[i] = m[j]; m[j] = i

    accept a connection from client c at time t (one accept loop per service port):
        t = max(t, busy)              # the loop dials synchronously: later arrivals wait
        for attempt, timeout in enumerate((0.25 s, 0.5 s, 1 s, 2 s)):
            no endpoints: fail at once (no delay)
            now = t + time spent on the failed dials so far
            if affinity and no dial failed yet and c has an entry (e, last)
               and int(now - last) < ttl:           # Go int(time.Since(last).Seconds())
                last = now; endpoint = e            # the index does not move
            else:
                endpoint = list[index]; index = (index + 1) mod len(list)
                if affinity: c's entry = (endpoint, now)
            dial endpoint: a backend that does not answer (``Pool.fail``) costs the
                whole dial timeout; the next attempt skips the affinity lookup
            success: busy = now; return endpoint
        all four failed (3.75 s): the client connection is closed

Edge rules. The endpoints are the listed backends with weight > 0 (the ready addresses of
the Endpoints object); a *failed* backend (``Pool.fail``: its pod stopped answering but
the Endpoints object still lists it) stays in the list, since the proxy only learns of
it by dialing. Weights beyond on/off and connection thresholds do not exist here. The
affinity map is keyed by client address (a Go map keyed by the IP string: no capacity
limit, IPv6 kept distinct), holds one endpoint per client, and is shared by every
frontend of the service port (cluster IP, NodePort, external IPs all redirect to the
one proxy port). UDP dials never fail (no handshake), so ``protocol="UDP"`` sends
connections to a failed backend without retrying and without delay.

Seeding: kube-proxy seeds its generator with the wall clock, so the exact order of a
real shuffle cannot be reproduced; lbalgo reproduces the algorithm (Go's ``Perm``,
inverted as ``ShuffleStrings`` does) and its distribution (every order equally likely:
each ``Intn`` is an exact uniform draw, here ``lbalgo._rng.below``) with its own seeded
generator. See ``docs/kube-proxy.md``.
"""

from __future__ import annotations

import contextlib
import numbers
from typing import Any, Iterator, NamedTuple

import numpy as np

from .. import _rng, _validate
from .._hash import M32, hash_32
from .._jit import kernel
from .._rng import below
from .._table import BACKEND, EV_UPDATE, F_FAILED, FLAGS, HEADER, LISTED, SLOT, WEIGHT, account_at, item
from ..errors import InvalidArgument, InvalidArgumentType
from ._identity_keys import AddressIdentityKeys
from ._regions import Layout, Region, region
from .base import Scheduler
from .registry import register

#: ``EndpointDialTimeouts`` of ``proxysocket.go``: one dial attempt each, in order (seconds).
DIAL_TIMEOUTS = (0.25, 0.5, 1.0, 2.0)
#: ``v1.DefaultClientIPServiceAffinitySeconds`` and the API's maximum.
DEFAULT_TIMEOUT, MAX_TIMEOUT = 10800, 86400
MAX_TIME = 1e15  # seconds

# state (int64) header: the generator (state[0:4], lbalgo._rng), then fields
COUNT = 4  # endpoints in the round-robin list
INDEX = 5  # the round-robin index
AFFINITY = 6  # 1: sessionAffinity ClientIP
TTL = 7  # affinity ttlSeconds
RETRY = 8  # 1: failed dials are retried (TCP); 0: UDP
N_CLIENTS = 9  # distinct clients in the affinity map
BITS = 10  # the map has 2**BITS rows
HOLD = 11  # 1: rebuilds wait for the end of a batch of pool edits
DIRTY = 12  # a rebuild is waiting
GEN = 13  # membership stamp counter
SHUFFLES = 14  # how often the list was rebuilt (inspection)
LIST_AT, LIST_ROWS = 15, 16  # the shuffled list: backend ids
NEW_AT, NEW_ROWS = 17, 18  # scratch: the new set in list order
PERM_AT, PERM_ROWS = 19, 20  # scratch: the permutation
MARK_AT, MARK_ROWS = 21, 22  # per backend id: membership stamp
MAP_AT, MAP_ROWS = 23, 24  # affinity map rows: (KEY, ENDPOINT); KEY -1 = empty, ENDPOINT -1 = no entry
LAST_AT, LAST_ROWS = 25, 26  # fstate region: lastUsed of each map row
LOG_AT, LOG_ROWS = 27, 28  # fstate region: per connection of the latest call, its delay (seconds)
N_HEADER = 29
# fstate (float64) header
BUSY = 0  # the accept loop is busy dialing until then
CLOCK = 1  # the latest arrival time (times may not go back)
N_FHEADER = 2
# map columns
KEY, ENDPOINT = 0, 1
MAP_WIDTH = 2

LIST = Region(LIST_AT, LIST_ROWS)
NEW = Region(NEW_AT, NEW_ROWS)
PERM = Region(PERM_AT, PERM_ROWS)
MARK = Region(MARK_AT, MARK_ROWS)
MAP = Region(MAP_AT, MAP_ROWS, MAP_WIDTH)
LAST = Region(LAST_AT, LAST_ROWS)
LOG = Region(LOG_AT, LOG_ROWS)
STATE_LAYOUT = Layout(N_HEADER, LIST, NEW, PERM, MARK, MAP)
FSTATE_LAYOUT = Layout(N_FHEADER, LAST, LOG)
INITIAL_BITS = 6


@kernel(inline="always")
def dial_timeout(attempt):
    """Return the dial timeout of attempt 0..3 (``EndpointDialTimeouts``)."""
    t = 2.0
    if attempt == 0:
        t = 0.25
    elif attempt == 1:
        t = 0.5
    elif attempt == 2:
        t = 1.0
    return t


@kernel(inline="always")
def map_row(mp, bits, key):
    """Return the row holding ``key``, or the empty row where it would go (linear probing)."""
    mask = (1 << bits) - 1
    r = hash_32((key ^ (key >> 32)) & M32, bits)
    while mp[MAP_WIDTH * r + KEY] != key and mp[MAP_WIDTH * r + KEY] >= 0:
        r = (r + 1) & mask
    return r


@kernel(refcount=False)
def rebuild(table, state):
    """``OnEndpointsUpdate`` for one service port: reshuffle if the endpoint set changed.

    The set is the listed backends with weight > 0 or failed (a failed pod is
    still in the Endpoints object), in list order. Same set: nothing changes.
    Otherwise the affinity entries of endpoints that left are dropped, the set
    is shuffled with Go's ``Perm`` (``list[perm[i]] = new[i]``) and the index
    goes back to 0.
    """
    lst = region(state, state, LIST_AT, LIST_ROWS, 1)
    new = region(state, state, NEW_AT, NEW_ROWS, 1)
    perm = region(state, state, PERM_AT, PERM_ROWS, 1)
    mark = region(state, state, MARK_AT, MARK_ROWS, 1)
    mp = region(state, state, MAP_AT, MAP_ROWS, MAP_WIDTH)
    weight = table[WEIGHT]
    flags = table[FLAGS]
    k = 0
    for s in range(table[HEADER, LISTED]):
        if weight[s] > 0 or flags[s] & F_FAILED:
            new[k] = table[BACKEND, s]
            k += 1
    n = state[COUNT]
    if k == n:
        gen = state[GEN] + 1
        state[GEN] = gen
        for j in range(n):
            mark[lst[j]] = gen
        same = True
        for j in range(k):
            if mark[new[j]] != gen:
                same = False
                break
        if same:
            return
    gen = state[GEN] + 1
    state[GEN] = gen
    for j in range(k):
        mark[new[j]] = gen
    # removeStaleAffinity, whatever the affinity type (a map kept while affinity was off stays
    # clean); resetService clears everything, which is the same when k == 0.
    if state[MAP_ROWS] > 0:
        for r in range(state[MAP_ROWS]):
            e = mp[MAP_WIDTH * r + ENDPOINT]
            if mp[MAP_WIDTH * r + KEY] >= 0 and e >= 0 and mark[e] != gen:
                mp[MAP_WIDTH * r + ENDPOINT] = -1
    # utilrand.Perm(k): Go's inside-out construction, one Intn(i + 1) per i (i = 0 draws too).
    for i in range(k):
        j = below(state, i + 1)
        perm[i] = perm[j]
        perm[j] = i
    for i in range(k):  # ShuffleStrings: shuffled[perm[i]] = s[i]
        lst[perm[i]] = new[i]
    state[COUNT] = k
    state[INDEX] = 0
    state[SHUFFLES] += 1


@kernel(signature="changed", refcount=False)
def userspace_changed(table, state, fstate, event, where):
    """Every pool edit may change the endpoint set: rebuild, or wait for the end of a batch."""
    if state[HOLD]:
        state[DIRTY] = 1
    else:
        rebuild(table, state)


@kernel(inline="always")
def userspace_decide(table, state, lst, mp, last, key, t):
    """``TryConnectEndpoints`` around ``NextEndpoint`` for one connection accepted at ``t``.

    Returns ``(slot, spent)``: the slot dialed successfully (-1: none) and the
    seconds spent on failed dials.
    """
    n = state[COUNT]
    affinity = state[AFFINITY]
    ttl = state[TTL]
    idx = state[INDEX]
    r = -1
    if affinity:
        r = map_row(mp, state[BITS], key)
    spent = 0.0
    chosen = -1
    reset = False
    for attempt in range(4):
        if n == 0:
            break  # ErrMissingEndpoints: no dial, no delay
        now = t + spent
        e = -1
        if affinity and not reset:
            cached = mp[MAP_WIDTH * r + ENDPOINT]
            if mp[MAP_WIDTH * r + KEY] == key and cached >= 0 and np.int64(now - last[r]) < ttl:
                last[r] = now
                e = cached
        if e < 0:
            e = lst[idx]
            idx += 1
            if idx == n:
                idx = 0
            if affinity:
                if mp[MAP_WIDTH * r + KEY] < 0:
                    mp[MAP_WIDTH * r + KEY] = key
                    state[N_CLIENTS] += 1
                mp[MAP_WIDTH * r + ENDPOINT] = e
                last[r] = now
        s = table[SLOT, e]
        if state[RETRY] and table[FLAGS, s] & F_FAILED:
            spent += dial_timeout(attempt)  # the dial timed out; sessionAffinityReset = true
            reset = True
        else:
            chosen = s
            break
    state[INDEX] = idx
    return chosen, spent


@kernel(signature="schedule", refcount=False)
def userspace_schedule(table, state, fstate, keys, times, out, first, last, mode):
    """Accept connections ``first .. last-1`` (:func:`userspace_decide`), logging each one's delay.

    ``state``: the generator, fields, the shuffled list and the affinity map;
    ``fstate``: the accept loop's clock, the map's lastUsed times and the
    per-connection delay log.
    """
    lst = region(state, state, LIST_AT, LIST_ROWS, 1)
    mp = region(state, state, MAP_AT, MAP_ROWS, MAP_WIDTH)
    lastused = region(fstate, state, LAST_AT, LAST_ROWS, 1)
    log = region(fstate, state, LOG_AT, LOG_ROWS, 1)
    backend = -1
    for i in range(first, last):
        arrival = item(times, i)
        t = arrival
        if fstate[BUSY] > t:
            t = fstate[BUSY]  # the accept loop was still dialing for an earlier connection
        s, spent = userspace_decide(table, state, lst, mp, lastused, item(keys, i), t)
        fstate[BUSY] = t + spent
        if arrival > fstate[CLOCK]:
            fstate[CLOCK] = arrival
        if i < log.shape[0]:
            log[i] = t + spent - arrival
        backend = account_at(table, s, mode)
        out[i] = backend
    return backend


class Entry(NamedTuple):
    """One affinity entry: the endpoint (backend id) and when it was last used."""

    backend: int
    last_used: float


class DialLatency(NamedTuple):
    """Dial-retry latency of a simulated run: per connection, in arrival order.

    ``delay`` is the time between a connection's arrival and the moment the
    proxy's dial succeeded (or gave up): waiting for the accept loop plus its
    own failed dials. ``sojourn`` adds it to the trace's sojourn (NaN for
    dropped connections). ``affected`` counts connections with a delay > 0.
    """

    delay: np.ndarray
    sojourn: np.ndarray
    affected: int
    mean: float
    p99: float
    max: float


@register
class UserspaceRR(AddressIdentityKeys, Scheduler):
    """kube-proxy userspace mode: round robin over a shuffled endpoint list (``LoadBalancerRR``).

    Parameters
    ----------
    weights : sequence of int, optional
        Backends in list order; only weight 0 versus > 0 matters (not in / in
        the Endpoints object). See :class:`~lbalgo.schedulers.base.Scheduler`.
    affinity : bool
        ``sessionAffinity: ClientIP``: the proxy's own client map (not
        Linux's; see the module docstring). ``pick`` then needs ``key=``.
    timeout : int
        ``sessionAffinityConfig.clientIP.timeoutSeconds`` (1..86400, default 10800).
    protocol : {"TCP", "UDP"}
        TCP dials to a failed backend time out and are retried; UDP dials never fail.
    seed : int
        Seed of the shuffles (kube-proxy seeds with the wall clock).
    """

    name = "userspace"
    summary = "kube-proxy userspace: round robin over an endpoint list reshuffled on every set change"
    source = "kube-proxy 1.25 pkg/proxy/userspace roundrobin.go (LoadBalancerRR), proxysocket.go"
    family = "kube-proxy"
    insertion = "address"
    randomized = True
    _key_role = "the client address"

    _schedule = userspace_schedule
    _changed = userspace_changed

    def __init__(self, weights: Any = None, *, affinity: bool = False, timeout: int = DEFAULT_TIMEOUT,
                 protocol: str = "TCP", **options: Any) -> None:
        if not isinstance(affinity, (bool, np.bool_)):
            raise TypeError(f"affinity must be True or False, got {affinity!r}")
        if isinstance(timeout, (bool, np.bool_)) or not isinstance(timeout, numbers.Integral):
            raise TypeError(f"timeout must be an integer number of seconds, got {timeout!r}")
        if not 1 <= int(timeout) <= MAX_TIMEOUT:
            raise ValueError(f"timeout must be in 1..{MAX_TIMEOUT} seconds "
                             f"(sessionAffinityConfig.clientIP.timeoutSeconds), got {int(timeout)}")
        if protocol not in ("TCP", "UDP"):
            raise ValueError(f"protocol must be 'TCP' or 'UDP' (the userspace proxy has no SCTP), "
                             f"got {protocol!r}")
        self.affinity = bool(affinity)
        self.keyed = self.affinity
        self.timeout = int(timeout)
        self.protocol = protocol
        self._log_n = 0
        self._init_identity_keys()
        super().__init__(weights, **options)

    # -- state ----------------------------------------------------------------------------------
    def _new_state(self) -> tuple[np.ndarray, np.ndarray]:
        cap = self.pool.capacity
        rows = 1 << INITIAL_BITS
        state = STATE_LAYOUT.new([cap, cap, cap, cap, rows if self.affinity else 0], np.int64)
        state[0:4] = _rng.new_state(self.seed)
        state[AFFINITY] = 1 if self.affinity else 0
        state[TTL] = self.timeout
        state[RETRY] = 1 if self.protocol == "TCP" else 0
        state[BITS] = INITIAL_BITS if self.affinity else 0
        STATE_LAYOUT.view(state, MAP)[:, KEY] = -1
        STATE_LAYOUT.view(state, MAP)[:, ENDPOINT] = -1
        fstate = FSTATE_LAYOUT.new([rows if self.affinity else 0, 1], np.float64, index=state)
        fstate[CLOCK] = -np.inf
        rebuild(self.pool.table, state)  # OnEndpointsAdd: the first shuffle
        return state, fstate

    def _resized_state(self, capacity: int) -> tuple[np.ndarray, np.ndarray]:
        state = self.state
        for r in (LIST, NEW, PERM, MARK):
            state = STATE_LAYOUT.grown(state, r, capacity)
        return state, self.fstate

    def reserve(self, picks: int) -> None:
        """Make room for ``picks`` decisions.

        The delay log gets a row per connection index of the caller (0 ..
        picks-1) and, with affinity, the map room for ``picks`` new clients.
        """
        picks = _validate.count(picks, "picks")
        state, fstate = self.state, self.fstate
        if int(state[LOG_ROWS]) < picks:
            fstate = FSTATE_LAYOUT.grown(fstate, LOG, picks, index=state)
        self._log_n = picks
        if self.affinity:
            need = int(state[N_CLIENTS]) + picks
            bits = int(state[BITS])
            if 2 * need > (1 << bits):
                while 2 * need > (1 << bits):
                    bits += 1
                state, fstate = self._rehashed(state, fstate, bits)
        self.state, self.fstate = state, fstate

    def _rehashed(self, state: np.ndarray, fstate: np.ndarray, bits: int) -> tuple[np.ndarray, np.ndarray]:
        old_map = STATE_LAYOUT.view(state, MAP).copy()
        old_last = FSTATE_LAYOUT.view(fstate, LAST, index=state).copy()
        rows = 1 << bits
        state = STATE_LAYOUT.grown(state, MAP, rows)
        fstate = FSTATE_LAYOUT.grown(fstate, LAST, rows, index=state)
        state[BITS] = bits
        mp = STATE_LAYOUT.view(state, MAP)
        mp[:] = -1
        last = FSTATE_LAYOUT.view(fstate, LAST, index=state)
        last[:] = 0.0
        _rehash(old_map.reshape(-1), old_last, mp.reshape(-1), last, bits)
        return state, fstate

    def _detach_extra(self, original: Scheduler) -> None:
        self._v6_ids = dict(self._v6_ids)
        self._v6_addrs = list(self._v6_addrs)

    def _store_v6_fold(self, index: int, fold: int) -> None:
        """Store nothing: the map is keyed by the full address (Go keys it by the IP string)."""
        return None

    # -- batches of pool edits ------------------------------------------------------------------------
    @contextlib.contextmanager
    def batch(self) -> Iterator[UserspaceRR]:
        """Apply several pool edits as one Endpoints update: one comparison, at most one shuffle.

        kube-proxy compares the whole new endpoint set with the old one once
        per Endpoints update; edits made inside the ``with`` block are
        compared (and shuffled) together when it ends.
        """
        self.state[HOLD] = 1
        try:
            yield self
        finally:
            self.state[HOLD] = 0
            if self.state[DIRTY]:
                self.state[DIRTY] = 0
                self._changed.entry(self.pool.table, self.state, self.fstate, EV_UPDATE, 0)

    def set_affinity(self, enabled: bool) -> None:
        """Switch ClientIP affinity on or off as kube-proxy does when a Service changes.

        ``newServiceInternal`` only updates the affinity *type* of an existing
        balancer: the map and its ``ttlSeconds`` stay (a new timeout is ignored).
        """
        if not isinstance(enabled, (bool, np.bool_)):
            raise TypeError(f"enabled must be True or False, got {enabled!r}")
        enabled = bool(enabled)
        if enabled and int(self.state[MAP_ROWS]) == 0:
            state = STATE_LAYOUT.grown(self.state, MAP, 1 << INITIAL_BITS)
            fstate = FSTATE_LAYOUT.grown(self.fstate, LAST, 1 << INITIAL_BITS, index=state)
            STATE_LAYOUT.view(state, MAP)[:] = -1
            state[BITS] = INITIAL_BITS
            self.state, self.fstate = state, fstate
        self.affinity = enabled
        self.keyed = enabled
        self.state[AFFINITY] = 1 if enabled else 0

    # -- time -------------------------------------------------------------------------------------------
    @property
    def clock(self) -> float:
        """The latest arrival time seen (-inf before any); ``now`` may not go below it."""
        return float(self.fstate[CLOCK])

    @property
    def busy_until(self) -> float:
        """Until when the accept loop is dialing (failed dials hold every later connection)."""
        return float(self.fstate[BUSY])

    def _check_time(self, t: float) -> None:
        if not self.fstate[CLOCK] <= t <= MAX_TIME:
            if not -MAX_TIME <= t <= MAX_TIME:
                raise InvalidArgument(f"now must be a finite time within +-{MAX_TIME:g} s, got {t}")
            raise InvalidArgument(f"now = {t} goes back in time: the userspace proxy already accepted a "
                             f"connection at {self.clock} (times must be non-decreasing)")

    # -- scheduling ---------------------------------------------------------------------------------
    def pick(self, key: Any = None, now: float = 0.0) -> int:
        """Accept one connection from client ``key`` at time ``now``; return the backend id.

        Raises
        ------
        NoBackendAvailable
            When the service port has no endpoint, or all four dials failed.
        ValueError
            When ``now`` is earlier than a previous call's.
        """
        t = now if type(now) is float else _validate.time(now)
        self._check_time(t)
        return self._schedule_one(self._key(key) if self.keyed else 0, t)

    def _schedule_one(self, key: int, now: float) -> int:
        """One decision with converted arguments (also what a wrapper such as ClientIPAffinity calls)."""
        state = self.state
        if state[LOG_ROWS] < 1 or (state[AFFINITY] and 2 * (state[N_CLIENTS] + 1) > state[MAP_ROWS]):
            self.reserve(1)  # the map stays at most half full: probing always ends
        self._log_n = 1
        return super()._schedule_one(key, now)

    def _why_none(self) -> str:
        if int(self.state[COUNT]) > 0:
            return "all four dials failed (250 ms, 500 ms, 1 s, 2 s): the connection is closed"
        return "the service port has no endpoints"

    def pick_many(self, keys_or_count: Any, now: Any = None) -> np.ndarray:
        """Accept many connections in one compiled loop (see :meth:`pick`); -1 where none connected.

        ``now``: one time for all, or one non-decreasing time per connection
        (default: the clock, or 0.0 before the first call). Afterwards
        :meth:`dial_delays` holds each connection's delay.
        """
        if isinstance(keys_or_count, numbers.Integral) and not isinstance(keys_or_count, (bool, np.bool_)):
            if self.keyed:
                raise InvalidArgumentType("UserspaceRR.pick_many() with affinity needs an array of client "
                                          "addresses, not a count")
            n = _validate.count(keys_or_count, "count")
            keys = np.zeros(1, dtype=np.int64)
        elif self.keyed:
            keys = self._keys(keys_or_count)
            n = len(keys)
        else:  # no affinity: the addresses do not matter, but they must be addresses
            n = len(self._keys(keys_or_count))
            keys = np.zeros(1, dtype=np.int64)
        if now is None:
            clock = self.fstate[CLOCK]
            times = np.array([0.0 if clock == -np.inf else float(clock)], dtype=np.float64)
        elif np.ndim(now) == 0:
            t = _validate.time(now)
            self._check_time(t)
            times = np.array([t], dtype=np.float64)
        else:
            times = np.ascontiguousarray(now, dtype=np.float64)
            if times.ndim != 1 or len(times) != n:
                raise InvalidArgument(f"now has shape {times.shape} but there are {n} connections")
            if not np.isfinite(times).all():
                raise InvalidArgument("now contains NaN or infinite times")
            if n and np.any(np.diff(times) < 0):
                i = int(np.flatnonzero(np.diff(times) < 0)[0]) + 1
                raise InvalidArgument(f"now[{i}] = {times[i]} goes back in time "
                                      "(times must be non-decreasing)")
            if n:
                self._check_time(float(times[0]))
                self._check_time(float(times[-1]))
        out = np.empty(n, dtype=np.int64)
        self.reserve(n)
        if n:
            pool = self.pool
            self._schedule.entry(pool.table, self.state, self.fstate, keys, times, out, 0, n, pool.count_mode)
        return out

    # -- inspection ------------------------------------------------------------------------------------
    def dial_delays(self, n: int | None = None) -> np.ndarray:
        """Seconds each connection of the latest call waited before its dial succeeded (or gave up).

        After :meth:`pick` one value, after :meth:`pick_many` one per
        connection, after :func:`lbalgo.simulate` one per arrival in arrival
        order: the wait for the accept loop plus the connection's own failed
        dials (0.25, 0.75, 1.75 or 3.75 s).
        """
        m = self._log_n if n is None else _validate.count(n, "n")
        log = FSTATE_LAYOUT.view(self.fstate, LOG, index=self.state)
        if m > len(log):
            raise ValueError(f"the delay log holds {len(log)} connections, not {m}")
        return log[:m].copy()

    def setup_delays(self, n: int) -> np.ndarray:
        """Return the dial delays of the last ``n`` simulated connections (see :meth:`dial_delays`)."""
        return self.dial_delays(n)

    def dial_latency(self, simulation: Any) -> DialLatency:
        """Return the dial-retry latency of a :func:`lbalgo.simulate` run of this scheduler.

        The compiled event loop starts each connection at its arrival; this
        adds the delay the schedule kernel logged for it (see :meth:`dial_delays`) to
        its sojourn.
        """
        trace = simulation.trace
        delay = self.dial_delays(len(trace))
        sojourn = np.where(trace.backend >= 0, trace.end - trace.arrival + delay, np.nan)
        return DialLatency(delay=delay, sojourn=sojourn, affected=int(np.count_nonzero(delay > 0)),
                           mean=float(delay.mean()) if len(delay) else 0.0,
                           p99=float(np.percentile(delay, 99)) if len(delay) else 0.0,
                           max=float(delay.max()) if len(delay) else 0.0)

    @property
    def endpoint_order(self) -> list[int]:
        """Backend ids in the shuffled round-robin order."""
        return STATE_LAYOUT.view(self.state, LIST)[: int(self.state[COUNT])].tolist()

    @property
    def index(self) -> int:
        """The round-robin index: the next miss takes ``endpoint_order[index]``."""
        return int(self.state[INDEX])

    @property
    def shuffles(self) -> int:
        """How often the endpoint list was rebuilt (set changes, the first one included)."""
        return int(self.state[SHUFFLES])

    @property
    def clients(self) -> int:
        """Distinct clients the affinity map has seen."""
        return int(self.state[N_CLIENTS])

    def entries(self) -> dict:
        """Client address -> :class:`Entry` for every affinity entry held.

        Expired entries are included until kube-proxy's
        ``CleanupStaleStickySessions`` would drop them, which changes no decision.
        """
        if not self.affinity and int(self.state[MAP_ROWS]) == 0:
            return {}
        mp = STATE_LAYOUT.view(self.state, MAP)
        last = FSTATE_LAYOUT.view(self.fstate, LAST, index=self.state)
        return {self._address(int(k)): Entry(int(e), float(t))
                for (k, e), t in zip(mp.tolist(), last.tolist()) if k >= 0 and e >= 0}

    def pinned(self, now: float) -> dict:
        """Client address -> backend id for every client whose next connection at ``now`` sticks.

        That is ``int(now - last_used) < timeout``, assuming its dial succeeds.
        """
        t = _validate.time(now)
        return {c: e.backend for c, e in self.entries().items() if int(t - e.last_used) < self.timeout}

    def __repr__(self) -> str:
        w = self.pool.weights.tolist()
        extra = f", affinity=True, timeout={self.timeout}" if self.affinity else ""
        return f"UserspaceRR(weights={w}, seed={self.seed}{extra}, protocol={self.protocol!r})"


@kernel(refcount=False)
def _rehash(old_map, old_last, mp, last, bits):
    """Move every client of the old map into the new, larger one."""
    for r in range(old_map.shape[0] // MAP_WIDTH):
        key = old_map[MAP_WIDTH * r + KEY]
        if key >= 0:
            q = map_row(mp, bits, key)
            mp[MAP_WIDTH * q + KEY] = key
            mp[MAP_WIDTH * q + ENDPOINT] = old_map[MAP_WIDTH * r + ENDPOINT]
            last[q] = old_last[r]


__all__ = ["UserspaceRR", "DialLatency", "Entry", "DIAL_TIMEOUTS"]
