"""The ``lbalgo`` command line: a thin layer over the Python API.

Exit codes: 0 success, 2 bad usage or input (one line on stderr, no
traceback), 1 unexpected failure, 130 interrupted (Ctrl-C; ``compare``
still prints the algorithms that finished). See docs/cli.md.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, NoReturn, Sequence

EXAMPLES = """examples:
  lbalgo compare                                  built-in default scenario, all algorithms
  lbalgo compare --algorithms rr,wrr,wlc,sh --weights 4,2,1,1 --connections 2e6 \\
                 --clients zipf:50000:1.1 --lifetime lognormal:2:1 --seed 7
  lbalgo compare scenario.toml --format md -o report.md --plot report.png
  lbalgo compare --format csv --no-timing -o report.csv   reproducible, byte for byte
  lbalgo compare --service infinite --arrivals poisson:5000   IPVS counters = open connections
  lbalgo list                                     algorithms with one-line descriptions
  lbalgo show wrr --weights 4,3,2 -n 18           the decision sequence, for teaching
  lbalgo cache --clear                            delete the compiled kernels (they are rebuilt on use)
"""


class UsageError(Exception):
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
    c.add_argument("--algorithms", help="comma-separated names (default: all registered)")
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
    c.add_argument("--format", choices=["text", "json", "md", "csv"], default="text",
                   help="report format (default: text)")
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
    k = sub.add_parser("cache", help="where compiled kernels are cached; --clear deletes them")
    k.add_argument("--clear", action="store_true", help="delete every cached kernel (all lbalgo versions)")
    return p


def _int_list(text: str, what: str) -> list[int]:
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise UsageError(f"{what} must be comma-separated integers, got {text!r}") from None


def _count(text: str, what: str) -> int:
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"{what} must be a number, got {text!r}") from None
    if value != int(value) or value < 1:
        raise UsageError(f"{what} must be a whole number >= 1, got {text!r}")
    return int(value)


def _cmd_compare(args: argparse.Namespace) -> str:
    import dataclasses

    from . import scenario as scenario_mod
    from .report import compare
    from .report.compare import require_matplotlib

    if args.plot:
        try:
            require_matplotlib()  # fail before the (long) comparison, not after
        except RuntimeError as e:
            raise UsageError(str(e)) from None
    sc = scenario_mod.load(args.scenario) if args.scenario else scenario_mod.default()
    changes = {}
    if args.weights:
        changes["weights"] = tuple(_int_list(args.weights, "--weights"))
    if args.connections:
        changes["connections"] = _count(args.connections, "--connections")
    if args.seed is not None:
        changes["seed"] = args.seed
    for option, section in ((args.arrivals, "arrivals"), (args.lifetime, "lifetimes"), (args.clients, "clients")):
        if option:
            changes[section] = scenario_mod.parse_model(option, section, with_load=args.load is not None)
    if args.arrivals:
        changes["load"] = None  # a rate given on the command line replaces the file's load
    if args.load is not None:
        changes["load"] = args.load
    if args.service:
        changes["service"] = dataclasses.replace(sc.service, model=args.service)
        if args.service == "infinite" and args.load is None and not args.arrivals and sc.load is not None:
            # the file's load means nothing without queues: keep its arrival rate
            changes["load"] = None
            changes["arrivals"] = sc.arrivals_with_rate()
    if args.no_events:
        changes["events"] = ()
    if changes:
        sc = dataclasses.replace(sc, **changes)
    algorithms = [a.strip() for a in args.algorithms.split(",") if a.strip()] if args.algorithms else None
    show_progress = not args.quiet and sys.stderr.isatty()
    bar = _ProgressBar(sys.stderr) if show_progress else None
    try:
        result = compare(sc, algorithms, progress=bar)
    finally:
        if bar is not None:
            bar.close()
    timing = not args.no_timing
    text = {"json": result.to_json, "md": result.to_markdown, "csv": result.to_csv,
            "text": result.to_text}[args.format](timing=timing)
    if not result.complete:
        if not result.rows:
            raise KeyboardInterrupt
        _write(text, args.output)
        done, total = len(result.rows), len(result.rows) + len(result.missing)
        raise _Interrupted(f"interrupted after {done} of {total} algorithms; "
                           "the report shows those that finished")
    if args.plot:
        result.plot(args.plot)
    return text


class _ProgressBar:
    """``[######------]  3/17  wlc`` on one terminal line, redrawn before each algorithm."""

    WIDTH = 24

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.drawn = False

    def __call__(self, index: int, total: int, algorithm: str) -> None:
        done = (index - 1) * self.WIDTH // max(total, 1)
        line = f"[{'#' * done}{'-' * (self.WIDTH - done)}] {index}/{total} {algorithm}"
        self.stream.write("\r" + line.ljust(60)[:79])
        self.stream.flush()
        self.drawn = True

    def message(self, text: str) -> None:
        self.stream.write("\r" + text.ljust(79)[:79])
        self.stream.flush()
        self.drawn = True

    def close(self) -> None:
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


def _cmd_list(args: argparse.Namespace) -> str:
    from .schedulers.registry import SCHEDULERS

    width = max(len(n) for n in SCHEDULERS)
    return "".join(f"{name.ljust(width)}  {cls.__name__:<16} {cls.summary}  [{cls.source}]\n"
                   for name, cls in SCHEDULERS.items())


def _cmd_show(args: argparse.Namespace) -> str:
    from .errors import NoBackendAvailable
    from .schedulers.registry import get

    cls = get(args.algorithm)
    if args.n < 0:
        raise UsageError(f"-n must be >= 0, got {args.n}")
    s = cls(weights=_int_list(args.weights, "--weights"), seed=args.seed)
    keys = [k.strip() for k in args.keys.split(",")] if args.keys else None
    if cls.keyed and not keys:
        raise UsageError(f"{cls.name} hashes a client address: give --keys 10.0.0.1,10.0.0.2,...")
    out = []
    for i in range(args.n):
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


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``lbalgo`` command; returns the exit code."""
    args = _parser().parse_args(argv)
    try:
        commands = {"compare": _cmd_compare, "list": _cmd_list, "show": _cmd_show, "cache": _cmd_cache}
        text = commands[args.command](args)
        _write(text, getattr(args, "output", None))
        return 0
    except (UsageError, ValueError, TypeError, KeyError, OSError) as e:
        message = e.args[0] if isinstance(e, KeyError) and e.args else str(e)
        print(f"lbalgo: error: {message}", file=sys.stderr)
        return 2
    except _Interrupted as e:
        print(f"lbalgo: {e}", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("lbalgo: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
