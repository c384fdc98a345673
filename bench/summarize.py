"""Turn a pytest-benchmark JSON file into the Markdown tables of docs/benchmarks.md.

    pytest bench --benchmark-only --benchmark-json=bench.json -p no:randomly
    python bench/summarize.py bench.json

Every figure is the fastest round (``extra_info['ns_per_decision']``,
``ns_per_pick`` or ``events_per_second`` where the benchmark recorded it,
else the minimum time): the machine is shared, and slower rounds measure
the neighbours. Ratios are computed here from those figures, so they hold
for any subset of the suite that was run. Tables:

1. lbalgo per decision at 10 / 100 / 1,000 backends, with plain Python / lbalgo;
2. rr / wrr ``pick_many`` beside the same loops in C (target: lbalgo / C <= 2),
   and the lc / wlc churn beside its C loop;
3. lc / wlc / sed / nq scans beside plain Numba loops over contiguous
   arrays (target: lbalgo / loop <= 1.5);
4. the indexed lc / wlc (tree) beside the scan;
5. the simulator beside a tailored Numba loop and SimPy (targets: lbalgo
   >= 8 M events/s, tailored / lbalgo <= 1.5, lbalgo >= 20x SimPy);
6. one ``pick()`` from Python (target: <= 400 ns at 100 backends);
7. everything else, per group.
"""

from __future__ import annotations

import json
import re
import sys
from collections import defaultdict

SIZES = (10, 100, 1000)


def _info(b: dict) -> dict:
    return b.get("extra_info") or {}


def _ns(b: dict) -> float | None:
    """Nanoseconds per decision (fastest round), or None for a benchmark that is not per decision."""
    info = _info(b)
    for key in ("ns_per_decision", "ns_per_pick"):
        if info.get(key) is not None:
            return float(info[key])
    decisions = info.get("decisions")
    if decisions:
        return b["stats"]["min"] / decisions * 1e9
    return None


def _impl(b: dict) -> str:
    return str(_info(b).get("impl") or b["name"].split("[")[0].replace("test_", ""))


def _test(b: dict) -> str:
    return b["name"].split("[")[0]


def _fmt_ns(ns: float | None) -> str:
    if ns is None:
        return "-"
    if ns >= 10_000:
        return f"{ns / 1000:,.1f} µs"
    if ns < 10:
        return f"{ns:.2f} ns"
    return f"{ns:,.1f} ns" if ns < 100 else f"{ns:,.0f} ns"


def _fmt_ratio(r: float | None, digits: int = 2) -> str:
    return "-" if r is None else f"{r:,.{digits}f}x"


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a and b else None


def _met(ok: bool | None) -> str:
    return "" if ok is None else ("yes" if ok else "**no**")


def _table(header: list[str], rows: list[list[str]], left: int = 1) -> None:
    """A Markdown table; the first ``left`` columns are text (left-aligned), the rest numbers."""
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" if i < left else "---:" for i in range(len(header))) + "|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print()


# -- 1. per algorithm ---------------------------------------------------------------------------
# group pattern -> (what is measured, algorithm)
_KINDS = [
    (re.compile(r"^batch-(\w+)$"), "pick_many"),
    (re.compile(r"^pick-(\w+)-\d+$"), "pick_many"),
    (re.compile(r"^churn-(\w+)-\d+$"), "churn: release + pick"),
    (re.compile(r"^keyed-(\w+)$"), "pick_many, one key each"),
    (re.compile(r"^locality-pick-(\w+)-\d+$"), "pick_many, one destination each"),
    (re.compile(r"^locality-churn-(\w+)-\d+$"), "churn: release + pick"),
    (re.compile(r"^affinity-(\w+)$"), "ClientIP affinity pick_many"),
]

# lbalgo.names() order, then the ClientIP affinity modes
_ALGO_ORDER = ["rr", "wrr", "random", "iptables", "nftables", "sh", "dh", "mh", "lc", "wlc", "sed", "nq",
               "fo", "ovf", "twos", "lblc", "lblcr", "ipvs"]


