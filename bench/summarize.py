"""Turn a pytest-benchmark JSON file into the Markdown tables of docs/benchmarks.md.

    pytest bench --benchmark-only --benchmark-json=bench.json
    python bench/summarize.py bench.json

Per benchmark group: each implementation's fastest round per decision (from
``extra_info['ns_per_decision']`` where the benchmark recorded it, else the
minimum time), and the ratio of the plain-Python reference to lbalgo.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict


def _ns(bench: dict) -> float | None:
    info = bench.get("extra_info", {})
    if info.get("ns_per_decision") is not None:
        return float(info["ns_per_decision"])
    decisions = info.get("decisions")
    if decisions:
        return bench["stats"]["min"] / decisions * 1e9
    return None


def _impl(bench: dict) -> str:
    info = bench.get("extra_info", {})
    return str(info.get("impl") or bench["name"].split("[")[0].replace("test_", ""))


def main(path: str) -> None:
    data = json.load(open(path))
    machine = data.get("machine_info", {})
    print(f"Machine: {machine.get('cpu', {}).get('brand_raw', '?')}, {machine.get('cpu', {}).get('count', '?')} "
          f"cores; Python {machine.get('python_version', '?')}; {data.get('datetime', '')}\n")
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for b in data["benchmarks"]:
        n = b.get("extra_info", {}).get("n_backends", "")
        groups[(b.get("group") or b["name"], n)].append(b)
    print("| group | backends | implementation | ns per decision (or µs per call) | plain Python / this |")
    print("|---|---:|---|---:|---:|")
    for group, n in sorted(groups, key=lambda k: (k[0], str(k[1]).zfill(8))):
        rows = groups[(group, n)]
        ref = [(_ns(b) or b["stats"]["min"] * 1e9) for b in rows if "plain" in _impl(b)]
        for b in sorted(rows, key=lambda b: _impl(b)):
            ns = _ns(b)
            value = f"{ns:,.1f} ns" if ns is not None else f"{b['stats']['min'] * 1e6:,.2f} µs"
            mine = ns if ns is not None else b["stats"]["min"] * 1e9
            ratio = f"{ref[0] / mine:,.1f}x" if ref and "plain" not in _impl(b) and mine else ""
            print(f"| {group} | {n} | {_impl(b)} | {value} | {ratio} |")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "bench.json")
