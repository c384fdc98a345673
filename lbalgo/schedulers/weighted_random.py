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

The candidates are the listed backends with weight > 0, in list order. The
alias table is rebuilt in integers when the pool changes, so the
probabilities are exact: no floating-point rounding. Redrawing is rejection
sampling, which leaves the conditional distribution exact too.

For the random choices real data planes make (kube-proxy iptables and
nftables modes) see :mod:`lbalgo.schedulers.kube_random`.
"""

from __future__ import annotations

import numpy as np

from .. import _rng
from .._jit import kernel
from .._rng import below
from .._table import EV_RESIZE, F_OVERLOAD, FLAGS, WEIGHT, account_at, collect_weighted
from .base import Scheduler
from .registry import register

# state layout: the generator first (lbalgo._rng works on state[0:4] in place), then fields,
# then three regions of CAP entries each: candidate slots, thresholds, aliases (slots)
RNG = 0
COUNT, TOTAL, UNIFORM, WEIGHTED, CAP = 4, 5, 6, 7, 8
REGIONS = 9
_REDRAWS = 32


@kernel(inline="always")
def _alias_draw(state, k, total, uniform, cap):
    """One exact draw from the alias table (needs ``k > 0``); returns a slot."""
    if uniform:
        s = state[REGIONS + below(state, k)]
    elif k * total < 0x80000000:
        # One uniform draw over k * total values gives the column and the
        # threshold test at once: exact, and twice as fast as two draws.
        r = below(state, k * total)
        column = r // total
        s = state[REGIONS + column]
        if r - column * total >= state[REGIONS + cap + column]:
            s = state[REGIONS + 2 * cap + column]
    else:
        s = _alias_draw_wide(state, k, total, cap)
    return s


@kernel(refcount=False)
def _alias_draw_wide(state, k, total, cap):
    """Draw from the alias table with two separate draws, for ``k * total >= 2**31``."""
    column = below(state, k)
    s = state[REGIONS + column]
    if below(state, total) >= state[REGIONS + cap + column]:
        s = state[REGIONS + 2 * cap + column]
    return s


@kernel(refcount=False)
def _redraw(table, state):
    """Draw again after the first draw hit an overloaded backend: rejection-sample, then draw exactly."""
    k = state[COUNT]
    total = state[TOTAL]
    uniform = state[UNIFORM]
    cap = state[CAP]
    s = -1
    redraws = 1
    while redraws < _REDRAWS:
        s = _alias_draw(state, k, total, uniform, cap)
        if table[FLAGS, s] & F_OVERLOAD:
            s = -1
            redraws += 1
        else:
            break
    if s < 0:
        s = _draw_not_overloaded(table, state, k, state[WEIGHTED])
    return s


@kernel(refcount=False)
def _draw_not_overloaded(table, state, k, weighted):
    """Exact weighted draw among the candidates that are not overloaded; a slot (-1: none)."""
    total = 0
    for i in range(k):
        s = state[REGIONS + i]
        if not table[FLAGS, s] & F_OVERLOAD:
            total += table[WEIGHT, s] if weighted else 1
    chosen = -1
    if total > 0:
        r = below(state, total)
        for i in range(k):
            s = state[REGIONS + i]
            if not table[FLAGS, s] & F_OVERLOAD:
                r -= table[WEIGHT, s] if weighted else 1
                if r < 0:
                    chosen = s
                    break
    return chosen


@kernel(signature="schedule", refcount=False)
def random_schedule(table, state, fstate, keys, times, out, first, last, mode):
    """``state``: generator, fields, then the alias table (see the layout constants)."""
    flags = table[FLAGS]
    k = state[COUNT]
    total = state[TOTAL]
    uniform = state[UNIFORM]
    cap = state[CAP]
    backend = -1
    for i in range(first, last):
        s = -1
        if k > 0:
            s = _alias_draw(state, k, total, uniform, cap)
            if flags[s] & F_OVERLOAD:
                s = _redraw(table, state)
        backend = account_at(table, s, mode)
        out[i] = backend
    return backend


@kernel(signature="changed")
def random_changed(table, state, fstate, event, where):
    """Rebuild the integer alias table over the listed backends with weight > 0 (any event)."""
    cap = state[CAP]
    candidates = REGIONS
    thresholds = REGIONS + cap
    aliases = REGIONS + 2 * cap
    weighted = state[WEIGHTED]
    k = collect_weighted(table, state, candidates)
    state[COUNT] = k
    if k == 0:
        state[TOTAL] = 0
        return
    scaled = np.empty(k, dtype=np.int64)
    total = 0
    uniform = True
    first = table[WEIGHT, state[candidates]]
    for i in range(k):
        w = table[WEIGHT, state[candidates + i]] if weighted else 1
        total += w
        scaled[i] = w * k
        if w != first and weighted:
            uniform = False
    state[TOTAL] = total
    state[UNIFORM] = 1 if uniform else 0
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
        state[thresholds + s] = scaled[s]
        state[aliases + s] = state[candidates + g]
        scaled[g] -= total - scaled[s]
        if scaled[g] < total:
            n_large -= 1
            small[n_small] = g
            n_small += 1
    for j in range(n_large):
        state[thresholds + large[j]] = total
        state[aliases + large[j]] = state[candidates + large[j]]
    for j in range(n_small):
        state[thresholds + small[j]] = total
        state[aliases + small[j]] = state[candidates + small[j]]


class RandomBase(Scheduler):
    """Shared state handling for schedulers that hold a random generator.

    ``state`` starts with the generator's four words (``state[0:4]``, which
    :mod:`lbalgo._rng` reads and advances in place); the rest is laid out by
    the subclass, with regions sized for the table's capacity. Everything
    but the generator is derived from the table by the ``changed`` hook, so a
    larger table gets a fresh layout, the same generator, and a rebuild.
    """

    randomized = True

    def _blank_state(self, capacity: int) -> np.ndarray:
        """Return the subclass's state for ``capacity`` ids: fields set, generator words still 0."""
        raise NotImplementedError(type(self).__name__)

    def _built(self, capacity: int, generator: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        state = self._blank_state(capacity)
        state[RNG:RNG + 4] = generator
        fstate = np.zeros(0, dtype=np.float64)
        self._changed.entry(self.pool.table, state, fstate, EV_RESIZE, 0)
        return state, fstate

    def _new_state(self) -> tuple[np.ndarray, np.ndarray]:
        return self._built(self.pool.capacity, _rng.new_state(self.seed))

    def _resized_state(self, capacity: int) -> tuple[np.ndarray, np.ndarray]:
        # Keep the generator; rebuild the rest in larger regions.
        return self._built(capacity, self.state[RNG:RNG + 4])


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
    family = "lbalgo"

    _schedule = random_schedule
    _changed = random_changed

    def __init__(self, weights=None, *, weighted: bool = True, **options) -> None:
        if not isinstance(weighted, (bool, np.bool_)):
            raise TypeError(f"weighted must be True or False, got {weighted!r}")
        self.weighted = bool(weighted)
        super().__init__(weights, **options)

    def _blank_state(self, capacity: int) -> np.ndarray:
        state = np.zeros(REGIONS + 3 * capacity, dtype=np.int64)
        state[WEIGHTED] = 1 if self.weighted else 0
        state[CAP] = capacity
        return state
