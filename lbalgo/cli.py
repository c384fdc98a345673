"""The ``lbalgo`` command line: a thin layer over the Python API.

Exit codes: 0 success, 2 bad usage or input (one line on stderr, no
traceback), 1 unexpected failure, 130 interrupted (Ctrl-C; ``compare``
still prints the algorithms that finished). See docs/cli.md.
"""

from __future__ import annotations

import argparse
import math
import os
import signal
import sys
import threading
import warnings
from pathlib import Path
from typing import Any, NoReturn, Sequence

from .errors import LbalgoError

EXAMPLES = """examples:
  lbalgo compare                                  built-in scenario: IPVS and kube-proxy algorithms
  lbalgo compare --algorithms all                 every algorithm: IPVS, kube-proxy, nginx, HAProxy, Envoy
  lbalgo compare --algorithms rr,wrr,wlc,sh --weights 4,2,1,1 --connections 2e6 \\
                 --clients zipf:50000:1.1 --lifetime lognormal:2:1 --seed 7
  lbalgo compare scenario.toml --format md -o report.md --plot report.png
  lbalgo compare --format csv --no-timing -o report.csv   reproducible, byte for byte
  lbalgo compare --service infinite --arrivals poisson:5000   IPVS counters = open connections
  lbalgo compare --format html -o report.html     one self-contained page: tables and plots
  lbalgo sweep docs/sweeps/load-vs-backends.toml -o results/   a grid of scenarios on Dask
  lbalgo list                                     algorithms with one-line descriptions
  lbalgo show wrr --weights 4,3,2 -n 18           the decision sequence, for teaching
  lbalgo cache --clear                            delete the compiled kernels (they are rebuilt on use)
"""


class UsageError(LbalgoError):
    """Bad arguments or input: exit code 2."""


class _Interrupted(Exception):
    """Ctrl-C after some output was written: exit code 130 with this message."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (then exit code 2)."""

    def error(self, message: str) -> NoReturn:  # noqa: D102
        self.exit(2, f"lbalgo: error: {message} (see: {self.prog} --help)\n")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="lbalgo", description="Load-balancing algorithms that behave like "
                "Linux IPVS, kube-proxy, nginx and HAProxy.", epilog=EXAMPLES,
                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)

    c = sub.add_parser("compare", help="run algorithms on one scenario and compare them",
                       epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    c.add_argument("scenario", nargs="?", help="scenario TOML file (default: the built-in scenario)")
    c.add_argument("--algorithms", help="comma-separated names, or 'all' for every registered algorithm "
                   "(default: the scenario's; the built-in scenario's are IPVS's and kube-proxy's)")
    c.add_argument("--weights", help="comma-separated backend weights, e.g. 4,2,1,1")
    c.add_argument("--connections", help="number of new connections, e.g. 1e6")
    c.add_argument("--seed", type=int, help="seed of the workload and the random schedulers")
    c.add_argument("--arrivals", metavar="MODEL:...",
                   help="poisson:RATE, constant:RATE or onoff:RATE:MEAN_ON:MEAN_OFF (per second); "
                        "with --load leave the rate out (poisson, onoff:MEAN_ON:MEAN_OFF)")
    c.add_argument("--load", type=float, help="offered load instead of a rate: a share of the pool's capacity "
                   "(queued service models)")
    c.add_argument("--lifetime", metavar="MODEL:...", help="exponential:MEAN, lognormal:MEAN:SIGMA, "
                   "pareto:ALPHA:MEAN or constant:VALUE (seconds; work at speed 1 when queued)")
    c.add_argument("--clients", metavar="MODEL:...", help="zipf:COUNT[:EXPONENT[:NETWORK]] or "
                   "uniform:COUNT[:NETWORK]")
    c.add_argument("--service", choices=["infinite", "fifo", "ps"], help="service model (see docs/scenarios.md)")
    c.add_argument("--no-events", action="store_true", help="leave out the scenario's pool events")
    c.add_argument("--format", choices=["text", "json", "md", "csv", "html"], default="text",
                   help="report format (default: text; html: one self-contained page with plots)")
    c.add_argument("-o", "--output", help="write the report to this file instead of stdout")
    c.add_argument("--no-timing", action="store_true",
                   help="leave out decisions/s, so the report is the same byte for byte on every run")
    c.add_argument("--plot", metavar="PNG", help="also write the plots: shares, open connections over time, "
                   "latency CDF, disruption (needs matplotlib)")
    c.add_argument("-q", "--quiet", action="store_true", help="no progress lines on stderr")

    sub.add_parser("list", help="list the algorithms", formatter_class=argparse.RawDescriptionHelpFormatter,
                   epilog="examples:\n  lbalgo list                  name, class, summary and source system\n"
                          "  lbalgo list | grep IPVS      the IPVS schedulers\n")

    s = sub.add_parser("show", help="print the first decisions of one algorithm",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog="examples:\n  lbalgo show wrr --weights 4,3,2 -n 9      prints 0 0 1 0 1 2 0 1 2\n"
                              "  lbalgo show random --weights 1,1 --seed 7\n"
                              "  lbalgo show sh --weights 1,1,1 --keys 10.0.0.1,10.0.0.2 -n 4\n")
    s.add_argument("algorithm")
    s.add_argument("--weights", required=True, help="comma-separated weights, e.g. 4,3,2")
    s.add_argument("-n", type=int, default=18, help="number of decisions (default 18)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--keys", help="comma-separated client addresses to cycle through (keyed algorithms)")
    w = sub.add_parser("sweep", help="run a grid of scenarios on Dask: tables, summary, HTML report",
                       formatter_class=argparse.RawDescriptionHelpFormatter, epilog=SWEEP_EXAMPLES)
    w.add_argument("grid", help="sweep grid TOML file (see docs/sweeps.md)")
    w.add_argument("-o", "--output", dest="directory", metavar="DIR", help="results directory; finished runs "
                   "in it are not run again (default: NAME-sweep, after the grid's name)")
    w.add_argument("--workers", type=int, help="worker processes of the local Dask cluster "
                   "(default: one per core)")
    w.add_argument("--scheduler", metavar="ADDRESS", help="use the Dask cluster at this address "
                   "(tcp://host:8786) instead of a local one")
    w.add_argument("--timing", action="store_true", help="add connections_per_second to the tables "
                   "(varies from run to run)")
    w.add_argument("--dry-run", action="store_true", help="check the grid and list its cells; run nothing")
    w.add_argument("-q", "--quiet", action="store_true", help="no progress bar on stderr")
    k = sub.add_parser("cache", help="where compiled kernels are cached; --clear deletes them")
    k.add_argument("--clear", action="store_true", help="delete every cached kernel (all lbalgo versions)")
    return p


def _int_list(text: str, what: str) -> list[int]:
    items = [x for x in text.split(",") if x.strip()]
    try:
        values = [int(x) for x in items]
    except ValueError:
        values = []
    if not values:
        raise UsageError(f"{what} must be comma-separated integers, got {_quote(text)}")
    return values


def _quote(text: str) -> str:
    """An option's value quoted for a message, cut to a readable length."""
    from .errors import short

    return short(text)


def _count(text: str, what: str, limit: str | None = None) -> int:
    """A whole number >= 1 written as an integer or a float (``1e6``), or a UsageError naming ``what``."""
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"{what} must be a number, got {_quote(text)}") from None
    if not math.isfinite(value) or value != int(value) or value < 1:
        raise UsageError(f"{what} must be a whole number >= 1, got {_quote(text)}")
    if limit is not None:
        from . import limits

        limits.check(limit, value, f"{what} {text.strip()}", UsageError)
    return int(value)


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


