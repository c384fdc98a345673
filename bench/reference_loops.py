"""Hand-written Numba loops the benchmarks measure lbalgo against (not a test module).

Each is a plain ``@numba.njit(cache=True)`` function over one contiguous
int64 array per field, in list order: what someone would write for one
algorithm with no library around it. They make exactly the decisions
lbalgo makes, with the same accounting, and the benchmarks assert that.

They live in their own module, always imported as ``bench.reference_loops``:
Numba's disk cache records the module name, and pytest imports test files
under names of its own.

- Scans (``bench/test_conn_schedulers.py``, groups ``scan-*``): IPVS lc,
  wlc, sed and nq, each decision counted as lbalgo counts it (an active
  connection: ``active += 1``, then the upper-threshold overload check).
  One loop body each, compiled for two layouts of the same fields:
  ``*_contiguous`` takes five separate 1-D arrays (weight, flags, active,
  inactive, upper threshold), ``*_rows`` the five rows of one 2-D array.
  The bodies are identical, yet Numba compiles the second better: every
  ``a[i]`` carries a negative-index wrap-around on ``len(a)``, and with
  five separate lengths the scan runs out of registers (about 1.5x slower
  for wlc at 100 backends on the CI machine). lbalgo's table rows share
  one length, like ``*_rows``.
- :func:`tailored_lc` (``bench/test_sim.py``): an event loop specialised to
  IPVS lc on the infinite-server model, with a release-only binary heap
  ordered by ``(time, sequence)`` as lbalgo's engine orders it.
"""

from __future__ import annotations

import numba

F_OVERLOAD = 2  # lbalgo._table.F_OVERLOAD (the IPVS flag's value)


# -- scans ------------------------------------------------------------------------------------
@numba.njit(inline="always")
def _lc(weight, flags, active, inactive, upper, count, out, n):
    """``count`` IPVS lc decisions over the first ``n`` list positions; ``out[i]`` = the chosen
    position (or -1). Each decision is counted: ``active += 1``, then the upper-threshold check."""
    for i in range(count):
        least = -1
        loh = 0
        for s in range(n):
            if weight[s] == 0 or flags[s] & F_OVERLOAD:
                continue
            doh = (active[s] << 8) + inactive[s]
            if least < 0 or doh < loh:
                least = s
                loh = doh
        if least >= 0:
            active[least] += 1
            u = upper[least]
            if u != 0 and active[least] + inactive[least] >= u:
                flags[least] |= F_OVERLOAD
        out[i] = least
    return count


@numba.njit(inline="always")
def _wlc(weight, flags, active, inactive, upper, count, out, n):
    """``count`` IPVS wlc decisions (see :func:`_lc`)."""
    for i in range(count):
        s = 0
        while s < n and (weight[s] == 0 or flags[s] & F_OVERLOAD):
            s += 1
        least = -1
        loh = 0
        lw = 0
        if s < n:
            least = s
            loh = (active[s] << 8) + inactive[s]
            lw = weight[s]
        for q in range(s + 1, n):
            if flags[q] & F_OVERLOAD:
                continue
            doh = (active[q] << 8) + inactive[q]
            w = weight[q]
            if loh * w > doh * lw:
                least = q
                loh = doh
                lw = w
        if least >= 0:
            active[least] += 1
            u = upper[least]
            if u != 0 and active[least] + inactive[least] >= u:
                flags[least] |= F_OVERLOAD
        out[i] = least
    return count


@numba.njit(inline="always")
def _sed(weight, flags, active, inactive, upper, count, out, n):
    """``count`` IPVS sed decisions (see :func:`_lc`)."""
    for i in range(count):
        s = 0
        while s < n and (weight[s] == 0 or flags[s] & F_OVERLOAD):
            s += 1
        least = -1
        loh = 0
        lw = 0
        if s < n:
            least = s
            loh = active[s] + 1
            lw = weight[s]
        for q in range(s + 1, n):
            if flags[q] & F_OVERLOAD:
                continue
            doh = active[q] + 1
            w = weight[q]
            if loh * w > doh * lw:
                least = q
                loh = doh
                lw = w
        if least >= 0:
            active[least] += 1
            u = upper[least]
            if u != 0 and active[least] + inactive[least] >= u:
                flags[least] |= F_OVERLOAD
        out[i] = least
    return count


@numba.njit(inline="always")
def _nq(weight, flags, active, inactive, upper, count, out, n):
    """``count`` IPVS nq decisions (see :func:`_lc`)."""
    for i in range(count):
        least = -1
        loh = 0
        lw = 0
        for s in range(n):
            w = weight[s]
            if w == 0 or flags[s] & F_OVERLOAD:
                continue
            a = active[s]
            if a == 0:
                least = s
                break
            doh = a + 1
            if least < 0 or loh * w > doh * lw:
                least = s
                loh = doh
                lw = w
        if least >= 0:
            active[least] += 1
            u = upper[least]
            if u != 0 and active[least] + inactive[least] >= u:
                flags[least] |= F_OVERLOAD
        out[i] = least
    return count


