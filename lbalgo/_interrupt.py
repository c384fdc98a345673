"""Ctrl-C delivered only at safe points.

Python runs its SIGINT handler between bytecodes of the main thread, which
includes the moment a compiled kernel returns and Numba converts its result:
a ``KeyboardInterrupt`` raised there surfaces as ``SystemError: ... returned
a result with an exception set``, and whatever was computed is lost. Code
that must survive Ctrl-C (``lbalgo.compare``, the command line's writing of
a report) records the signal instead, and raises ``KeyboardInterrupt`` itself
at a point of its choosing::

    with deferred_sigint() as interrupt:
        for item in work:
            interrupt.checkpoint()      # raises KeyboardInterrupt if Ctrl-C was pressed
            run(item)                   # compiled calls: Ctrl-C is only recorded

A second Ctrl-C before the next checkpoint raises at once (the user insists).
Outside the main thread, or when the program installed its own SIGINT
handler, nothing is deferred and checkpoints do nothing.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from typing import Any, Iterator


class Interrupt:
    """The state of one :func:`deferred_sigint` block."""

    def __init__(self, active: bool) -> None:
        self.active = active
        self.pending = 0

    def _handler(self, signum: int, frame: Any) -> None:
        self.pending += 1
        if self.pending > 1:  # pressed twice: stop now, wherever we are
            self.pending = 0
            raise KeyboardInterrupt

    def checkpoint(self) -> None:
        """Raise ``KeyboardInterrupt`` if Ctrl-C was pressed since the last checkpoint."""
        if self.pending:
            self.pending = 0
            raise KeyboardInterrupt

    def clear(self) -> bool:
        """Forget a pending Ctrl-C; return whether there was one."""
        was = bool(self.pending)
        self.pending = 0
        return was


@contextlib.contextmanager
def deferred_sigint() -> Iterator[Interrupt]:
    """Record Ctrl-C during the block instead of raising it; see the module docstring.

    On leaving the block the previous handler is restored and a Ctrl-C still
    pending is raised as ``KeyboardInterrupt`` (call :meth:`Interrupt.clear`
    first to drop it).
    """
    active = (
        threading.current_thread() is threading.main_thread()
        and signal.getsignal(signal.SIGINT) is signal.default_int_handler
    )
    state = Interrupt(active)
    if not active:
        yield state
        return
    previous = signal.signal(signal.SIGINT, state._handler)
    try:
        yield state
    finally:
        signal.signal(signal.SIGINT, previous)
    state.checkpoint()