def per_algorithm(benches: list[dict]) -> None:
    cells: dict[tuple[str, str], dict[int, dict[str, float]]] = defaultdict(lambda: defaultdict(dict))
    order: list[tuple[str, str]] = []
    for b in benches:
        group = b.get("group") or ""
        n = _info(b).get("n_backends")
        ns = _ns(b)
        if ns is None or n is None:
            continue
        for pattern, kind in _KINDS:
            m = pattern.match(group)
            if m:
                key = (m.group(1), kind)
                if key not in order:
                    order.append(key)
                impl = "python" if "plain" in _impl(b) else ("lbalgo" if _impl(b) == "lbalgo" else None)
                if impl:
                    cells[key][int(n)][impl] = ns
                break
    if not order:
        return
    print("### lbalgo per decision, and plain Python / lbalgo\n")
    print("Fastest round per decision at 10 / 100 / 1,000 backends (ClientIP affinity: 10 endpoints; "
          "keyed hashing: 100 backends); in brackets, how many times faster than the plain-Python "
          "reference (`tests/reference`) measured in the same run.\n")
    kinds = [k for _, k in _KINDS]
    order.sort(key=lambda key: (_ALGO_ORDER.index(key[0]) if key[0] in _ALGO_ORDER else len(_ALGO_ORDER),
                                kinds.index(key[1])))
    rows = []
    for algo, kind in order:
        row = [algo, kind]
        for n in SIZES:
            c = cells[(algo, kind)].get(n, {})
            if "lbalgo" in c:
                r = _ratio(c.get("python"), c["lbalgo"])
                row.append(_fmt_ns(c["lbalgo"]) + (f" ({r:,.0f}x)" if r else ""))
            else:
                row.append("")
        rows.append(row)
    _table(["algorithm", "measured", "10", "100", "1,000"], rows, left=2)


# -- 2. C ---------------------------------------------------------------------------------------
def versus_c(benches: list[dict]) -> None:
    batch: dict[tuple[str, int], dict[str, float]] = defaultdict(dict)
    churn: dict[tuple[str, int], dict[str, float]] = defaultdict(dict)
    for b in benches:
        group = b.get("group") or ""
        n = _info(b).get("n_backends")
        ns = _ns(b)
        impl = _impl(b)
        if ns is None or n is None or not (impl == "lbalgo" or impl.startswith("C gcc")):
            continue
        side = "c" if impl.startswith("C") else "lbalgo"
        m = re.match(r"^batch-(rr|wrr)$", group)
        if m:
            batch[(m.group(1), int(n))][side] = ns
        m = re.match(r"^churn-(lc|wlc)-\d+$", group)
        if m:
            churn[(m.group(1), int(n))][side] = ns
    if any("c" in v for v in batch.values()):
        print("### rr and wrr beside C\n")
        print("`pick_many(200_000)` against a C loop (gcc -O2) doing the same work: the same algorithm with "
              "the overload flag and the cursor / stop rules, each connection counted (`active += 1`, the "
              "upper-threshold check), on a copy of the same table rows; decisions asserted identical. "
              "Target: lbalgo / C <= 2.\n")
        rows = []
        for (algo, n), v in sorted(batch.items()):
            if "c" not in v:
                continue
            r = _ratio(v.get("lbalgo"), v["c"])
            rows.append([algo, f"{n:,}", _fmt_ns(v.get("lbalgo")), _fmt_ns(v["c"]), _fmt_ratio(r),
                         _met(None if r is None else r <= 2)])
        _table(["algorithm", "backends", "lbalgo", "C", "lbalgo / C", "<= 2"], rows)
    if any("c" in v for v in churn.values()):
        print("### lc and wlc churn beside C\n")
        print("Release the connection of `8 n` decisions ago, then pick and count one; the C loop (gcc -O2 "
              "-fno-if-conversion -fno-if-conversion2) does the same on the same table rows (for scale; no "
              "target).\n")
        rows = []
        for (algo, n), v in sorted(churn.items()):
            if "c" in v:
                rows.append([algo, f"{n:,}", _fmt_ns(v.get("lbalgo")), _fmt_ns(v["c"]),
                             _fmt_ratio(_ratio(v.get("lbalgo"), v["c"]))])
        _table(["algorithm", "backends", "lbalgo", "C", "lbalgo / C"], rows)


