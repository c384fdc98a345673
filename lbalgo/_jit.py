"""The one place that sets lbalgo's Numba policy.

Every kernel in lbalgo is declared with :func:`kernel`. Numba itself is imported,
and a kernel compiled, only when a kernel is first called: ``import lbalgo``
stays fast (importing numba alone costs about 0.3 s), and compiled code is
cached on disk (``cache=True``) so later processes load it instead of
recompiling.

A kernel that calls another kernel refers to it by its module-global name.
When the caller is compiled, those names are rebound to the callees' Numba
dispatchers first, so Numba sees ordinary compiled functions. With
``NUMBA_DISABLE_JIT=1`` the same code runs as plain Python.
"""

from __future__ import annotations

import threading
from typing import Any, Callable

#: Options passed to ``numba.njit`` for every kernel. ``error_model="numpy"``
#: keeps integer division free of Python's zero-division checks; kernels
#: never divide by a value they have not checked.
JIT_OPTIONS: dict[str, Any] = {"cache": True, "nogil": True, "error_model": "numpy"}

_lock = threading.RLock()


class Kernel:
    """A Python function that is compiled with Numba on first use.

    Calling the object calls the compiled function. ``kernel.compiled`` is
    the Numba dispatcher itself, for passing to other compiled code (for
    instance the simulator's event loop) or calling without the extra hop.
    """

    def __init__(self, py_func: Callable[..., Any], options: dict[str, Any]) -> None:
        self.py_func = py_func
        self.options = options
        self._dispatcher: Any = None
        self.__wrapped__ = py_func
        self.__doc__ = py_func.__doc__
        self.__name__ = py_func.__name__

    @property
    def compiled(self) -> Any:
        """The Numba dispatcher (created, and its callees bound, on first access)."""
        if self._dispatcher is None:
            with _lock:
                if self._dispatcher is None:
                    import numba

                    namespace = self.py_func.__globals__
                    for name in self.py_func.__code__.co_names:
                        callee = namespace.get(name)
                        if isinstance(callee, Kernel):
                            namespace[name] = callee.compiled
                    self._dispatcher = numba.njit(**self.options)(self.py_func)
        return self._dispatcher

    def __call__(self, *args: Any) -> Any:
        return self.compiled(*args)

    def __repr__(self) -> str:
        state = "compiled" if self._dispatcher is not None else "not yet compiled"
        return f"<lbalgo kernel {self.py_func.__module__}.{self.__name__} ({state})>"


def kernel(func: Callable[..., Any] | None = None, *, refcount: bool = True, **overrides: Any) -> Any:
    """Declare a kernel: ``@kernel``, ``@kernel(refcount=False)``, ``@kernel(inline="always")``.

    The function is compiled with :data:`JIT_OPTIONS` (plus ``overrides``)
    the first time it is called or its ``compiled`` attribute is read.

    ``refcount=False`` is for hot kernels that never allocate (every ``pick``):
    they are compiled without Numba's reference counting. A call that LLVM does
    not inline otherwise pays atomic increments and decrements on every array
    argument; measured on WRR at 100 backends, 84 ns per decision with them
    and 10 ns without.
    """
    options = {**JIT_OPTIONS, **overrides}
    if not refcount:
        options["_nrt"] = False

    def wrap(f: Callable[..., Any]) -> Kernel:
        return Kernel(f, options)

    return wrap(func) if func is not None else wrap


def entry_point(dispatcher: Any) -> Any:
    """The compiled entry point of a dispatcher that has exactly one signature, else the dispatcher.

    Calling the entry point skips Numba's type dispatch, which halves the cost
    of a call from Python (measured: 924 -> 431 ns for ``RR.pick``'s kernel).
    Only for callers that always pass arguments of the types of that one
    signature (``Scheduler.pick`` does: lbalgo owns the arrays and converts
    keys and times first).
    """
    signatures = getattr(dispatcher, "signatures", None)
    if signatures is None or len(signatures) != 1:
        return dispatcher
    try:
        return dispatcher.overloads[signatures[0]].entry_point
    except (AttributeError, KeyError):  # a Numba without this internal: keep the dispatcher
        return dispatcher
