"""Resource limits: named, documented, and checked before lbalgo reads or allocates.

Every input whose size sets how much memory or time lbalgo spends is checked
against one of these limits *before* the work starts, and an input beyond it
raises :class:`lbalgo.errors.LimitExceeded` (for a file, also the reader's own
error class) naming the input, the limit and how to raise it. The defaults
keep a run within a few GB of memory; ``docs/limits.md`` states, per limit,
what it bounds.

Raise a limit

* for the whole process: ``import lbalgo.limits``, then ``lbalgo.limits.MAX_TRACE_BYTES = 8 << 30``;
* for a block: ``with lbalgo.limits.override(MAX_TRACE_BYTES=8 << 30): ...``;
* from the environment (the command line): ``LBALGO_MAX_TRACE_BYTES=8G lbalgo compare ...``
  (a whole number, optionally with a K, M, G or T suffix: powers of 1024).
  The environment wins over the module attribute.
"""

from __future__ import annotations

import contextlib
import os
from typing import Iterator

from .errors import InvalidArgument, LimitExceeded, limit_error

__all__ = [
    "MAX_SCENARIO_BYTES",
    "MAX_KUBE_FILE_BYTES",
    "MAX_TRACE_BYTES",
    "MAX_NESTING",
    "MAX_CONNECTIONS",
    "MAX_BACKENDS",
    "MAX_CLIENTS",
    "MAX_SHOW_DECISIONS",
    "MAX_ONOFF_PERIODS",
    "LIMITS",
    "get",
    "check",
    "override",
]

#: Largest scenario file (TOML or JSON) read, in bytes. Scenarios are a few KB.
MAX_SCENARIO_BYTES = 1 << 20
#: Largest Kubernetes object file (EndpointSlices, Endpoints; JSON or YAML) read, in bytes:
#: about 200,000 endpoints as ``kubectl get -o json`` prints them. Parsed, a document
#: takes about 10 times its size in memory.
MAX_KUBE_FILE_BYTES = 128 << 20
#: Largest recorded trace file (CSV, ``.npy``, or the arrays of an ``.npz`` once
#: decompressed), in bytes: the arrays built from it take about as much memory.
MAX_TRACE_BYTES = 1 << 30
#: Deepest nesting of lists and tables in a scenario or Kubernetes document (and of the
#: dotted keys of a TOML file). Real ones are under 10 levels deep.
MAX_NESTING = 64
#: Most connections in a scenario (the ``connections`` field, ``--connections``). A
#: simulation holds about 60 bytes per connection.
MAX_CONNECTIONS = 100_000_000
#: Most backends in a scenario's pool (weights, plus backends that pool events add).
#: Reports have one column (CSV: one row per algorithm) per backend.
MAX_BACKENDS = 100_000
#: Most clients (or destinations) of a Zipf population (``zipf(n_clients)``, a scenario's
#: ``count``): its probability table takes 16 bytes per client.
MAX_CLIENTS = 1 << 24
#: Most decisions ``lbalgo show`` prints (``-n``).
MAX_SHOW_DECISIONS = 1_000_000
#: Most on/off periods an ``onoff`` arrival model may need to cover its arrivals (about
#: ``2 * arrival span / mean_on``); each takes 24 bytes while the arrivals are drawn.
MAX_ONOFF_PERIODS = 10_000_000

#: Every limit, with what it bounds and its unit ("bytes" or "").
LIMITS: dict[str, tuple[str, str]] = {
    "MAX_SCENARIO_BYTES": ("size of a scenario file", "bytes"),
    "MAX_KUBE_FILE_BYTES": ("size of a Kubernetes object file", "bytes"),
    "MAX_TRACE_BYTES": ("size of a trace file", "bytes"),
    "MAX_NESTING": ("nesting depth of a document", ""),
    "MAX_CONNECTIONS": ("connections in a scenario", ""),
    "MAX_BACKENDS": ("backends in a scenario", ""),
    "MAX_CLIENTS": ("clients of a Zipf population", ""),
    "MAX_SHOW_DECISIONS": ("decisions lbalgo show prints", ""),
    "MAX_ONOFF_PERIODS": ("on/off periods of an onoff arrival model", ""),
}

_SUFFIXES = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def _parse(name: str, text: str) -> int:
    raw = text.strip().upper().removesuffix("IB").removesuffix("B")
    suffix = raw[-1:] if raw[-1:] in _SUFFIXES else ""
    number = raw[: len(raw) - len(suffix)].strip().replace("_", "")
    if not number.isdigit() or int(number) < 1:
        raise InvalidArgument(
            f"the environment variable LBALGO_{name} must be a whole number >= 1, optionally "
            f"with a K, M, G or T suffix, got {text[:40]!r}"
        )
    return int(number) * _SUFFIXES[suffix]


def get(name: str) -> int:
    """Return the current value of limit ``name`` (``LBALGO_<name>`` in the environment wins)."""
    if name not in LIMITS:
        raise InvalidArgument(f"no limit named {name!r}; limits: {', '.join(LIMITS)}")
    env = os.environ.get(f"LBALGO_{name}")
    if env is not None and env.strip():
        return _parse(name, env)
    return int(globals()[name])


def describe(name: str, value: float | None = None) -> str:
    """``value`` (default: the current limit) in the unit of limit ``name``, for messages."""
    v = get(name) if value is None else value
    if LIMITS[name][1] != "bytes":
        return f"{v:,}"
    for unit, scale in (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if v >= scale:
            return f"{v / scale:.3g} {unit}"
    return f"{int(v)} bytes"


def how_to_raise(name: str) -> str:
    """Return the sentence every limit error ends with."""
    return f"limit {name} = {describe(name)}; raise it with LBALGO_{name}=... or lbalgo.limits.{name}"


def check(name: str, value: float, what: str, error: type[Exception] = LimitExceeded) -> None:
    """Raise ``error`` (made a :class:`LimitExceeded` too) if ``value`` is over limit ``name``.

    ``what`` names the input, e.g. ``"big.toml: the file"``; the message reads
    ``big.toml: the file is over 1 MiB (limit MAX_SCENARIO_BYTES = 1 MiB; raise it with ...)``.
    """
    limit = get(name)
    if value > limit:
        raise limit_error(error)(f"{what} is over {describe(name, limit)} ({how_to_raise(name)})")


@contextlib.contextmanager
def override(**values: int) -> Iterator[None]:
    """Set limits for the duration of a ``with`` block (in this process; the environment still wins)."""
    for name, value in values.items():
        if name not in LIMITS:
            raise InvalidArgument(f"no limit named {name!r}; limits: {', '.join(LIMITS)}")
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InvalidArgument(f"limit {name} must be a whole number >= 1, got {value!r}")
    saved = {name: globals()[name] for name in values}
    globals().update(values)
    try:
        yield
    finally:
        globals().update(saved)
