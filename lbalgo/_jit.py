"""The one place that sets lbalgo's Numba policy.

Every compiled function in lbalgo is declared with :func:`kernel`. Numba itself
is imported, and a kernel compiled, only when a kernel is first called:
``import lbalgo`` stays fast, and compiled code is cached on disk (see
:mod:`lbalgo._cache` for where, and how the cache stays fresh and safe).

A kernel that calls another kernel refers to it by its module-global name.
When the caller is compiled, those names are rebound to the callees' Numba
dispatchers first, so Numba sees ordinary compiled functions. With
``NUMBA_DISABLE_JIT=1`` the same code runs as plain Python: kernels never load
Numba, they call each other directly, kernels passed as values (to the
event loop) are the Python functions themselves, and a kernel called from
Python returns what the compiled one would (NumPy scalars become Python
numbers, as Numba boxes them). CI runs the contract, reference and
state-machine tests that way, so the kernels' source is measured by coverage.

Kernels that other compiled code receives as *values* (every scheduler's
``schedule`` and ``changed``) are declared with one of the uniform
signatures of :data:`SIGNATURES`. Numba then compiles the receiving code (the
event loop, the persistence layer) once, with a function-pointer argument of
that signature, for every scheduler; see ``docs/developing.md``.
"""

from __future__ import annotations

import os
import threading
from typing import Any, Callable

import numpy as np  # every kernel takes NumPy arrays: loaded by ``import lbalgo`` already

#: Options passed to ``numba.njit`` for every kernel. ``error_model="numpy"``
#: keeps integer division free of Python's zero-division checks; kernels
#: never divide by a value they have not checked.
JIT_OPTIONS: dict[str, Any] = {"cache": True, "nogil": True, "error_model": "numpy"}

#: ``NUMBA_DISABLE_JIT=1``: kernels run as the plain Python functions they are.
DISABLED = os.environ.get("NUMBA_DISABLE_JIT", "0").strip() not in ("", "0")

_lock = threading.RLock()


def _boxed(value: Any) -> Any:
    """Return ``value`` as compiled code returns it: NumPy scalars as Python numbers, tuples item by item."""
    if isinstance(value, np.generic):
        return value.item()
    if type(value) is tuple:
        return tuple(_boxed(v) for v in value)
    return value


