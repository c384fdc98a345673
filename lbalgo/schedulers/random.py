"""random: weighted random choice, exact and seeded.

No real system is modelled bit for bit here; this is the textbook policy:
backend ``b`` gets a new connection with probability ``w_b / sum(w)`` over
the listed backends with weight > 0 that are not overloaded (``weighted=False``:
uniform over them). Draws are independent per connection. ::

    pick():
        draw r uniformly in [0, k*W); column c = r // W, u = r mod W
        b = candidate[c] if u < threshold[c] else alias[c]      (Walker/Vose alias)
        if b is overloaded: draw again (at most 32 times), then draw exactly
        over the backends that are not overloaded

The alias table is rebuilt in integers when the pool changes, so the
probabilities are exact: no floating-point rounding. Redrawing is rejection
sampling, which leaves the conditional distribution exact too.

For the random choices real data planes make (kube-proxy iptables and
nftables modes) see :mod:`lbalgo.schedulers.kube_random`.
"""

from __future__ import annotations

import numpy as np

from .. import _rng
from .._rng import below, next_u32
from .._jit import kernel
from .._table import F_OVERLOAD, FLAGS, WEIGHT, collect_weighted
from .base import Scheduler, schedule_batch, schedule_one
from .registry import register

# meta slots
COUNT, TOTAL, UNIFORM, WEIGHTED = 0, 1, 2, 3
_REDRAWS = 32


@kernel(refcount=False)
def random_pick(table, order, state, key, now):
    """``state`` = (rng int64[4], candidates, thresholds, aliases, meta int64[4])."""
    rng, candidates, thresholds, aliases, meta = state
    backend = -1
    if meta[COUNT] > 0:
        backend = _alias_draw(rng, candidates, thresholds, aliases, meta)
        if table[backend, FLAGS] & F_OVERLOAD:
            backend = _redraw(table, rng, candidates, thresholds, aliases, meta)
    return backend


@kernel(inline="always")
def _alias_draw(rng, candidates, thresholds, aliases, meta):
    """One exact draw from the alias table (needs ``meta[COUNT] > 0``)."""
    k = meta[COUNT]
    total = meta[TOTAL]
    if meta[UNIFORM]:
        backend = candidates[below(rng, k)]
    elif k * total < 0x80000000:
        # One uniform draw over k * total values gives the column and the
        # threshold test at once: exact, and twice as fast as two draws.
        r = below(rng, k * total)
        column = r // total
        backend = candidates[column]
        if r - column * total >= thresholds[column]:
            backend = aliases[column]
    else:
        backend = _alias_draw_wide(rng, candidates, thresholds, aliases, k, total)
    return backend


@kernel(refcount=False)
def _alias_draw_wide(rng, candidates, thresholds, aliases, k, total):
    """The alias draw with two separate draws, for ``k * total >= 2**31``."""
    column = below(rng, k)
    backend = candidates[column]
    if below(rng, total) >= thresholds[column]:
        backend = aliases[column]
    return backend


@kernel(refcount=False)
def _redraw(table, rng, candidates, thresholds, aliases, meta):
    """The first draw hit an overloaded backend: rejection-sample, then draw exactly."""
    backend = -1
    redraws = 1
    while redraws < _REDRAWS:
        backend = _alias_draw(rng, candidates, thresholds, aliases, meta)
        if table[backend, FLAGS] & F_OVERLOAD:
            backend = -1
            redraws += 1
        else:
            break
    if backend < 0:
        backend = _draw_not_overloaded(table, rng, candidates, meta[COUNT], meta[WEIGHTED])
    return backend


@kernel(refcount=False)
def _draw_not_overloaded(table, rng, candidates, k, weighted):
    """Exact weighted draw among the candidates that are not overloaded (-1: none)."""
    total = 0
    for i in range(k):
        backend = candidates[i]
        if not table[backend, FLAGS] & F_OVERLOAD:
            total += table[backend, WEIGHT] if weighted else 1
    chosen = -1
    if total > 0:
        r = below(rng, total)
        for i in range(k):
            backend = candidates[i]
            if not table[backend, FLAGS] & F_OVERLOAD:
                r -= table[backend, WEIGHT] if weighted else 1
                if r < 0:
                    chosen = backend
                    break
    return chosen


