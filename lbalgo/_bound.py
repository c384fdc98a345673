"""Small generated modules that bind kernels together so Numba can cache them.

Numba specialises a compiled function on a kernel passed as an argument, but
it cannot cache that specialisation on disk (the dispatcher's type key holds
an object address), and calling it from Python with a dispatcher argument
costs about 17 µs. A wrapper that names the kernels as *module globals* is
cacheable. For generic machinery that is specialised per scheduler at run
time — the simulator's event loop, the ClientIP affinity wrapper — such a
wrapper is written here, once per combination of kernels, into a cache
directory (``$LBALGO_CACHE_DIR``, else ``$XDG_CACHE_HOME/lbalgo`` or
``~/.cache/lbalgo``, else the system temp directory).

Each file carries a stamp: a hash of every lbalgo source file that declares
kernels, plus the files of the bound kernels. When one changes, the file is
rewritten, which invalidates Numba's cache for it (Numba checks only the
wrapper's own time stamp, not its callees').
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import sys
import tempfile
import threading
from pathlib import Path
from types import ModuleType
from typing import Any

_lock = threading.Lock()
_modules: dict[tuple, ModuleType] = {}


def cache_dirs(family: str) -> list[Path]:
    """Directories to try for ``family``'s generated modules, in order."""
    tag = f"{family}-py{sys.version_info[0]}{sys.version_info[1]}"
    env = os.environ.get("LBALGO_CACHE_DIR")
    if env:
        first = Path(env) / tag
    else:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        first = Path(base) / "lbalgo" / tag
    uid = os.getuid() if hasattr(os, "getuid") else 0
    return [first, Path(tempfile.gettempdir()) / f"lbalgo-{uid}" / tag]


def _stamp(extra_files: list[str]) -> str:
    root = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for f in sorted({str(p) for p in root.rglob("*.py")} | set(extra_files)):
        try:
            data = Path(f).read_bytes()
        except OSError:
            continue
        if b"@kernel" in data or f in extra_files:
            h.update(f.encode() + b"\0" + hashlib.sha256(data).digest())
    return h.hexdigest()[:32]


def _write(path: Path, text: str) -> None:
    try:
        if path.read_text() == text:
            return
    except OSError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)  # atomic: concurrent processes never read half a file


def bound_module(family: str, template: str, kernels: dict[str, Any], **fields: str) -> ModuleType:
    """Return the generated module of ``template`` with ``kernels`` bound as its globals.

    ``template`` is Python source with ``{stamp}`` and ``{fields}`` placeholders;
    it declares the kernel globals (``_pick = None`` …) that are set from
    ``kernels`` (name -> :class:`~lbalgo._jit.Kernel`) before anything compiles.
    Raises ``OSError`` if no cache directory can be written.
    """
    key = (family, template, tuple((name, id(k)) for name, k in sorted(kernels.items())))
    module = _modules.get(key)
    if module is not None:
        return module
    with _lock:
        module = _modules.get(key)
        if module is None:
            module = _load(family, template, kernels, fields)
            _modules[key] = module
    return module


def _load(family: str, template: str, kernels: dict[str, Any], fields: dict[str, str]) -> ModuleType:
    funcs = [k.py_func for _, k in sorted(kernels.items())]
    files = [getattr(sys.modules.get(f.__module__), "__file__", None) for f in funcs]
    name = re.sub(r"\W", "_", "__".join(f"{f.__module__}__{f.__name__}" for f in funcs))
    if len(name) > 150:
        name = name[:100] + hashlib.sha256(name.encode()).hexdigest()[:16]
    modname = f"lbalgo_{family}_{name}"
    text = template.format(stamp=_stamp([f for f in files if f]), **fields)
    error: OSError | None = None
    for directory in cache_dirs(family):
        path = directory / f"{modname}.py"
        try:
            _write(path, text)
        except OSError as exc:
            error = exc
            continue
        module = sys.modules.get(modname)
        if module is None or getattr(module, "__file__", None) != str(path):
            spec = importlib.util.spec_from_file_location(modname, path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[modname] = module  # Numba's cache re-imports the module by name
            spec.loader.exec_module(module)
        for global_name, k in kernels.items():
            setattr(module, global_name, k)
        return module
    raise OSError(f"cannot write lbalgo's generated {family} modules anywhere: {error}")
