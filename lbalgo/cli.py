"""The ``lbalgo`` command line: a thin layer over the Python API.

Exit codes: 0 success, 2 bad usage or input (one line on stderr, no
traceback), 1 unexpected failure, 130 interrupted (Ctrl-C; ``compare``
still prints the algorithms that finished). See docs/cli.md.

This module runs the commands (``compare``, ``sweep``, ``list``, ``show``,
``cache``) and :func:`main`; the parser and the values the options take,
with the models' ``model:a:b`` shorthand (:func:`parse_model`), are in
:mod:`lbalgo.cli_args`.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import warnings
from pathlib import Path
from typing import Any, Sequence

from .cli_args import (
    EXAMPLES,
    SWEEP_EXAMPLES,
    UsageError,
    int_list,
    parse_model,
    parser,
    quote,
    scenario_from_args,
)
from .errors import LbalgoError

__all__ = ["EXAMPLES", "SWEEP_EXAMPLES", "UsageError", "main", "parse_model"]


class _Interrupted(Exception):
    """Ctrl-C after some output was written: exit code 130 with this message."""


def _claim_destination(path: str, what: str) -> bool:
    """Check before any work that ``path`` can be written; return whether the check created the file.

    The file is opened for appending (never truncated here), so a run that
    fails later leaves an existing report as it was.
    """
    if os.path.isdir(path):
        raise UsageError(f"cannot write {what} to {path}: it is a directory")
    existed = os.path.lexists(path)
    try:
        with open(path, "a", encoding="utf-8"):
            pass
    except OSError as e:
        raise UsageError(f"cannot write {what} to {path}: {e.strerror or e}") from None
    return not existed


def _release_destinations(created: list[str]) -> None:
    """Remove the empty files :func:`_claim_destination` created, when nothing was written to them."""
    for path in created:
        try:
            if os.path.getsize(path) == 0:
                os.remove(path)
        except OSError:
            pass


def _cmd_compare(args: argparse.Namespace) -> str | None:
    from .report.compare import ComparisonRun  # looked up here at each call (tests replace it)
    from .report.plots import require_matplotlib

    if args.plot:
        try:
            require_matplotlib()  # fail before the (long) comparison, not after
        except RuntimeError as e:
            raise UsageError(str(e)) from None
    algorithms = None
    if args.algorithms is not None:
        algorithms = [a.strip() for a in args.algorithms.split(",") if a.strip()]
        if not algorithms:
            raise UsageError(f"--algorithms needs at least one name, got {quote(args.algorithms)}")
        if algorithms == ["all"]:
            from .schedulers.registry import names

            algorithms = names()
    created: list[str] = []
    try:
        for path, what in ((args.output, "the report"), (args.plot, "the plot")):
            if path and _claim_destination(path, what):
                created.append(path)
    except BaseException:
        _release_destinations(created)
        raise
    show_progress = not args.quiet and sys.stderr.isatty()
    bar = _ProgressBar(sys.stderr) if show_progress else None
    holder: dict[str, Any] = {}

    def work() -> Any:  # in a worker thread: Ctrl-C reaches the main thread, never compiled code
        holder["run"] = ComparisonRun(scenario_from_args(args), algorithms)
        return holder["run"].run(progress=bar)

    try:
        try:
            result = _in_worker(work)
        except KeyboardInterrupt:
            if "run" not in holder:
                raise
            holder["run"].stop()
            result = holder["run"].result()  # the rows that finished; the worker is abandoned
        finally:
            if bar is not None:
                bar.close()
        timing = not args.no_timing
        text = {"json": result.to_json, "md": result.to_markdown, "csv": result.to_csv,
                "text": result.to_text, "html": result.to_html}[args.format](timing=timing)
        if not result.complete and not result.rows:
            raise KeyboardInterrupt
    except BaseException:
        _release_destinations(created)
        raise
    _write_safely(text, args.output)
    if not result.complete:
        done, total = len(result.rows), len(result.rows) + len(result.missing)
        raise _Interrupted(f"interrupted after {done} of {total} algorithms; "
                           "the report shows those that finished")
    if args.plot:
        try:
            result.plot(args.plot)
        except Exception as e:  # the report is written: say what failed, keep it
            _release_destinations([args.plot] if args.plot in created else [])
            where = args.output or "stdout"
            raise UsageError(f"the report was written to {where}, but the plot {args.plot} could not be: "
                             f"{' '.join(str(e).split()) or type(e).__name__}") from None
    return None


#: One event per worker left running after Ctrl-C; set when its function has returned.
_abandoned: list[threading.Event] = []


def _in_worker(fn: Any) -> Any:
    """``fn()`` run in a daemon thread while the main thread waits; its result or its exception.

    Python delivers Ctrl-C to the main thread only, between bytecodes: the
    ``KeyboardInterrupt`` then lands here, in the wait, and never inside the
    worker's compiled calls (where Numba would turn it into a SystemError and
    lose the results). The worker is then abandoned (it is a daemon; ``main``
    leaves without waiting for it). Whether it still runs is told by an event
    the worker sets, not by ``Thread.is_alive``: on Python 3.11 a Ctrl-C that
    interrupts ``Thread.join`` marks a running thread as stopped (CPython's
    bpo-45274 handling), and an interpreter that finalizes under a worker
    inside LLVM aborts.
    """
    box: dict[str, Any] = {}
    finished = threading.Event()

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as e:  # noqa: BLE001 - handed to the main thread
            box["error"] = e
        finally:
            finished.set()

    worker = threading.Thread(target=target, name="lbalgo-worker", daemon=True)
    try:
        worker.start()
        while not finished.wait(0.05):
            pass
    except KeyboardInterrupt:
        if not finished.is_set():
            _abandoned.append(finished)
        raise
    worker.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


class _ProgressBar:
    """``[######------]  3/17  wlc`` on one terminal line, redrawn before each algorithm.

    The worker thread draws; the main thread closes. One lock orders them, so a
    worker abandoned after Ctrl-C never draws after ``close`` (over the final message).
    """

    WIDTH = 24

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.drawn = False
        self.closed = False
        self._lock = threading.Lock()

    def _draw(self, text: str) -> None:
        with self._lock:
            if self.closed:
                return
            self.stream.write("\r" + text)
            self.stream.flush()
            self.drawn = True

    def __call__(self, index: int, total: int, algorithm: str) -> None:
        done = (index - 1) * self.WIDTH // max(total, 1)
        line = f"[{'#' * done}{'-' * (self.WIDTH - done)}] {index}/{total} {algorithm}"
        self._draw(line.ljust(60)[:79])

    def message(self, text: str) -> None:
        self._draw(text.ljust(79)[:79])

    def close(self) -> None:
        with self._lock:
            self.closed = True
            if self.drawn:
                self.stream.write("\r" + " " * 79 + "\r")
                self.stream.flush()


def _write(text: str, output: str | None) -> None:
    if output:
        with open(output, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
        sys.stdout.flush()


def _write_safely(text: str, output: str | None) -> None:
    """:func:`_write`, with Ctrl-C held back until the whole report is written (then raised)."""
    from ._interrupt import deferred_sigint

    with deferred_sigint():
        _write(text, output)


def _cmd_sweep(args: argparse.Namespace) -> str:
    from .sweeps import load_grid, sweep
    from .sweeps.run import require_dask, require_pyarrow

    if args.workers is not None and args.workers < 1:
        raise UsageError(f"--workers must be >= 1, got {args.workers}")
    if args.workers is not None and args.scheduler:
        raise UsageError("--workers sizes a local cluster; it cannot be combined with --scheduler")
    if not args.dry_run:
        try:  # fail before reading the grid, not after
            require_dask()
            require_pyarrow()
        except RuntimeError as e:
            raise UsageError(str(e)) from None
    grid = load_grid(args.grid)
    if args.dry_run:
        lines = [grid.describe()] + [f"cell {c.index}: {c.describe()}" for c in grid.cells]
        return "\n".join(lines) + "\n"
    output = args.directory or f"{grid.name}-sweep"  # (not args.output: main writes the summary to stdout)
    bar = _ProgressBar(sys.stderr) if not args.quiet and sys.stderr.isatty() else None

    def progress(done: int, total: int, text: str) -> None:
        filled = done * _ProgressBar.WIDTH // max(total, 1)
        bar.message(f"[{'#' * filled}{'-' * (_ProgressBar.WIDTH - filled)}] {done}/{total} runs  {text}")

    try:
        result = sweep(grid, output, workers=args.workers, scheduler=args.scheduler, timing=args.timing,
                       progress=progress if bar is not None else None)
    finally:
        if bar is not None:
            bar.close()
    files = ", ".join(["results.parquet", "results.csv", "summary.parquet", "summary.csv", "report.html"]
                      + (["plots/*.svg"] if (Path(output) / "plots").is_dir() else []))
    text = f"{result.describe()}\nwrote {files} in {output}\n"
    if not result.complete:
        _write(text, None)
        total = len(result.grid.cells) * result.grid.replicates
        raise _Interrupted(f"interrupted after {total - len(result.missing)} of {total} runs; the finished "
                           f"ones are kept in {Path(output) / 'runs.jsonl'}: run the same command again "
                           f"to do the other {len(result.missing)}")
    return text


def _cmd_list(args: argparse.Namespace) -> str:
    """Every registered algorithm, grouped by the system it comes from (``family``), in registration order."""
    from .schedulers.registry import SCHEDULERS

    groups: dict[str, list[str]] = {}
    for name, cls in SCHEDULERS.items():
        groups.setdefault(cls.family, []).append(name)
    width = max(len(n) for n in SCHEDULERS)
    cls_width = max(len(cls.__name__) for cls in SCHEDULERS.values())
    blocks = []
    for family, members in groups.items():
        lines = [f"{family} ({len(members)})\n"]
        for name in members:
            cls = SCHEDULERS[name]
            label = f"{name.ljust(width)}  {cls.__name__.ljust(cls_width)}"
            lines.append(f"  {label}  {cls.summary}  [{cls.source}]\n")
        blocks.append("".join(lines))
    return "\n".join(blocks)


def _cmd_show(args: argparse.Namespace) -> str:
    from . import limits
    from ._interrupt import deferred_sigint
    from .errors import NoBackendAvailable
    from .schedulers.registry import get

    cls = get(args.algorithm)
    if args.n < 0:
        raise UsageError(f"-n must be >= 0, got {args.n}")
    limits.check("MAX_SHOW_DECISIONS", args.n, f"-n {args.n}", UsageError)
    s = cls(weights=int_list(args.weights, "--weights"), seed=args.seed)
    keys = None
    if args.keys is not None:
        keys = [k.strip() for k in args.keys.split(",") if k.strip()]
        if not keys:
            raise UsageError(f"--keys must be comma-separated client addresses, got {quote(args.keys)}")
    if cls.keyed and not keys:
        raise UsageError(f"{cls.name} hashes a client address: give --keys 10.0.0.1,10.0.0.2,...")
    out = []
    with deferred_sigint() as interrupt:  # Ctrl-C between decisions, not inside a compiled call
        for i in range(args.n):
            if i % 4096 == 0:
                interrupt.checkpoint()
            try:
                out.append(str(s.pick(key=keys[i % len(keys)] if keys else None, now=float(i))))
            except NoBackendAvailable:
                out.append("-")
    return " ".join(out) + "\n"


def _cmd_cache(args: argparse.Namespace) -> str:
    from . import _cache

    root = _cache.root()
    if root is None:
        return "kernels are not cached (see the warning above)\n"
    if args.clear:
        removed = _cache.clear()
        return f"removed {len(removed)} cached kernel set(s) from {root / 'kernels'}\n"
    sets = sorted((root / "kernels").iterdir()) if (root / "kernels").is_dir() else []
    size = sum(f.stat().st_size for d in sets for f in d.rglob("*") if f.is_file())
    return (f"cache directory: {root}\ncompiled kernels of this version: {_cache.cache_dir()}\n"
            f"{len(sets)} kernel set(s), {size / 1e6:.1f} MB\n")


def _show_warning(message: Any, category: type, filename: str, lineno: int, file: Any = None,
                  line: str | None = None) -> None:
    """Warnings on one line: ``lbalgo: warning: ...`` (a cache that cannot be used, lost precision)."""
    text = " ".join(str(message).split())
    if text.startswith("lbalgo: "):
        text = text[len("lbalgo: "):]
    print(f"lbalgo: warning: {text}", file=sys.stderr if file is None else file)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``lbalgo`` command; returns the exit code.

    After Ctrl-C that left a computation running in a worker thread (see
    :func:`_in_worker`), the report of what finished is written and the
    process exits at once with code 130, without waiting for it.
    """
    args = parser().parse_args(argv)
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning
        code = _main(args)
    if argv is None and threading.current_thread() is threading.main_thread():
        # The command itself (not a call from Python): everything is written; a Ctrl-C from here
        # on would only kill the exiting interpreter by the signal.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    if any(not finished.is_set() for finished in _abandoned):
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)  # the abandoned worker may be inside compiled code: do not wait, do not finalize
    return code


def _main(args: argparse.Namespace) -> int:
    try:
        commands = {"compare": _cmd_compare, "list": _cmd_list, "show": _cmd_show, "cache": _cmd_cache,
                    "sweep": _cmd_sweep}
        text = commands[args.command](args)
        if text is not None:
            _write(text, getattr(args, "output", None))
        return 0
    except (LbalgoError, ValueError, TypeError, KeyError, OSError) as e:
        message = e.args[0] if isinstance(e, KeyError) and e.args else str(e)
        print(f"lbalgo: error: {' '.join(str(message).split())}", file=sys.stderr)
        return 2
    except _Interrupted as e:
        print(f"lbalgo: {e}", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("lbalgo: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
