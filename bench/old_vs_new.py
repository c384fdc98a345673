"""Two checkouts of lbalgo side by side, in one run: per-decision cost, ``pick()``, simulator events/s.

Usage::

    git worktree add /tmp/lbalgo-old f32fbc0          # any earlier revision
    .venv/bin/python bench/old_vs_new.py /tmp/lbalgo-old [--rounds 3] [--json out.json]

Each measurement runs in a fresh child process per checkout (``PYTHONPATH``
points at that checkout; each has its own kernel cache directory, warmed by a
first round that is not counted), the two alternating round by round so that
the shared machine's noise falls on both alike. The table reports the fastest
round of each. Only public API is used (``lbalgo.get(name)(weights=...)``,
``pick_many``, ``pick``, ``lbalgo.simulate``), so any revision since the first
release can be measured against any other.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent

#: Run in the child: measures one checkout; prints one JSON object {measurement: value}.
CHILD = r"""
import json, sys, time
import numpy as np
import lbalgo
from lbalgo import simulate, workloads as W

def weights(n):
    return np.random.default_rng(1).integers(1, 11, size=n).tolist()

def fastest(fn, repeat):
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter(); fn(); best = min(best, time.perf_counter() - t0)
    return best

out = {}
BATCH = 200_000
for name, n in [("rr", 100), ("wrr", 100), ("random", 100), ("nftables", 100), ("iptables", 100),
                ("lc", 100), ("lc", 1000), ("wlc", 100), ("wlc", 1000), ("sed", 100), ("sed", 1000),
                ("nq", 100), ("nq", 1000)]:
    cls = lbalgo.get(name)
    cls(weights=weights(n), seed=1).pick_many(1000)  # compile or load the cache
    # A fresh pool each round (the connection counters grow with every decision).
    best = float("inf")
    for _ in range(5):
        s = cls(weights=weights(n), seed=1)
        t0 = time.perf_counter(); s.pick_many(BATCH); best = min(best, time.perf_counter() - t0)
    out[f"pick_many {name} @{n} (ns/decision)"] = best / BATCH * 1e9
for name in ["rr", "wrr", "lc"]:
    s = lbalgo.get(name)(weights=weights(100), seed=1)
    s.pick()
    calls = 20_000
    def many():
        p = s.pick
        for _ in range(calls):
            p()
    out[f"pick() {name} @100 (ns/call)"] = fastest(many, 5) / calls * 1e9
wl = W.Workload(arrivals=W.poisson(rate=2000.0), n=1_000_000, lifetimes=W.lognormal(mean=2.0, sigma=1.0),
                clients=W.zipf(n_clients=50_000, s=1.1), seed=7)
generated = wl.generate()
small = W.Workload(arrivals=W.poisson(rate=2000.0), n=1000, lifetimes=W.lognormal(mean=2.0, sigma=1.0),
                   clients=W.zipf(n_clients=50_000, s=1.1), seed=7)
for name in ["rr", "lc", "wlc", "sh"]:
    cls = lbalgo.get(name)
    simulate(cls(weights=[1] * 100), small)
    loop = min(simulate(cls(weights=[1] * 100), generated).seconds for _ in range(3))
    out[f"simulate {name} 1M connections @100 (M events/s)"] = 2_000_000 / loop / 1e6
print(json.dumps(out))
"""


def measure(checkout: Path, cache: Path) -> dict[str, float]:
    """One child process measuring ``checkout``; its JSON result."""
    env = {**os.environ, "PYTHONPATH": str(checkout), "LBALGO_CACHE_DIR": str(cache)}
    r = subprocess.run([sys.executable, "-c", CHILD], cwd=tempfile.gettempdir(), env=env, capture_output=True,
                       text=True, timeout=1800)
    if r.returncode != 0:
        raise SystemExit(f"old_vs_new: measuring {checkout} failed:\n{r.stderr[-2000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def main() -> None:
    """Measure both checkouts, alternating, and print the table."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("old", type=Path, help="the other checkout (for example a git worktree)")
    ap.add_argument("--new", type=Path, default=HERE, help="default: this checkout")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json", type=Path, help="also write every round's figures here")
    args = ap.parse_args()
    for path in (args.old, args.new):
        if not (path / "lbalgo" / "__init__.py").is_file():
            raise SystemExit(f"old_vs_new: {path} is not an lbalgo checkout (no lbalgo/__init__.py)")
    with tempfile.TemporaryDirectory() as tmp:
        caches = {"old": Path(tmp, "old"), "new": Path(tmp, "new")}
        for c in caches.values():
            c.mkdir(mode=0o700)
        for label, path in (("old", args.old), ("new", args.new)):  # warm-up: compile into each cache
            measure(path, caches[label])
        rounds: dict[str, list[dict[str, float]]] = {"old": [], "new": []}
        for _ in range(args.rounds):
            for label, path in (("old", args.old), ("new", args.new)):
                rounds[label].append(measure(path, caches[label]))
    best = {}
    for label, runs in rounds.items():
        higher_is_better = {k: "events/s" in k for k in runs[0]}
        best[label] = {k: (max if higher_is_better[k] else min)(r[k] for r in runs) for k in runs[0]}
    print(f"| measurement | old ({args.old}) | new | new vs old |")
    print("|---|---:|---:|---:|")
    for key, new in best["new"].items():
        old = best["old"].get(key)
        if old is None:
            continue
        gain = new / old if "events/s" in key else old / new
        print(f"| {key} | {old:.3g} | {new:.3g} | {gain:.2f}x faster |" if gain >= 1
              else f"| {key} | {old:.3g} | {new:.3g} | {1 / gain:.2f}x slower |")
    if args.json:
        args.json.write_text(json.dumps({"rounds": rounds, "best": best}, indent=1))


if __name__ == "__main__":
    main()