@kernel
def random_changed(table, order, state, event, pos):
    """Rebuild the integer alias table over the listed backends with weight > 0."""
    rng, candidates, thresholds, aliases, meta = state
    k = collect_weighted(table, order, candidates)
    meta[COUNT] = k
    if k == 0:
        meta[TOTAL] = 0
        return
    scaled = np.empty(k, dtype=np.int64)
    total = 0
    uniform = True
    first = table[candidates[0], WEIGHT]
    for i in range(k):
        w = table[candidates[i], WEIGHT] if meta[WEIGHTED] else 1
        total += w
        scaled[i] = w * k
        if w != first and meta[WEIGHTED]:
            uniform = False
    meta[TOTAL] = total
    meta[UNIFORM] = 1 if uniform else 0
    # Vose's alias method in integers: column i keeps candidate i with
    # probability thresholds[i] / total and otherwise gives aliases[i].
    small = np.empty(k, dtype=np.int64)
    large = np.empty(k, dtype=np.int64)
    n_small = 0
    n_large = 0
    for i in range(k):
        if scaled[i] < total:
            small[n_small] = i
            n_small += 1
        else:
            large[n_large] = i
            n_large += 1
    while n_small > 0 and n_large > 0:
        n_small -= 1
        s = small[n_small]
        g = large[n_large - 1]
        thresholds[s] = scaled[s]
        aliases[s] = candidates[g]
        scaled[g] -= total - scaled[s]
        if scaled[g] < total:
            n_large -= 1
            small[n_small] = g
            n_small += 1
    for j in range(n_large):
        thresholds[large[j]] = total
        aliases[large[j]] = candidates[large[j]]
    for j in range(n_small):
        thresholds[small[j]] = total
        aliases[small[j]] = candidates[small[j]]


@kernel
def _random_one(table, order, state, key, now, as_active):
    return schedule_one(random_pick, table, order, state, key, now, as_active)


@kernel
def _random_batch(table, order, state, keys, times, now, as_active, out):
    schedule_batch(random_pick, table, order, state, keys, times, now, as_active, out)


class RandomBase(Scheduler):
    """Shared state handling for schedulers that hold a random generator.

    The state is a tuple whose first element is the generator and whose
    other arrays hold one entry per backend id; they grow with the pool.
    """

    randomized = True

    def _sized_arrays(self, capacity: int) -> tuple[np.ndarray, ...]:
        raise NotImplementedError(type(self).__name__)

    def _new_state(self) -> tuple[np.ndarray, ...]:
        state = (_rng.new_state(self.seed),) + self._sized_arrays(self.pool.table.shape[0])
        self._changed(self.pool.table, self.pool.order, state, 0, 0)
        return state

    def _resized_state(self, capacity: int) -> tuple[np.ndarray, ...]:
        # Keep the generator and copy the rest into larger arrays.
        fresh = self._sized_arrays(capacity)
        for new, old in zip(fresh, self.state[1:]):
            n = min(len(new), len(old))
            new[:n] = old[:n]
        return (self.state[0],) + fresh


@register
class Random(RandomBase):
    """Weighted (or uniform) random choice, seeded and exact.

    Parameters
    ----------
    weights : sequence of int
        Backend weights; see :class:`~lbalgo.schedulers.base.Scheduler`.
    weighted : bool
        True (default): probability proportional to weight. False: uniform
        over the backends with weight > 0.
    seed : int
        Seed of the generator (xoshiro128**); the same seed gives the same picks.
    """

    name = "random"
    summary = "independent weighted random draw per connection (exact alias table)"
    source = "textbook; see iptables / nftables for kube-proxy's forms"

    _pick = random_pick
    _changed = random_changed
    _schedule_one = _random_one
    _schedule_batch = _random_batch

    def __init__(self, weights=None, *, weighted: bool = True, **options) -> None:
        if not isinstance(weighted, (bool, np.bool_)):
            raise TypeError(f"weighted must be True or False, got {weighted!r}")
        self.weighted = bool(weighted)
        super().__init__(weights, **options)

    def _sized_arrays(self, capacity: int) -> tuple[np.ndarray, ...]:
        meta = np.zeros(4, dtype=np.int64)
        meta[WEIGHTED] = 1 if self.weighted else 0
        return (np.zeros(capacity, np.int64), np.zeros(capacity, np.int64),
                np.zeros(capacity, np.int64), meta)
