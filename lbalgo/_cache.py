"""Where compiled kernels are cached on disk, and how the cache stays safe and fresh.

Numba's own cache (``cache=True``) keys a compiled function on the time stamp
of *its* source file only, loads whatever it finds under ``__pycache__`` or
the user-wide directory, and fails hard on a corrupt file. lbalgo replaces
the location and the freshness rule for its own kernels:

* **One directory per source version.** Kernels of lbalgo are cached under
  ``<root>/<stamp>/``, where the stamp hashes every lbalgo source file that
  declares kernels together with the lbalgo, Numba and Python versions. A
  change to a shared helper (the accounting in :mod:`lbalgo._table`, say)
  therefore retires every cached kernel at once: no kernel can keep code
  compiled from an older version of a file it calls into.
* **Only a private root.** ``<root>`` is ``$LBALGO_CACHE_DIR``, else
  ``$XDG_CACHE_HOME/lbalgo``, else ``~/.cache/lbalgo``. It is created with
  mode 0700 and used only if it belongs to the current user and no one else
  can write to it (nor to the directory holding it, unless that directory is
  sticky, like ``/tmp``). Numba's caches are pickles: loading one from a
  directory another user can write would run their code. There is no
  fallback to a shared temporary directory; without a usable root, kernels
  compile in every process, with one warning.
* **Failures degrade.** A read-only root still serves what it holds; new
  compilations are then kept in memory only (one warning). A cache file that
  cannot be read (truncated, empty, from a crashed writer) is a miss: the
  kernel is compiled again and the file replaced.

``lbalgo cache`` (:mod:`lbalgo.cli`) shows the directory and clears it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import sys
import threading
import warnings
from pathlib import Path
from typing import Any

#: The environment variable that chooses the cache root.
ENV_VAR = "LBALGO_CACHE_DIR"

_lock = threading.Lock()
_warned: set[str] = set()
_root_checked: dict[str, Path | None] = {}


class CacheWarning(UserWarning):
    """The kernel cache cannot be used as intended; lbalgo runs slower but correctly."""


def _warn_once(key: str, message: str) -> None:
    if key not in _warned:
        _warned.add(key)
        warnings.warn(message, CacheWarning, stacklevel=4)


def root_candidate() -> Path | None:
    """The cache root the environment asks for (not checked), or None if none can be named."""
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    if xdg and os.path.isabs(xdg):
        return Path(xdg) / "lbalgo"
    home = os.environ.get("HOME", "")
    if not home:
        try:
            import pwd

            home = pwd.getpwuid(os.getuid()).pw_dir
        except (ImportError, KeyError, OSError):
            home = ""
    if not home or not os.path.isabs(home) or home == "/":
        return None
    return Path(home) / ".cache" / "lbalgo"


def _private(path: Path) -> str | None:
    """Why ``path`` (an existing directory) is not safe to load code from, or None if it is."""
    st = path.lstat()
    if stat.S_ISLNK(st.st_mode):
        return f"{path} is a symbolic link"
    if not stat.S_ISDIR(st.st_mode):
        return f"{path} is not a directory"
    uid = os.getuid() if hasattr(os, "getuid") else st.st_uid
    if st.st_uid != uid:
        return f"{path} belongs to another user (uid {st.st_uid})"
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return f"{path} can be written by other users (mode {stat.S_IMODE(st.st_mode):o})"
    parent = path.parent.stat()
    if parent.st_uid not in (uid, 0) and parent.st_mode & (stat.S_IWGRP | stat.S_IWOTH) \
            and not parent.st_mode & stat.S_ISVTX:
        return f"{path.parent} can be written by other users, who could replace {path.name}"
    return None


def root() -> Path | None:
    """The checked cache root, created if needed; None (with one warning) when unusable."""
    candidate = root_candidate()
    key = str(candidate)
    with _lock:
        if key in _root_checked:
            return _root_checked[key]
        result: Path | None = None
        if candidate is None:
            _warn_once("noroot", "lbalgo: no cache directory (HOME is unset or '/'; set LBALGO_CACHE_DIR): "
                                 "kernels are compiled in every process")
        else:
            try:
                if not candidate.exists():
                    candidate.mkdir(mode=0o700, parents=True, exist_ok=True)
                problem = _private(candidate)
            except OSError as exc:
                problem = f"{candidate} cannot be created ({exc.strerror or exc})"
            if problem is None:
                result = candidate
            else:
                _warn_once("unsafe:" + key, f"lbalgo: not caching compiled kernels: {problem}. "
                                            f"Set {ENV_VAR} to a private directory to cache them.")
        _root_checked[key] = result
        return result


_stamp: str | None = None


def source_stamp() -> str:
    """Hash of every lbalgo source file that declares kernels, and of the versions that compile them."""
    global _stamp
    if _stamp is None:
        import numba

        from . import __version__

        package = Path(__file__).resolve().parent
        h = hashlib.sha256()
        h.update(f"lbalgo {__version__} numba {numba.__version__} python {sys.version}".encode())
        for path in sorted(package.rglob("*.py")):
            data = path.read_bytes()
            if b"@kernel" in data or path.name == "_jit.py":
                h.update(str(path.relative_to(package)).encode() + b"\0" + hashlib.sha256(data).digest())
        _stamp = h.hexdigest()[:20]
    return _stamp


#: Kernel sets of other lbalgo versions kept beside the current one (the most recently used).
KEEP_OTHER_VERSIONS = 3

_pruned = False


def cache_dir() -> Path | None:
    """The directory this version of lbalgo caches its kernels in (None: no caching)."""
    global _pruned
    base = root()
    if base is None:
        return None
    here = base / "kernels" / source_stamp()
    if not _pruned:
        _pruned = True
        _prune(base / "kernels", keep=here)
    return here


def _prune(kernels: Path, keep: Path) -> None:
    """Delete the kernel sets of older versions beyond the few most recently used."""
    try:
        others = [d for d in kernels.iterdir() if d.is_dir() and d != keep]
        others.sort(key=lambda d: d.stat().st_mtime, reverse=True)
    except OSError:
        return
    for d in others[KEEP_OTHER_VERSIONS:]:
        shutil.rmtree(d, ignore_errors=True)


def clear() -> list[Path]:
    """Delete every cached kernel (all versions); return the directories removed."""
    base = root()
    removed = []
    if base is None:
        return removed
    for d in sorted(base.glob("kernels/*")) + sorted(base.glob("sim-py*")) + sorted(base.glob("affinity-py*")):
        shutil.rmtree(d, ignore_errors=True)  # the last two: modules written by lbalgo before 0.2
        removed.append(d)
    return removed


def make_cache(py_func: Any) -> Any:
    """A Numba function cache for a kernel of lbalgo, or None when kernels are not cached.

    Built from Numba's own classes; only the locator (where, how fresh) and
    the failure handling differ.
    """
    directory = cache_dir()
    if directory is None:
        return None
    from numba.core import caching

    class Locator(caching._CacheLocator):
        """Every kernel of one lbalgo version under one private directory."""

        def __init__(self, func: Any, py_file: str) -> None:
            self._lineno = func.__code__.co_firstlineno
            package = Path(__file__).resolve().parent
            rel = Path(py_file).resolve().relative_to(package)
            self._path = str(directory / rel.parent / rel.stem)

        def ensure_cache_path(self) -> None:
            os.makedirs(self._path, mode=0o700, exist_ok=True)

        def get_cache_path(self) -> str:
            return self._path

        def get_source_stamp(self) -> str:
            return source_stamp()

        def get_disambiguator(self) -> str:
            return str(self._lineno)

        @classmethod
        def from_function(cls, func: Any, py_file: str) -> Any:
            return cls(func, py_file)

    class Impl(caching.CompileResultCacheImpl):
        _locator_classes = [Locator]

    class Cache(caching.FunctionCache):
        _impl_class = Impl

        def load_overload(self, sig: Any, target_context: Any) -> Any:
            try:
                return super().load_overload(sig, target_context)
            except Exception as exc:  # a corrupt or foreign file is a miss, then overwritten
                _warn_once("corrupt:" + self._name,
                           f"lbalgo: ignoring an unreadable cache entry for {self._name} "
                           f"({type(exc).__name__}); recompiling")
                try:
                    self._cache_file.flush()
                except OSError:
                    pass
                return None

        def save_overload(self, sig: Any, data: Any) -> None:
            try:
                super().save_overload(sig, data)
            except OSError as exc:
                _warn_once("readonly", f"lbalgo: cannot write compiled kernels to {directory} "
                                       f"({exc.strerror or exc}): they are compiled again in later processes")

    return Cache(py_func)