def _scenario(args: argparse.Namespace) -> Any:
    """The scenario ``lbalgo compare`` runs: the file (or the built-in one) with the options applied."""
    import dataclasses

    from . import scenario as scenario_mod

    sc = scenario_mod.load(args.scenario) if args.scenario else scenario_mod.default()
    changes: dict[str, Any] = {}
    if args.weights is not None:
        changes["weights"] = tuple(_int_list(args.weights, "--weights"))
    if args.connections is not None:
        changes["connections"] = _count(args.connections, "--connections", "MAX_CONNECTIONS")
    if args.seed is not None:
        changes["seed"] = args.seed
    for option, name, section in ((args.arrivals, "--arrivals", "arrivals"),
                                  (args.lifetime, "--lifetime", "lifetimes"),
                                  (args.clients, "--clients", "clients")):
        if option is not None:
            if not option.strip():
                raise UsageError(f"{name} needs a model, got ''")
            changes[section] = scenario_mod.parse_model(option, section, with_load=args.load is not None)
    if args.arrivals is not None:
        changes["load"] = None  # a rate given on the command line replaces the file's load
    if args.load is not None:
        changes["load"] = args.load
    if args.service:
        changes["service"] = dataclasses.replace(sc.service, model=args.service)
        if args.service == "infinite" and args.load is None and args.arrivals is None and sc.load is not None:
            # the file's load means nothing without queues: keep its arrival rate
            changes["load"] = None
            changes["arrivals"] = sc.arrivals_with_rate()
    if args.no_events:
        changes["events"] = ()
    if changes:
        sc = dataclasses.replace(sc, **changes)
    return sc


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
            raise UsageError(f"--algorithms needs at least one name, got {_quote(args.algorithms)}")
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
        holder["run"] = ComparisonRun(_scenario(args), algorithms)
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


SWEEP_EXAMPLES = """examples:
  lbalgo sweep docs/sweeps/load-vs-backends.toml -o results/   local Dask cluster, one worker per core
  lbalgo sweep grid.toml --scheduler tcp://dask-scheduler:8786  an existing Dask cluster
  lbalgo sweep grid.toml --dry-run                             check the grid, list the cells
Run the same command again after Ctrl-C: finished runs are kept and skipped.
"""


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
    s = cls(weights=_int_list(args.weights, "--weights"), seed=args.seed)
    keys = None
    if args.keys is not None:
        keys = [k.strip() for k in args.keys.split(",") if k.strip()]
        if not keys:
            raise UsageError(f"--keys must be comma-separated client addresses, got {_quote(args.keys)}")
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
    args = _parser().parse_args(argv)
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
