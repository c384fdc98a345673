"""Where compiled kernels are cached on disk, and how the cache stays safe and fresh.

Numba's own cache (``cache=True``) keys a compiled function on the time stamp
of *its* source file only, loads whatever it finds under ``__pycache__`` or
the user-wide directory, and fails hard on a corrupt file. lbalgo replaces
the location and the freshness rule for its own kernels:

* **One directory per source version.** Kernels of lbalgo are cached under
  ``<root>/kernels/<stamp>/``, where the stamp hashes every source a kernel
  can be compiled from (:func:`kernel_sources`: the files that declare
  kernels and every lbalgo module they import from, transitively) together
  with the lbalgo, Numba, llvmlite, NumPy and Python versions. A change to a
  shared helper or constant (the accounting in :mod:`lbalgo._table`, say)
  therefore retires every cached kernel at once: no kernel can keep code
  compiled from an older version of a file it calls into.
* **Only a private root.** ``<root>`` is ``$LBALGO_CACHE_DIR``, else
  ``$XDG_CACHE_HOME/lbalgo``, else ``~/.cache/lbalgo``. It is created with
  mode 0700 (so are the directories below it) and used only if it is not a
  symbolic link, belongs to the current user, no one else can write to it,
  and every directory above it belongs to the user or root and is writable
  by no one else unless sticky (``/tmp``). Numba's caches are pickles:
  loading one from a directory another user can write, or replace, would
  run their code. There is no fallback to a shared temporary directory;
  without a usable root, kernels compile in every process, with one warning.
* **Failures degrade.** A read-only root still serves what it holds; new
  compilations are then kept in memory only (one warning). A cache file that
  cannot be read (truncated, empty, from a crashed writer), or that does not
  hold the entry its index names, is a miss: the kernel is compiled again and
  the file replaced.
* **Concurrent processes** share the cache: files are written whole and
  renamed into place, and each compiled signature has its own data file,
  named by the hash of its index key.

``lbalgo cache`` (:mod:`lbalgo.cli`) shows the directory and clears it.
"""

from __future__ import annotations

import hashlib
import os
import re
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
    """Return the cache root the environment asks for (not checked), or None if none can be named."""
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
    """Why ``path`` (an existing directory) is not safe to load code from, or None if it is.

    Safe: ``path`` is a directory (not a symbolic link) that belongs to the
    current user and that no one else can write to, and every directory
    above it belongs to the user or to root and is writable by no one else
    (unless it is sticky, like ``/tmp``): otherwise another user could put
    files in it, or rename it and put their own directory in its place.
    """
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
    for parent in path.parents:  # ``path`` is resolved: no symbolic links above it
        pst = parent.stat()
        if pst.st_uid not in (uid, 0):
            return f"{parent} belongs to another user (uid {pst.st_uid}), who could replace {path}"
        if pst.st_mode & (stat.S_IWGRP | stat.S_IWOTH) and not pst.st_mode & stat.S_ISVTX:
            return f"{parent} can be written by other users, who could replace {path}"
    return None


def root() -> Path | None:
    """Return the checked cache root, created if needed; None (with one warning) when unusable."""
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
                if not os.path.lexists(candidate):
                    candidate.mkdir(mode=0o700, parents=True, exist_ok=True)
                # Resolve the directories above it once, and use that path from now on.
                candidate = candidate.parent.resolve(strict=True) / candidate.name
                problem = _private(candidate)
            except OSError as exc:
                problem = f"{candidate} cannot be created or read ({exc.strerror or exc})"
            if problem is None:
                result = candidate
            else:
                _warn_once("unsafe:" + key, f"lbalgo: not caching compiled kernels: {problem}. "
                                            f"Set {ENV_VAR} to a private directory to cache them.")
        _root_checked[key] = result
        return result


_stamp: str | None = None

# ``from .x import a, b`` / ``from .. import y`` / ``from lbalgo.z import w`` (names possibly in parentheses).
_IMPORT = re.compile(r"^[ \t]*from[ \t]+(\.+|lbalgo\b\.?)([\w.]*)[ \t]+import[ \t]+(\([^)]*\)|[^\n#]*)", re.M)