# -- 3. scans -----------------------------------------------------------------------------------
def scans(benches: list[dict]) -> None:
    cells: dict[tuple[str, int], dict[str, float]] = defaultdict(dict)
    for b in benches:
        m = re.match(r"^scan-(\w+)-(\d+)$", b.get("group") or "")
        ns = _ns(b)
        if m and ns is not None:
            cells[(m.group(1), int(m.group(2)))][_impl(b)] = ns
    if not cells:
        return
    print("### Scans beside plain Numba loops over contiguous arrays\n")
    print("`pick_many(200_000)` from a fresh pool (counters grow) against a plain `@numba.njit` loop making "
          "the same decisions with the same accounting (`bench/reference_loops.py`), on five separate 1-D "
          "arrays (weight, flags, active, inactive, upper threshold) and on the rows of one 2-D array (the "
          "same loop body). Target: lbalgo / loop <= 1.5 (checked against the faster loop).\n")
    rows = []
    for (algo, n), v in sorted(cells.items(), key=lambda kv: (["lc", "wlc", "sed", "nq"].index(kv[0][0])
                                                             if kv[0][0] in ("lc", "wlc", "sed", "nq") else 9,
                                                             kv[0][1])):
        lb = v.get("lbalgo")
        r1 = _ratio(lb, v.get("contiguous"))
        r2 = _ratio(lb, v.get("contiguous-rows"))
        worst = max([r for r in (r1, r2) if r is not None], default=None)
        rows.append([algo, f"{n:,}", _fmt_ns(lb), _fmt_ns(v.get("contiguous")),
                     _fmt_ns(v.get("contiguous-rows")),
                     _fmt_ratio(r1), _fmt_ratio(r2), _met(None if worst is None else worst <= 1.5)])
    _table(["algorithm", "backends", "lbalgo", "loop, 1-D arrays", "loop, rows of 2-D", "lbalgo / 1-D",
            "lbalgo / rows", "<= 1.5"], rows)


# -- 4. indexed ---------------------------------------------------------------------------------
def indexed(benches: list[dict]) -> None:
    cells: dict[tuple[str, int], dict[str, float]] = defaultdict(dict)
    for b in benches:
        m = re.match(r"^churn-(\w+)-indexed-(\d+)$", b.get("group") or "")
        ns = _ns(b)
        if m and ns is not None:
            cells[(m.group(1), int(m.group(2)))][_impl(b).replace("lbalgo-", "")] = ns
    if not cells:
        return
    print("### Indexed lc / wlc (tree) beside the scan\n")
    print("Churn (release + pick). Targets: the tree >= 20x faster than the scan at 10,000 backends, not "
          "slower at 1,000.\n")
    rows = []
    for (algo, n), v in sorted(cells.items()):
        r = _ratio(v.get("scan"), v.get("tree"))
        target = None if r is None else (r >= 20 if n >= 10_000 else r >= 1)
        rows.append([algo, f"{n:,}", _fmt_ns(v.get("scan")), _fmt_ns(v.get("tree")), _fmt_ratio(r, 1),
                     _met(target)])
    _table(["algorithm", "backends", "scan", "tree", "scan / tree", "target"], rows)


# -- 5. simulator -------------------------------------------------------------------------------
def simulator(benches: list[dict]) -> None:
    eps: dict[tuple[str, str], tuple[float, int]] = {}
    for b in benches:
        info = _info(b)
        if (b.get("group") or "") != "sim" or not info.get("events_per_second"):
            continue
        algo = info.get("algorithm") or (b["name"].split("[")[1].rstrip("]") if "[" in b["name"] else "lc")
        eps[(_impl(b), algo)] = (float(info["events_per_second"]), int(info.get("connections", 0)))
    if not eps:
        return
    print("### Simulator\n")
    print("Events per second of the compiled loop (fastest round; an arrival and a connection end are one "
          "event each): 100 backends of weight 1, Poisson arrivals, lognormal lifetimes, infinite servers. "
          "lbalgo and the tailored loop run the same 1,000,000 connections (decisions asserted identical); "
          "SimPy runs 100,000. Targets: lbalgo >= 8 M events/s, tailored / lbalgo <= 1.5, lbalgo >= 20x "
          "SimPy.\n")
    simpy = {a: v for (impl, a), v in eps.items() if impl == "simpy"}
    rows = []
    for (impl, algo), (e, conns) in sorted(eps.items(), key=lambda kv: (["lbalgo", "tailored", "simpy"].index(
            kv[0][0]) if kv[0][0] in ("lbalgo", "tailored", "simpy") else 9, kv[0][1])):
        vs_simpy = _ratio(e, simpy[algo][0]) if algo in simpy and impl != "simpy" else None
        rows.append([impl, algo, f"{conns:,}", f"{e / 1e6:,.2f} M", _fmt_ratio(vs_simpy, 1)])
    _table(["implementation", "algorithm", "connections", "events/s", "x SimPy (same algorithm)"], rows,
           left=2)
    lb = {a: v[0] for (impl, a), v in eps.items() if impl == "lbalgo"}
    lines = []
    if "lc" in lb:
        lines.append(f"- lbalgo LC: {lb['lc'] / 1e6:,.2f} M events/s "
                     f"(target >= 8 M: {_met(lb['lc'] >= 8e6)}); "
                     f"slowest lbalgo algorithm: {min(lb.values()) / 1e6:,.2f} M events/s")
    if "lc" in lb and ("tailored", "lc") in eps:
        r = eps[("tailored", "lc")][0] / lb["lc"]
        lines.append(f"- tailored LC loop / lbalgo LC: {r:.2f} (target <= 1.5: {_met(r <= 1.5)})")
    if lb and simpy:
        r = min(lb.values()) / max(v[0] for v in simpy.values())
        lines.append(f"- slowest lbalgo / fastest SimPy model: {r:,.1f}x (target >= 20x: {_met(r >= 20)})")
    print("\n".join(lines) + "\n")


