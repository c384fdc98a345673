"""Recorded traces: files of connections read as a :class:`~lbalgo.workloads.Workload` that replays them.

A trace gives, per connection, its arrival time and lifetime, and optionally
its client and destination addresses. :func:`load_trace` reads CSV with a
header, ``.npy`` structured arrays and ``.npz`` archives (one array per
column). Every size is checked against ``lbalgo.limits.MAX_TRACE_BYTES``
before it is read, and a malformed file raises :class:`TraceError` naming the
line (CSV, 1-based, the header is line 1) or row (NumPy, 0-based) and the
column of the first bad value.
"""

from __future__ import annotations

import ast
import csv
import ipaddress
import math
import os
import stat
import struct
import zipfile
import zlib
from typing import Any

import numpy as np

from . import errors, limits
from .addresses import fold32, key_array
from .errors import LbalgoError, short
from .workloads import RecordedArrivals, RecordedDurations, RecordedKeys, Workload

__all__ = ["TraceError", "load_trace", "MAX_CSV_LINE"]


class TraceError(LbalgoError, ValueError):
    """A recorded trace file is malformed (the message names the file, the line/row and column)."""


_ARRIVAL = ("arrival", "time", "t")
_LIFETIME = ("lifetime", "duration", "service")


def _find(names: list[str], options: tuple[str, ...]) -> str | None:
    for o in options:
        if o in names:
            return o
    return None


def _key_value(text: str) -> int:
    text = text.strip()
    if text.isdigit():
        v = int(text)
        return v if v < 2**32 else fold32(ipaddress.IPv6Address(v))
    return fold32(ipaddress.ip_address(text))


def load_trace(path: str | os.PathLike, *, seed: int = 0) -> Workload:
    """Load a recorded trace as a :class:`Workload` that replays it exactly.

    Columns (CSV header names, ``.npy`` structured-array fields or ``.npz``
    array names): ``arrival`` (or ``time``), ``lifetime`` (or ``duration``),
    and optionally ``client`` and ``destination`` (an IPv4/IPv6 address or
    an integer). Arrival times must be non-decreasing.

    Raises
    ------
    TraceError
        Naming the file, the line (CSV, 1-based, the header is line 1) or row
        (NumPy, 0-based), and the column of the first bad value.
    """
    path = os.fspath(path)
    ext = os.path.splitext(path)[1].lower()
    if ext == ".csv":
        cols = _read_csv(path)
    elif ext in (".npy", ".npz"):
        cols = _read_numpy(path, ext)
    else:
        raise TraceError(f"{path}: unknown trace format {short(ext)} (use .csv, .npy or .npz)")
    arrival, lifetime = cols["arrival"], cols["lifetime"]
    n = len(arrival)
    client, destination = cols.get("client"), cols.get("destination")
    return Workload(arrivals=RecordedArrivals(arrival), n=n, lifetimes=RecordedDurations(lifetime),
                    clients=None if client is None else RecordedKeys(client),
                    destinations=None if destination is None else RecordedKeys(destination),
                    seed=seed)


#: Longest line of a CSV trace (characters); a longer one is not a trace.
MAX_CSV_LINE = 1 << 20


def _open_trace(path: str, regular_only: bool) -> Any:
    """Open a trace file, checking before reading that it is a file within ``MAX_TRACE_BYTES``."""
    try:
        f = open(path, "rb")
    except OSError as e:
        raise TraceError(f"cannot read {path}: {e.strerror or e}") from None
    try:
        st = os.fstat(f.fileno())
        if stat.S_ISDIR(st.st_mode):
            raise TraceError(f"cannot read {path}: it is a directory")
        if regular_only and not stat.S_ISREG(st.st_mode):
            raise TraceError(f"{path}: a NumPy trace must be a regular file")
        if stat.S_ISREG(st.st_mode):
            limits.check("MAX_TRACE_BYTES", st.st_size,
                         f"{path}: the file ({limits.describe('MAX_TRACE_BYTES', st.st_size)})", TraceError)
    except BaseException:
        f.close()
        raise
    return f


def _bounded_lines(f: Any, path: str) -> Any:
    """Yield the lines of binary file ``f`` as text, stopping at ``MAX_TRACE_BYTES`` in all.

    The cap also holds for a pipe or ``/dev/zero``, whose size is unknown.

    Each line is decoded as UTF-8 on its own (a leading byte-order mark is
    dropped), so an undecodable byte is reported on its own line.
    """
    cap = limits.get("MAX_TRACE_BYTES")
    total = 0
    number = 0
    while True:
        raw = f.readline(MAX_CSV_LINE + 1)
        if not raw:
            return
        number += 1
        total += len(raw)
        if len(raw) > MAX_CSV_LINE:
            raise TraceError(f"{path} line {number}: longer than {MAX_CSV_LINE:,} bytes; not a trace")
        if total > cap:
            too_large = errors.limit_error(TraceError)
            raise too_large(f"{path}: the input is over {limits.describe('MAX_TRACE_BYTES')} "
                            f"({limits.how_to_raise('MAX_TRACE_BYTES')})")
        if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise TraceError(f"{path} line {number}: not UTF-8 text (byte 0x{raw[e.start]:02x}); "
                             "save the file as UTF-8") from None


