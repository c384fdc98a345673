"""Flat state arrays with named regions.

A scheduler's ``state`` (int64) and ``fstate`` (float64) are flat arrays: a
header of named fields (module constants), then *regions* of fixed-width
rows (a hash table's buckets, the rows of a cache). Where a region starts
and how many rows it has are themselves fields of the int64 header, so a
kernel finds every region wherever it is, and Python can grow one region
by reallocating the array::

    state  = [ header fields ... | region A rows | region B rows | ... ]
    fstate = [ header fields ... | region C rows | ... ]     (C's fields in state's header)

A region's rows refer to each other by row number, never by offset, so
growing (which moves the regions after it) changes nothing they hold.
Kernels take a region with :func:`region` (a flat view: row ``r``, column
``c`` at ``width * r + c``); Python lays an array out, and sees regions as
2-D views, with :class:`Layout`.
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import numpy as np

from .._jit import kernel


class Region(NamedTuple):
    """A region of a flat array: the header fields holding its offset and row count, and its width."""

    at: int  # state field: index of the region's first value in its array
    rows: int  # state field: number of rows
    width: int = 1  # values per row


@kernel(inline="always")
def region(array, index, at, rows, width):
    """Return the region whose offset and row count are ``index[at]`` and ``index[rows]``, flat.

    Row ``r``'s column ``c`` is ``region[width * r + c]``. Kernels index
    regions flat rather than through a 2-D ``reshape``: Numba's reshape calls
    an out-of-line helper, about 10 ns per view, which a scheduler would pay
    on every call (the simulator makes one call per connection).
    """
    start = index[at]
    return array[start:start + index[rows] * width]


class Layout:
    """How one flat array is laid out: a header of ``header`` values, then ``regions`` in order.

    ``index`` (the int64 array whose header holds the regions' fields) is
    the array itself when omitted; it is another array for an ``fstate``
    whose regions are described in ``state``.
    """

    def __init__(self, header: int, *regions: Region) -> None:
        self.header = header
        self.regions = regions

    def new(self, rows: Sequence[int], dtype: type, index: np.ndarray | None = None) -> np.ndarray:
        """Return a zeroed array with ``rows[k]`` rows in region ``k`` (their fields set in ``index``)."""
        size = self.header + sum(n * r.width for n, r in zip(rows, self.regions))
        array = np.zeros(size, dtype=dtype)
        idx = array if index is None else index
        at = self.header
        for n, r in zip(rows, self.regions):
            idx[r.at] = at
            idx[r.rows] = n
            at += n * r.width
        return array

    def view(self, array: np.ndarray, which: Region, index: np.ndarray | None = None) -> np.ndarray:
        """Return the rows of ``which`` (a writable 2-D view; 1-D for width 1)."""
        idx = array if index is None else index
        start, n = int(idx[which.at]), int(idx[which.rows])
        flat = array[start:start + n * which.width]
        return flat if which.width == 1 else flat.reshape(n, which.width)

    def grown(self, array: np.ndarray, which: Region, rows: int,
              index: np.ndarray | None = None) -> np.ndarray:
        """Return a copy of ``array`` with ``which`` grown to ``rows`` rows (new rows zero).

        ``array`` itself if the region has that many rows already. The
        regions after it move; their offsets are updated in the copy's
        header, or in ``index`` when it is given.
        """
        own = index is None
        idx = array if own else index
        old = int(idx[which.rows])
        if rows <= old:
            return array
        end = int(idx[which.at]) + old * which.width
        extra = (rows - old) * which.width
        bigger = np.zeros(len(array) + extra, dtype=array.dtype)
        bigger[:end] = array[:end]
        bigger[end + extra:] = array[end:]
        if own:
            idx = bigger
        for r in self.regions[self.regions.index(which) + 1:]:
            idx[r.at] += extra
        idx[which.rows] = rows
        return bigger