def _plain(py_func: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap ``py_func`` to return what its compiled version would (for ``NUMBA_DISABLE_JIT=1``)."""

    def call(*args: Any) -> Any:
        return _boxed(py_func(*args))

    call.__name__ = py_func.__name__
    call.__qualname__ = py_func.__qualname__
    call.__doc__ = py_func.__doc__
    call.__wrapped__ = py_func  # type: ignore[attr-defined]
    return call


def _signature(name: str) -> Any:
    """Return the Numba signature called ``name`` (built on first use: it needs numba)."""
    from numba import types

    table = types.int64[:, ::1]
    ints = types.int64[::1]
    floats = types.float64[::1]
    i64 = types.int64
    if name == "schedule":
        # schedule(table, state, fstate, keys, times, out, first, last, mode) -> last backend
        return i64(table, ints, floats, ints, floats, ints, i64, i64, i64)
    if name == "changed":
        # changed(table, state, fstate, event, where)
        return types.none(table, ints, floats, i64, i64)
    raise KeyError(name)


#: Names of the uniform kernel signatures (see :func:`_signature` and docs/developing.md).
SIGNATURES = ("schedule", "changed")

_function_types: dict[str, Any] = {}


def function_type(name: str) -> Any:
    """Return the ``numba.types.FunctionType`` of signature ``name`` (a kernel passed as a value)."""
    ft = _function_types.get(name)
    if ft is None:
        from numba import types

        ft = _function_types[name] = types.FunctionType(_signature(name))
    return ft


class Kernel:
    """A Python function that is compiled with Numba on first use.

    Calling the object calls the compiled function. ``kernel.compiled`` is
    the Numba dispatcher itself, for passing to other compiled code (for
    instance the simulator's event loop) or calling without the extra hop.
    """

    def __init__(self, py_func: Callable[..., Any], options: dict[str, Any], signature: str | None) -> None:
        self.py_func = py_func
        self.options = options
        self.signature = signature
        self._dispatcher: Any = None
        self._entry: Any = None
        self.__wrapped__ = py_func
        self.__doc__ = py_func.__doc__
        self.__name__ = py_func.__name__
        self.__module__ = py_func.__module__

    @property
    def compiled(self) -> Any:
        """The Numba dispatcher (created, and its callees bound, on first access)."""
        if self._dispatcher is None:
            with _lock:
                if self._dispatcher is None:
                    self._dispatcher = self._build()
        return self._dispatcher

    def _build(self) -> Any:
        namespace = self.py_func.__globals__
        for name in self.py_func.__code__.co_names:
            callee = namespace.get(name)
            if isinstance(callee, Kernel):
                namespace[name] = callee.compiled
        if DISABLED:
            return self.py_func
        import numba

        from ._cache import make_cache

        options = dict(self.options)
        cache = options.pop("cache", False)
        dispatcher = numba.njit(**options)(self.py_func)
        if cache:
            store = make_cache(self.py_func)
            if store is not None:
                dispatcher._cache = store  # Numba has no public hook for a cache of our own
        if self.signature is not None:
            dispatcher.compile(_signature(self.signature))
            dispatcher.disable_compile()
        return dispatcher

    @property
    def entry(self) -> Any:
        """The compiled entry point of a kernel with a uniform signature (skips Numba's type dispatch).

        Calling it from Python costs about half as much as calling the
        dispatcher; the caller must pass exactly the signature's types
        (lbalgo owns the arrays it passes, so it does).
        """
        if self._entry is None:
            d = self.compiled
            if DISABLED:
                self._entry = _plain(d)
            elif self.signature is None:
                self._entry = d
            else:
                self._entry = d.overloads[d.signatures[0]].entry_point
        return self._entry

    def direct(self, *args: Any) -> Any:
        """Call the kernel, skipping Numba's type dispatch once it has been compiled for one signature.

        For callers from Python that always pass the same argument types (lbalgo's own
        arrays and tuples of arrays): dispatching on a tuple of arrays costs microseconds.
        """
        entry = self._entry
        if entry is not None:
            return entry(*args)
        d = self.compiled
        if DISABLED:
            self._entry = _plain(d)
            return self._entry(*args)
        result = d(*args)
        if len(d.signatures) == 1:
            self._entry = d.overloads[d.signatures[0]].entry_point
        return result

    def __call__(self, *args: Any) -> Any:
        if DISABLED:
            return _boxed(self.compiled(*args))
        return self.compiled(*args)

    def __repr__(self) -> str:
        state = "compiled" if self._dispatcher is not None else "not yet compiled"
        return f"<lbalgo kernel {self.py_func.__module__}.{self.__name__} ({state})>"


def kernel(func: Callable[..., Any] | None = None, *, signature: str | None = None, refcount: bool = True,
           **overrides: Any) -> Any:
    """Declare a kernel: ``@kernel``, ``@kernel(signature="schedule")``, ``@kernel(inline="always")``.

    The function is compiled with :data:`JIT_OPTIONS` (plus ``overrides``)
    the first time it is called or its ``compiled`` attribute is read.

    ``signature`` names one of :data:`SIGNATURES`: the kernel is compiled for
    exactly that signature, so compiled code can receive it as a function
    pointer (``function_type(signature)``) and Python can call its
    :attr:`Kernel.entry` directly.

    ``refcount=False`` is for hot kernels that never allocate: they are
    compiled without Numba's reference counting. A call that LLVM does not
    inline otherwise pays atomic increments and decrements on every array
    argument (measured on WRR at 100 backends: 84 ns per decision with them,
    10 ns without).
    """
    if signature is not None and signature not in SIGNATURES:
        raise ValueError(f"unknown kernel signature {signature!r}; known: {SIGNATURES}")
    options = {**JIT_OPTIONS, **overrides}
    if not refcount:
        options["_nrt"] = False

    def wrap(f: Callable[..., Any]) -> Kernel:
        return Kernel(f, options, signature)

    return wrap(func) if func is not None else wrap