def kernel_sources(package: Path | None = None) -> list[Path]:
    """Every lbalgo source file a kernel can be compiled from.

    That is the files that declare kernels and, transitively, every lbalgo
    module they import from: the helpers and constants they call or read.
    """
    package = package or Path(__file__).resolve().parent
    texts = {}
    for p in package.rglob("*.py"):
        try:
            texts[p] = p.read_bytes()
        except OSError:  # removed meanwhile (an editor's temporary file)
            continue
    stack = [p for p, data in texts.items() if b"@kernel" in data or p.name == "_jit.py"]
    seen: set[Path] = set()
    while stack:
        path = stack.pop()
        if path in seen:
            continue
        seen.add(path)
        for dots, module, names in _IMPORT.findall(texts[path].decode("utf-8", "replace")):
            if dots.startswith("lbalgo"):
                base = package
            else:
                base = path.parent
                for _ in range(len(dots) - 1):
                    base = base.parent
            target = base.joinpath(*[m for m in module.split(".") if m])
            found = [target.parent / f"{target.name}.py", target / "__init__.py"] if module else []
            for name in names.strip("() \n").replace("\n", " ").split(","):
                name = name.split(" as ")[0].strip()
                if not name or name == "__version__":  # the version is hashed on its own
                    continue
                submodules = [target / f"{name}.py", target / name / "__init__.py"]
                if any(f in texts for f in submodules):
                    found += submodules
                elif not module:
                    found.append(target / "__init__.py")  # ``from . import X`` with X defined in the package
            stack.extend(f for f in found if f in texts and f not in seen)
    return sorted(seen)


def source_stamp() -> str:
    """Return a hash of every source a kernel is compiled from, and of the versions that compile them.

    The sources are those of :func:`kernel_sources`.
    """
    global _stamp
    if _stamp is None:
        import llvmlite
        import numba
        import numpy

        from . import __version__

        package = Path(__file__).resolve().parent
        h = hashlib.sha256()
        h.update(f"lbalgo {__version__} numba {numba.__version__} llvmlite {llvmlite.__version__} "
                 f"numpy {numpy.__version__} python {sys.version}".encode())
        for path in kernel_sources(package):
            try:
                data = path.read_bytes()
            except OSError:
                continue
            h.update(str(path.relative_to(package)).encode() + b"\0" + hashlib.sha256(data).digest())
        _stamp = h.hexdigest()[:20]
    return _stamp


#: Kernel sets of other lbalgo versions kept beside the current one (the most recently used).
KEEP_OTHER_VERSIONS = 3

_pruned = False


def cache_dir() -> Path | None:
    """Return the directory this version of lbalgo caches its kernels in (None: no caching)."""
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
    for d in (sorted(base.glob("kernels/*")) + sorted(base.glob("sim-py*"))
              + sorted(base.glob("affinity-py*"))):
        shutil.rmtree(d, ignore_errors=True)  # the last two: modules written by lbalgo before 0.2
        removed.append(d)
    return removed


def make_cache(py_func: Any) -> Any:
    """Return a Numba function cache for a kernel of lbalgo, or None when kernels are not cached.

    Built from Numba's own classes; the locator (where, how fresh), the data
    file names and the failure handling differ:

    * each compiled signature goes to a data file named after a hash of its
      index key, which the file also records: processes compiling different
      signatures of one kernel at once never write the same file, and a data
      file that does not hold the entry the index points it to is a miss;
    * an unreadable index or data file is a miss (the kernel is compiled and
      the file replaced), and a cache that cannot be written is a warning.

    A function outside the lbalgo package (a kernel declared in a test, say)
    is not cached.
    """
    package = Path(__file__).resolve().parent
    try:
        rel = Path(py_func.__code__.co_filename).resolve().relative_to(package)
    except ValueError:
        return None
    directory = cache_dir()
    if directory is None:
        return None
    from numba.core import caching

    class Locator(caching._CacheLocator):
        """Every kernel of one lbalgo version under one private directory."""

        def __init__(self, func: Any, py_file: str) -> None:
            self._lineno = func.__code__.co_firstlineno
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

    class Files(caching.IndexDataCacheFile):
        """Numba's index and data files, with one data file per index key, named by its hash."""

        @staticmethod
        def _digest(key: Any) -> str:
            return hashlib.sha256(repr(key).encode()).hexdigest()[:24]

        def save(self, key: Any, data: Any) -> None:
            digest = self._digest(key)
            name = self._data_name_pattern.replace("{number:d}", digest[:16])
            overloads = self._load_index()
            if overloads.get(key) != name:
                overloads[key] = name
                self._save_index(overloads)
            self._save_data(name, (digest, data))

        def load(self, key: Any) -> Any:
            name = self._load_index().get(key)
            if name is None:
                return None
            try:
                entry = self._load_data(name)
            except OSError:  # removed while the index still names it
                return None
            if not (isinstance(entry, tuple) and len(entry) == 2 and entry[0] == self._digest(key)):
                return None  # not the entry the index promised (another writer, another version): a miss
            return entry[1]

    class Cache(caching.FunctionCache):
        _impl_class = Impl

        def __init__(self, func: Any) -> None:
            super().__init__(func)
            self._cache_file = Files(cache_path=self._cache_path, filename_base=self._impl.filename_base,
                                     source_stamp=self._impl.locator.get_source_stamp())

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
            except Exception as exc:  # an index another process left unreadable: compiled, just not saved
                _warn_once("unsaved:" + self._name,
                           f"lbalgo: could not save {self._name} to the kernel cache "
                           f"({type(exc).__name__}); it is compiled again next time")

    return Cache(py_func)