def _read_csv(path: str) -> dict[str, np.ndarray]:
    with _open_trace(path, regular_only=False) as f:
        reader = csv.reader(_bounded_lines(f, path))
        try:
            return _csv_columns(reader, path)
        except csv.Error as e:
            raise TraceError(f"{path} line {reader.line_num}: not valid CSV: {e}") from None


def _csv_columns(reader: Any, path: str) -> dict[str, np.ndarray]:
    header = next(reader, None)
    if header is None:
        raise TraceError(f"{path}: the file is empty (a header line is needed)")
    names = [h.strip().lower() for h in header]
    a_name, l_name = _find(names, _ARRIVAL), _find(names, _LIFETIME)
    if a_name is None or l_name is None:
        missing = "arrival" if a_name is None else "lifetime"
        raise TraceError(f"{path} line 1: no {short(missing)} column in the header {short(header)}")
    ia, il = names.index(a_name), names.index(l_name)
    ic = names.index("client") if "client" in names else None
    idst = names.index("destination") if "destination" in names else None
    arrival, lifetime, client, dest = [], [], [], []
    last = -math.inf
    for row in reader:
        line = reader.line_num
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) != len(names):
            raise TraceError(f"{path} line {line}: expected {len(names)} fields, got {len(row)}")
        t = _number(path, line, a_name, row[ia])
        if t < last:
            raise TraceError(f"{path} line {line}, column {short(a_name)}: {t} is earlier than the "
                             f"previous arrival {last} (arrivals must be non-decreasing)")
        last = t
        arrival.append(t)
        lifetime.append(_number(path, line, l_name, row[il]))
        for idx, name, out in ((ic, "client", client), (idst, "destination", dest)):
            if idx is not None:
                try:
                    out.append(_key_value(row[idx]))
                except ValueError:
                    raise TraceError(f"{path} line {line}, column {short(name)}: {short(row[idx])} is not an "
                                     f"IP address or integer key") from None
    return {"arrival": np.array(arrival, dtype=np.float64), "lifetime": np.array(lifetime, dtype=np.float64),
            "client": np.array(client, dtype=np.int64) if ic is not None else None,
            "destination": np.array(dest, dtype=np.int64) if idst is not None else None}


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 160 else text[:157] + "..."


