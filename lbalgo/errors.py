"""Exceptions raised by lbalgo: one base class for every error a user can cause.

Every error that bad input can cause (a wrong argument, a malformed file, a
size beyond a resource limit) is a :class:`LbalgoError`, with a one-line
message that names the input and where in it the problem is::

    try:
        sc = lbalgo.scenario.load("mine.toml")
    except lbalgo.LbalgoError as e:
        print(e)        # mine.toml: arrivals.rate must be a number > 0, got -1

For compatibility the classes also derive from the built-in exception that
the same error raised before (``ValueError``, ``TypeError``, ``KeyError``,
``LookupError``), so existing ``except ValueError`` clauses keep working.
``lbalgo`` on the command line prints the message on one line and exits with
code 2. Anything else escaping lbalgo is a bug.

==========================  ==============================================
class                       raised for
==========================  ==============================================
:class:`InvalidArgument`    a bad value (also ``ValueError``)
:class:`InvalidArgumentType` a value of the wrong type (also ``TypeError``)
:class:`LimitExceeded`      an input beyond a resource limit of
                            :mod:`lbalgo.limits` (also ``ValueError``)
:class:`UnknownAlgorithm`   a scheduler name that is not registered (also ``KeyError``)
:class:`NoBackendAvailable` no backend qualifies for a connection
:class:`UnknownBackend`     a backend id the pool never issued or removed
``ScenarioError``           a scenario file or field (:mod:`lbalgo.scenario`)
``TraceError``              a recorded trace file (:mod:`lbalgo.workloads`)
``EndpointSliceError``      a Kubernetes object file (:mod:`lbalgo.kube`)
==========================  ==============================================
"""

from __future__ import annotations

import reprlib
from typing import Any

__all__ = [
    "LbalgoError",
    "InvalidArgument",
    "InvalidArgumentType",
    "LimitExceeded",
    "UnknownAlgorithm",
    "NoBackendAvailable",
    "UnknownBackend",
    "PrecisionWarning",
    "short",
    "limit_error",
]

#: Longest rendering of a bad value inside an error message (characters).
MAX_VALUE_CHARS = 60


class LbalgoError(Exception):
    """Base class of every error a user of lbalgo can cause (see the module docstring)."""


class InvalidArgument(LbalgoError, ValueError):
    """A value lbalgo cannot accept; the message names the argument or field."""


class InvalidArgumentType(LbalgoError, TypeError):
    """A value of the wrong type; the message names the argument or field."""


class LimitExceeded(LbalgoError, ValueError):
    """An input beyond one of the resource limits of :mod:`lbalgo.limits`.

    The message names the input, the limit, and how to raise it. Errors of
    the file readers are also instances of the reader's own class
    (``ScenarioError``, ``TraceError``, ``EndpointSliceError``).
    """


class UnknownAlgorithm(LbalgoError, KeyError):
    """A scheduler name (or alias) that is not registered."""

    def __str__(self) -> str:  # KeyError quotes its message; this error reads as a sentence
        return str(self.args[0]) if self.args else ""


class PrecisionWarning(UserWarning):
    """A result is computed correctly but loses floating-point precision (the inputs make it so)."""


class NoBackendAvailable(LbalgoError, LookupError):
    """No backend qualifies for a new connection.

    IPVS returns NULL from the scheduler and logs "no destination available"
    (``ip_vs_scheduler_err``); the packet is then dropped or rejected. In
    lbalgo ``pick`` raises this and ``pick_many`` writes ``-1``.
    """


class UnknownBackend(LbalgoError, LookupError):
    """A backend id that this pool never issued, or one already removed."""


class _Repr(reprlib.Repr):
    """reprlib, also bounded for bytes (reprlib renders them whole, then cuts)."""

    def repr_bytes(self, x: bytes, level: int) -> str:
        return repr(x[: self.maxstring]) + ("..." if len(x) > self.maxstring else "")

    repr_bytearray = repr_bytes

    def repr_int(self, x: int, level: int) -> str:
        if x.bit_length() > 128:  # str() of a huge int is slow (and refused past 4300 digits)
            return f"<an integer of {x.bit_length()} bits>"
        return super().repr_int(x, level)


_repr = _Repr()
_repr.maxlevel = 3
_repr.maxstring = MAX_VALUE_CHARS
_repr.maxother = MAX_VALUE_CHARS
_repr.maxlong = 40
for _name in ("maxlist", "maxtuple", "maxdict", "maxset", "maxfrozenset", "maxdeque", "maxarray"):
    setattr(_repr, _name, 4)


def short(value: Any, limit: int = MAX_VALUE_CHARS) -> str:
    """``repr(value)`` cut to ``limit`` characters, safe for any value.

    Error messages quote the bad value with this: a value nested a thousand
    levels deep, or expanded by a YAML alias bomb, still renders in a few
    dozen characters (``[[[[...]]]]``), in constant time.
    """
    try:
        text = _repr.repr(value)
    except Exception:  # a broken __repr__ must not hide the real error
        text = f"<{type(value).__name__}>"
    text = text.replace("\n", "\\n")
    return text if len(text) <= limit else text[: limit - 3] + "..."


_combined: dict[tuple[type, type], type] = {}


def limit_error(error: type[Exception]) -> type[Exception]:
    """Return a class that is both ``error`` (a reader's own error class) and :class:`LimitExceeded`.

    ``limit_error(ScenarioError)("...")`` is caught by ``except ScenarioError``
    and by ``except LimitExceeded``.
    """
    if issubclass(error, LimitExceeded):
        return error
    key = (error, LimitExceeded)
    cls = _combined.get(key)
    if cls is None:
        cls = type(
            error.__name__, (error, LimitExceeded), {"__module__": error.__module__, "__doc__": error.__doc__}
        )
        cls.__qualname__ = error.__qualname__
        _combined[key] = cls
    return cls
