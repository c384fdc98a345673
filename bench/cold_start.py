"""Time ``lbalgo compare`` from an empty kernel cache, then warm, in fresh processes.

Usage::

    python bench/cold_start.py            # the default comparison: cold, then warm
    python bench/cold_start.py --marginal # also: how much one more algorithm adds to a cold run

Each run is a new Python process with ``LBALGO_CACHE_DIR`` pointing at a new
empty directory, so nothing compiled earlier is reused (lbalgo caches every
kernel there; see ``docs/limits.md``). The warm run reuses that directory.
The marginal cost of an algorithm is the cold time of the default
comparison minus the cold time of the same comparison without it, for the
algorithm whose kernels are compiled last (so the shared engine and helpers
are counted once). Prints one line per measurement and a summary.
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
    args = parser.parse_args()
    import lbalgo

    with tempfile.TemporaryDirectory() as d:
        cold = compare_seconds(os.path.join(d, "a"))
        print(f"cold compare: {cold:.1f} s", flush=True)
        warm = compare_seconds(os.path.join(d, "a"))
        print(f"warm compare: {warm:.1f} s", flush=True)
        if args.marginal:
            names = lbalgo.names()
            without = ",".join(names[:-1])
            less = compare_seconds(os.path.join(d, "b"), without)
            full = compare_seconds(os.path.join(d, "c"), ",".join(names))
            print(f"cold compare without {names[-1]}: {less:.1f} s; with it: {full:.1f} s; "
                  f"one more algorithm adds {full - less:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
