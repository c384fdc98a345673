"""The Python half of an address-keyed table with an expiry clock: lblc / lblcr and ClientIP affinity.

IPVS lblc and lblcr cache destination addresses (:mod:`._locality`) and
kube-proxy's ClientIP affinity keeps entries per client (:mod:`.affinity`).
Both hold, in the arrays their kernels receive,

- entries keyed by full address (:mod:`._identity_keys`), in rows handed out
  from free lists. A :class:`FreeList` names the int64 header fields that
  count the rows in use and point at the first free row, and the column that
  chains the free rows;
- a clock, the float64 header field :data:`CLOCK`: the time of the latest
  decision. Entries expire by it, so ``now`` may never go below it.

A decision takes at most one row from each free list. The kernels never check
for room (running out is not a state they handle): the Python side grows the
tables before a call could run out. This base owns that, once::

    reserve(picks)   check picks, then _grow(picks): each table at least doubled
                     (FreeList.grown_rows, then FreeList.push_new for the new rows)
    _run(...)        pick_many's batch driver: one compiled call per chunk that
                     fits the free rows (_room), growing the tables in between
    clock, _time     the clock rule: the clock <= now <= MAX_TIME

A subclass says where its clock is (``_timing``), how its tables grow
(``_grow``), how many decisions surely fit (``_room``), how many entry rows it
has (``_table_rows``), and makes one compiled call (``_run_chunk``).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from .. import _validate
from ..errors import InvalidArgument
from ._identity_keys import AddressIdentityKeys

MAX_TIME = 1e15  # seconds; keeps tick indices and timers far from int64 and float precision limits
# float64 header field of every keyed cache (lblc / lblcr ``fstate``, affinity ``aff[TIMING]``)
CLOCK = 0  # time of the latest decision (times may not go back)


class FreeList(NamedTuple):
    """Rows of a table handed out from a free list: two int64 header fields and a link column.

    Free rows are chained through column ``link`` (a taken row reuses it,
    e.g. as its next entry in a bucket), the chain ending at -1.
    """

    used: int  # header field: rows in use
    free: int  # header field: first free row (-1: none)
    link: int  # column chaining the free rows

    def room(self, header: np.ndarray, rows: int) -> int:
        """Free rows of a table of ``rows`` rows."""
        return rows - int(header[self.used])

    def grown_rows(self, header: np.ndarray, rows: int, picks: int) -> int:
        """Rows the table needs for ``picks`` more rows: 0 if they fit, else at least twice ``rows``.

        Doubling keeps the cost of growing (a copy) amortized over the decisions.
        """
        used = int(header[self.used])
        return 0 if rows - used >= picks else max(2 * rows, used + picks)

    def push_new(self, header: np.ndarray, table: np.ndarray, first: int) -> None:
        """Put rows ``first ..`` of the 2-D ``table`` (new, unlinked) at the free list's head, in order."""
        if first >= len(table):
            return
        table[first:, self.link] = np.arange(first + 1, len(table) + 1)
        table[-1, self.link] = header[self.free]
        header[self.free] = first

    def fill(self, header: np.ndarray, table: np.ndarray) -> None:
        """Start the free list of a new ``table``: every row free, in order (none: -1)."""
        header[self.free] = -1
        self.push_new(header, table, 0)


class KeyedCache(AddressIdentityKeys):
    """Mixin for a :class:`~lbalgo.schedulers.base.Scheduler` whose kernels keep an address-keyed table.

    Owns :meth:`reserve`, the clock and the chunked batch driver :meth:`_run`;
    the subclass implements the hooks named in the module docstring.
    """

    #: a batch chunk makes room for at least this many decisions when it grows the tables
    _chunk_rows = 64

    # -- the subclass's hooks ------------------------------------------------------------
    @property
    def _timing(self) -> np.ndarray:
        """The float64 array whose field :data:`CLOCK` is the clock."""
        raise NotImplementedError(type(self).__name__)

    def _grow(self, picks: int) -> None:
        """Grow the tables so that ``picks`` more decisions fit (``picks`` is checked)."""
        raise NotImplementedError(type(self).__name__)

    def _room(self) -> int:
        """Decisions that surely fit before a table runs out of rows."""
        raise NotImplementedError(type(self).__name__)

    def _table_rows(self) -> int:
        """Entry rows the table has (used and free): the scale of a batch's growth."""
        raise NotImplementedError(type(self).__name__)

    def _run_chunk(self, keys: np.ndarray, times: np.ndarray, out: np.ndarray, first: int, last: int) -> None:
        """Schedule connections ``first .. last-1`` in one compiled call (they fit: see :meth:`_run`)."""
        raise NotImplementedError(type(self).__name__)

    def _time_error(self, t: float) -> str:
        """Return the message for a time the clock rule refuses."""
        raise NotImplementedError(type(self).__name__)

    # -- growth ---------------------------------------------------------------------------------
    def reserve(self, picks: int) -> None:
        """Make room for ``picks`` more decisions (for compiled callers of the schedule kernel).

        Each decision adds at most one entry (and, for lblcr, one replica-set
        member; for ClientIP affinity, one client, and the inner scheduler's
        rows are reserved too). ``pick`` and ``pick_many`` reserve on their own.
        """
        self._grow(_validate.count(picks, "picks"))

    def _chunk_floor(self, rows: int) -> int:
        """Free room below which a batch grows the tables before its next chunk (``rows``: entry rows)."""
        # A quarter of the table, so that chunks stay long as the table grows.
        return max(self._chunk_rows, rows // 4)

    def _run(self, keys: np.ndarray, times: np.ndarray, out: np.ndarray) -> None:
        """Schedule ``len(out)`` connections (keys and times checked) in chunks that fit the free rows."""
        n = len(out)
        done = 0
        while done < n:
            left = n - done
            rows = self._table_rows()
            if self._room() < min(left, self._chunk_floor(rows)):
                self.reserve(min(left, max(self._chunk_rows, rows)))
            end = done + min(left, self._room())
            self._run_chunk(keys, times, out, done, end)
            done = end

    def _detach_extra(self, original: Any) -> None:
        # A copy hands out its own IPv6 ids from then on.
        self._v6_ids = dict(self._v6_ids)
        self._v6_addrs = list(self._v6_addrs)

    # -- time -------------------------------------------------------------------------------------
    @property
    def clock(self) -> float:
        """Time of the latest decision (before any: the table's start); ``now`` may not go below it."""
        return float(self._timing[CLOCK])

    def _check_time(self, t: float) -> None:
        """Raise unless ``t`` (a float) is at or after the clock and at most :data:`MAX_TIME`."""
        if not self._timing[CLOCK] <= t <= MAX_TIME:
            raise InvalidArgument(self._time_error(t))

    def _time(self, now: Any) -> float:
        """Return ``now`` as a float time the clock rule accepts, or raise."""
        t = now if type(now) is float else _validate.time(now)
        self._check_time(t)
        return t

    def _check_times(self, times: np.ndarray) -> None:
        """Check one finite time per connection: non-decreasing, and from the clock on."""
        if not len(times):
            return
        back = np.diff(times) < 0
        if back.any():
            i = int(np.flatnonzero(back)[0]) + 1
            raise InvalidArgument(f"now[{i}] = {times[i]} goes back in time (times must be non-decreasing)")
        self._check_time(float(times[0]))
        self._check_time(float(times[-1]))