def _number(path: str, line: int, column: str, text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise TraceError(f"{path} line {line}, column {short(column)}: {short(text)} "
                         "is not a number") from None
    if not math.isfinite(v) or v < 0:
        raise TraceError(f"{path} line {line}, column {short(column)}: {short(text)} is not a finite time >= "
                         "0")
    return v


#: What a malformed .npy / .npz file can raise inside NumPy and zipfile.
_NUMPY_ERRORS = (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError, TypeError, UnicodeError,
                 SyntaxError, RecursionError, struct.error, zlib.error, RuntimeError, NotImplementedError)


def _npy_declared(f: Any, where: str, available: int) -> int:
    """Return the bytes of data the .npy header at ``f``'s position declares, checked against ``available``.

    The size is also checked against ``MAX_TRACE_BYTES``. Reads only the
    header (NumPy would allocate what the header declares, 1.5 TiB if it
    says so, before noticing the data is missing).
    """
    if f.read(6) != b"\x93NUMPY":
        raise TraceError(f"{where}: not a .npy array (bad magic bytes)")
    version = f.read(2)
    if len(version) != 2 or version[0] not in (1, 2, 3):
        raise TraceError(f"{where}: unknown .npy format version {tuple(version)}")
    size_bytes = 2 if version[0] == 1 else 4
    raw = f.read(size_bytes)
    if len(raw) != size_bytes:
        raise TraceError(f"{where}: the .npy header is cut short")
    length = struct.unpack("<H" if size_bytes == 2 else "<I", raw)[0]
    if length > 1 << 16:
        raise TraceError(f"{where}: the .npy header declares {length:,} bytes; not a trace")
    text = f.read(length)
    if len(text) != length:
        raise TraceError(f"{where}: the .npy header is cut short")
    header = ast.literal_eval(text.decode("utf-8" if version[0] == 3 else "latin1"))
    if not isinstance(header, dict) or not {"descr", "fortran_order", "shape"} <= set(header):
        raise TraceError(f"{where}: the .npy header is not a NumPy array header")
    shape = header["shape"]
    if not isinstance(shape, tuple) or not all(isinstance(d, int) and d >= 0 for d in shape):
        raise TraceError(f"{where}: the .npy header has a bad shape {short(shape)}")
    dtype = np.lib.format.descr_to_dtype(header["descr"])
    declared = math.prod(shape) * dtype.itemsize
    limits.check("MAX_TRACE_BYTES", declared,
                 f"{where}: the array ({short(shape)} of {short(str(dtype))}, "
                 f"{limits.describe('MAX_TRACE_BYTES', declared)})", TraceError)
    data = available - 6 - 2 - size_bytes - length
    if dtype.hasobject:
        raise TraceError(f"{where}: the array holds Python objects (pickles), which are not read")
    if declared > data:
        raise TraceError(f"{where}: the header declares {short(shape)} of {short(str(dtype))} "
                         f"({declared:,} bytes) "
                         f"but the file holds {max(data, 0):,} bytes of data")
    return declared


def _read_numpy(path: str, ext: str) -> dict[str, np.ndarray]:
    """Read the columns of a .npy (structured array) or .npz (one array per column) trace.

    Every size is checked before NumPy allocates anything.
    """
    with _open_trace(path, regular_only=True) as f:
        size = os.fstat(f.fileno()).st_size
        try:
            if size == 0:
                raise TraceError(f"{path}: the file is empty")
            if ext == ".npy":
                _npy_declared(f, path, size)
                f.seek(0)
                data = np.load(f, allow_pickle=False)
                if data.dtype.names is None:
                    raise TraceError(f"{path}: a .npy trace must be a structured array with named fields "
                                     f"(arrival, lifetime, ...), got dtype {data.dtype}")
                fields = {name.lower(): data[name] for name in data.dtype.names}
            else:
                with zipfile.ZipFile(f) as archive:
                    members = archive.infolist()
                    total = sum(info.file_size for info in members)
                    limits.check("MAX_TRACE_BYTES", total, f"{path}: the arrays, decompressed "
                                 f"({limits.describe('MAX_TRACE_BYTES', total)})", TraceError)
                    for info in members:
                        with archive.open(info) as member:
                            _npy_declared(member, f"{path} [{short(info.filename)}]", info.file_size)
                f.seek(0)
                with np.load(f, allow_pickle=False) as z:
                    fields = {name.lower(): z[name] for name in z.files}
        except TraceError:
            raise
        except _NUMPY_ERRORS as exc:
            raise TraceError(f"{path}: cannot read as {ext}: {_one_line(exc)}") from None
    a_name, l_name = _find(list(fields), _ARRIVAL), _find(list(fields), _LIFETIME)
    if a_name is None or l_name is None:
        missing = "arrival" if a_name is None else "lifetime"
        raise TraceError(f"{path}: no {short(missing)} field (found {sorted(fields)})")
    out: dict[str, Any] = {}
    n = None
    for key, name in (("arrival", a_name), ("lifetime", l_name), ("client", "client"),
                      ("destination", "destination")):
        if name not in fields:
            out[key] = None
            continue
        col = np.asarray(fields[name])
        if col.ndim == 0 or (key in ("arrival", "lifetime") and col.ndim != 1):
            raise TraceError(f"{path}: column {short(name)} must be 1-D, got shape {col.shape}")
        if n is None:
            n = len(col)
        elif len(col) != n:
            raise TraceError(f"{path}: column {short(name)} has {len(col)} rows, expected {n}")
        if key in ("arrival", "lifetime"):
            if col.dtype.kind not in "iuf":
                raise TraceError(f"{path}: column {short(name)} must be numeric, got dtype {col.dtype}")
            col = col.astype(np.float64)
            bad = ~np.isfinite(col) | (col < 0)
            if bad.any():
                r = int(np.flatnonzero(bad)[0])
                raise TraceError(f"{path} row {r}, column {short(name)}: {short(col[r])} is not a finite "
                                 "time >= 0")
            if key == "arrival":
                dec = np.flatnonzero(np.diff(col) < 0)
                if dec.size:
                    r = int(dec[0]) + 1
                    raise TraceError(f"{path} row {r}, column {short(name)}: {col[r]} is earlier than the "
                                     f"previous arrival {col[r - 1]} (arrivals must be non-decreasing)")
        else:
            try:
                col = key_array(col)
            except (TypeError, ValueError) as exc:
                raise TraceError(f"{path}: column {short(name)}: {exc}") from None
        out[key] = col
    return out
