"""Exceptions raised by lbalgo."""

from __future__ import annotations


class LbalgoError(Exception):
    """Base class of lbalgo's own exceptions."""


class NoBackendAvailable(LbalgoError, LookupError):
    """No backend qualifies for a new connection.

    IPVS returns NULL from the scheduler and logs "no destination available"
    (``ip_vs_scheduler_err``); the packet is then dropped or rejected. In
    lbalgo ``pick`` raises this and ``pick_many`` writes ``-1``.
    """


class UnknownBackend(LbalgoError, LookupError):
    """A backend id that this pool never issued, or one already removed."""
