"""Time ``lbalgo compare`` from an empty kernel cache, then warm, in fresh processes.

Usage::

    python bench/cold_start.py            # the default comparison: cold, then warm
    python bench/cold_start.py --marginal # also: how much one more algorithm adds to a cold run
    python bench/cold_start.py --marginal --of haproxy-roundrobin   # ... that algorithm added to it

Each run is a new Python process with ``LBALGO_CACHE_DIR`` pointing at a new
empty directory, so nothing compiled earlier is reused (lbalgo caches every
kernel there; see ``docs/limits.md``). The warm run reuses that directory.
The marginal cost of an algorithm is the cold time of the default
comparison with it minus the cold time without it: by default the default
comparison's last algorithm (whose kernels are compiled last, so the shared
engine and helpers are counted once), or ``--of NAME`` added after the
default comparison's algorithms. Prints one line per measurement and a summary.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time


def compare_seconds(cache: str, algorithms: str | None = None) -> float:
    """Wall time of one ``lbalgo compare`` in a fresh process using ``cache``."""
    cmd = [sys.executable, "-m", "lbalgo", "compare", "--quiet", "--no-timing"]
    if algorithms:
        cmd += ["--algorithms", algorithms]
    env = dict(os.environ, LBALGO_CACHE_DIR=cache)
    t0 = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--marginal", action="store_true", help="also measure one more algorithm's cold cost")
    parser.add_argument("--of", metavar="NAME", help="the algorithm to add (default: the last of the default "
                        "comparison)")
    args = parser.parse_args()
    from lbalgo import scenario

    with tempfile.TemporaryDirectory() as d:
        cold = compare_seconds(os.path.join(d, "a"))
        print(f"cold compare: {cold:.1f} s", flush=True)
        warm = compare_seconds(os.path.join(d, "a"))
        print(f"warm compare: {warm:.1f} s", flush=True)
        if args.marginal:
            names = [a.name for a in scenario.default().algorithms]
            if args.of:
                names = [n for n in names if n != args.of] + [args.of]
            less = cold if names[:-1] == [a.name for a in scenario.default().algorithms] else compare_seconds(
                os.path.join(d, "b"), ",".join(names[:-1]))
            full = compare_seconds(os.path.join(d, "c"), ",".join(names))
            print(f"cold compare without {names[-1]}: {less:.1f} s; with it: {full:.1f} s; "
                  f"one more algorithm adds {full - less:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
