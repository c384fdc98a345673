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
Kernels take a region with :func:`rows_of` (2-D) or :func:`values_of`
(1-D); Python lays an array out with :class:`Layout`.
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
def rows_of(array, index, at, rows, width):
    """The region whose offset and row count are ``index[at]`` and ``index[rows]``, as rows of ``width``."""
    start = index[at]
    n = index[rows]
    return array[start:start + n * width].reshape((n, width))


@kernel(inline="always")
def values_of(array, index, at, rows):
    """A region of width 1 as a 1-D view (see :func:`rows_of`)."""
    start = index[at]
    return array[start:start + index[rows]]


class Layout:
    """How one flat array is laid out: a header of ``header`` values, then ``regions`` in order.

    ``index`` (the int64 array whose header holds the regions' fields) is
    the array itself when omitted; it is another array for an ``fstate``
    whose regions are described in ``state``.
    """

    def __init__(self, header: int, *regions: Region) -> None:
        self.header = header
        self.regions = regions

    def new(self, rows: Sequence[int], dtype: type, index: np.ndarray | None = None,
            header: np.ndarray | None = None) -> np.ndarray:
        """A zeroed array with ``rows[k]`` rows in region ``k``; the fields are set in ``index``.

        ``header`` (optional) gives the header's values (the array's own, or ``index``'s).
        """
        size = self.header + sum(n * r.width for n, r in zip(rows, self.regions))
        array = np.zeros(size, dtype=dtype)
        if header is not None:
            array[: len(header)] = header
        idx = array if index is None else index
        at = self.header
        for n, r in zip(rows, self.regions):
            idx[r.at] = at
            idx[r.rows] = n
            at += n * r.width
        return array

    def view(self, array: np.ndarray, region: Region, index: np.ndarray | None = None) -> np.ndarray:
        """The rows of ``region`` (a writable 2-D view; 1-D for width 1)."""
        idx = array if index is None else index
        start, n = int(idx[region.at]), int(idx[region.rows])
        flat = array[start:start + n * region.width]
        return flat if region.width == 1 else flat.reshape(n, region.width)

    def grown(self, array: np.ndarray, region: Region, rows: int,
              index: np.ndarray | None = None) -> np.ndarray:
        """A copy of ``array`` with ``region`` grown to ``rows`` rows (the new rows zero).

        The regions after it move; their offsets are updated in the copy's
        header, or in ``index`` when it is given.
        """
        own = index is None
        idx = array if own else index
        old = int(idx[region.rows])
        if rows <= old:
            return array
        end = int(idx[region.at]) + old * region.width
        extra = (rows - old) * region.width
        bigger = np.zeros(len(array) + extra, dtype=array.dtype)
        bigger[:end] = array[:end]
        bigger[end + extra:] = array[end:]
        if own:
            idx = bigger
        for r in self.regions[self.regions.index(region) + 1:]:
            idx[r.at] += extra
        idx[region.rows] = rows
        return bigger