@numba.njit(cache=True)
def lc_contiguous(weight, flags, active, inactive, upper, count, out):
    """IPVS lc over one 1-D array per field (see :func:`_lc`)."""
    return _lc(weight, flags, active, inactive, upper, count, out, weight.shape[0])


@numba.njit(cache=True)
def lc_rows(fields, count, out):
    """IPVS lc over the rows of ``fields`` (weight, flags, active, inactive, upper; see :func:`_lc`)."""
    return _lc(fields[0], fields[1], fields[2], fields[3], fields[4], count, out, fields.shape[1])


@numba.njit(cache=True)
def wlc_contiguous(weight, flags, active, inactive, upper, count, out):
    """IPVS wlc over one 1-D array per field (see :func:`_wlc`)."""
    return _wlc(weight, flags, active, inactive, upper, count, out, weight.shape[0])


@numba.njit(cache=True)
def wlc_rows(fields, count, out):
    """IPVS wlc over the rows of ``fields`` (weight, flags, active, inactive, upper; see :func:`_wlc`)."""
    return _wlc(fields[0], fields[1], fields[2], fields[3], fields[4], count, out, fields.shape[1])


@numba.njit(cache=True)
def sed_contiguous(weight, flags, active, inactive, upper, count, out):
    """IPVS sed over one 1-D array per field (see :func:`_sed`)."""
    return _sed(weight, flags, active, inactive, upper, count, out, weight.shape[0])


@numba.njit(cache=True)
def sed_rows(fields, count, out):
    """IPVS sed over the rows of ``fields`` (weight, flags, active, inactive, upper; see :func:`_sed`)."""
    return _sed(fields[0], fields[1], fields[2], fields[3], fields[4], count, out, fields.shape[1])


@numba.njit(cache=True)
def nq_contiguous(weight, flags, active, inactive, upper, count, out):
    """IPVS nq over one 1-D array per field (see :func:`_nq`)."""
    return _nq(weight, flags, active, inactive, upper, count, out, weight.shape[0])


@numba.njit(cache=True)
def nq_rows(fields, count, out):
    """IPVS nq over the rows of ``fields`` (weight, flags, active, inactive, upper; see :func:`_nq`)."""
    return _nq(fields[0], fields[1], fields[2], fields[3], fields[4], count, out, fields.shape[1])


CONTIGUOUS = {"lc": lc_contiguous, "wlc": wlc_contiguous, "sed": sed_contiguous, "nq": nq_contiguous}
ROWS = {"lc": lc_rows, "wlc": wlc_rows, "sed": sed_rows, "nq": nq_rows}


# -- a tailored event loop --------------------------------------------------------------------
@numba.njit(cache=True)
def tailored_lc(arrival, lifetime, weight, flags, active, inactive, ht, hs, hv, out):
    """IPVS lc on the infinite-server model, over contiguous per-field arrays.

    Arrivals are taken in order; each connection's end goes into a binary
    heap (``ht`` times, ``hs`` sequence numbers, ``hv`` backends; room for
    every connection) ordered by ``(time, sequence)``, and an end at the
    same time as an arrival is processed first, as in lbalgo's engine. No
    thresholds: a release only decrements ``active``. ``out[i]`` is the
    list position chosen for connection ``i``. Returns the events
    processed (one per arrival, one per end).
    """
    n_backends = weight.shape[0]
    n = arrival.shape[0]
    size = 0
    seq = 0
    events = 0
    i = 0
    while i < n or size > 0:
        if size > 0 and (i >= n or ht[0] <= arrival[i]):
            b = hv[0]
            size -= 1
            if size > 0:
                t = ht[size]
                q = hs[size]
                v = hv[size]
                k = 0
                while True:
                    c = 2 * k + 1
                    if c >= size:
                        break
                    if c + 1 < size and (ht[c + 1] < ht[c] or (ht[c + 1] == ht[c] and hs[c + 1] < hs[c])):
                        c += 1
                    if t < ht[c] or (t == ht[c] and q < hs[c]):
                        break
                    ht[k] = ht[c]
                    hs[k] = hs[c]
                    hv[k] = hv[c]
                    k = c
                ht[k] = t
                hs[k] = q
                hv[k] = v
            active[b] -= 1
            events += 1
        else:
            t = arrival[i]
            least = -1
            loh = 0
            for s in range(n_backends):
                if weight[s] == 0 or flags[s] & F_OVERLOAD:
                    continue
                doh = (active[s] << 8) + inactive[s]
                if least < 0 or doh < loh:
                    least = s
                    loh = doh
            out[i] = least
            if least >= 0:
                active[least] += 1
                done = t + lifetime[i]
                k = size
                size += 1
                while k > 0:
                    p = (k - 1) >> 1
                    if ht[p] < done or (ht[p] == done and hs[p] < seq):
                        break
                    ht[k] = ht[p]
                    hs[k] = hs[p]
                    hv[k] = hv[p]
                    k = p
                ht[k] = done
                hs[k] = seq
                hv[k] = least
                seq += 1
            i += 1
            events += 1
    return events