# -- 6. pick() ----------------------------------------------------------------------------------
def single_picks(benches: list[dict]) -> None:
    cells: dict[str, dict[str, float]] = defaultdict(dict)
    for b in benches:
        m = re.match(r"^pick-(\w+)$", b.get("group") or "")
        if not m or _test(b) not in ("test_pick_from_python", "test_pick_plain_python"):
            continue
        ns = _info(b).get("ns_per_pick") or b["stats"]["min"] * 1e9
        cells[m.group(1)]["lbalgo" if _test(b) == "test_pick_from_python" else "python"] = float(ns)
    if not cells:
        return
    print("### One pick() from Python\n")
    print("A single `pick()` call at 100 backends (fastest round), beside the plain-Python reference's "
          "`pick()`. Target: <= 400 ns.\n")
    rows = []
    for algo, v in cells.items():
        lb = v.get("lbalgo")
        rows.append([algo, _fmt_ns(lb), _fmt_ns(v.get("python")), _fmt_ratio(_ratio(v.get("python"), lb), 1),
                     _met(None if lb is None else lb <= 400)])
    _table(["algorithm", "lbalgo", "plain Python", "plain Python / lbalgo", "<= 400 ns"], rows)


# -- 7. everything ------------------------------------------------------------------------------
def _fmt_call(seconds: float) -> str:
    if seconds >= 1e-3:
        return f"{seconds * 1e3:,.1f} ms"
    return f"{seconds * 1e6:,.2f} µs"


def everything(benches: list[dict]) -> None:
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for b in benches:
        n = _info(b).get("n_backends", "")
        groups[(b.get("group") or b["name"], n)].append(b)
    print("### Every benchmark\n")
    rows = []
    for group, n in sorted(groups, key=lambda k: (k[0], str(k[1]).zfill(8))):
        members = groups[(group, n)]
        ref = [(_ns(b) or b["stats"]["min"] * 1e9) for b in members if "plain" in _impl(b)]
        for b in sorted(members, key=lambda b: (_impl(b), str(_info(b).get("algorithm", "")))):
            ns = _ns(b)
            value = _fmt_ns(ns) if ns is not None else _fmt_call(b["stats"]["min"])
            mine = ns if ns is not None else b["stats"]["min"] * 1e9
            ratio = f"{ref[0] / mine:,.1f}x" if ref and "plain" not in _impl(b) and mine else ""
            label = _impl(b) + (f" ({_info(b)['algorithm']})" if _info(b).get("algorithm") else "")
            rows.append([group, str(n), label, value, ratio])
    _table(["group", "backends", "implementation", "per decision (or per call)", "plain Python / this"], rows,
           left=3)


def main(path: str) -> None:
    with open(path) as f:
        data = json.load(f)
    machine = data.get("machine_info", {})
    cpu = machine.get("cpu", {})
    print(f"Machine: {cpu.get('brand_raw', '?')}, {cpu.get('count', '?')} "
          f"cores; Python {machine.get('python_version', '?')}; {data.get('datetime', '')}\n")
    benches = data["benchmarks"]
    for section in (per_algorithm, versus_c, scans, indexed, simulator, single_picks, everything):
        section(benches)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "bench.json")
