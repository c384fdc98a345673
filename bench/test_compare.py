"""``lbalgo compare`` end to end: the built-in scenario and the 17 algorithms it names.

Group ``compare``. The issue's target is the default scenario (17 algorithms,
1,000,000 connections each, FIFO queues, two pool events) in under 20 s on
this 2-core machine with a warm Numba cache; the recorded figure is in
docs/benchmarks.md (measured with ``time lbalgo compare``). Here a tenth of
the connections keeps the benchmark short; the per-stage split shows where
the time goes: generating the workload, the compiled event loops, and the
metrics computed in NumPy afterwards.
"""

import dataclasses
import time

import pytest

from lbalgo import scenario
from lbalgo.report import compare

N_CONNS = 100_000


@pytest.fixture(scope="module")
def small_default():
    return dataclasses.replace(scenario.default(), connections=N_CONNS)


@pytest.mark.benchmark(group="compare")
def test_compare_default_all_algorithms(benchmark, small_default):
    compare(dataclasses.replace(small_default, connections=2000))  # warm-up: compile or load every cache
    result = benchmark.pedantic(compare, args=(small_default,), rounds=3, iterations=1)
    algorithms = len(small_default.algorithms)  # the built-in scenario names its algorithms
    assert result.complete and len(result.rows) == algorithms
    loops = sum(r.seconds for r in result.rows)
    t0 = time.perf_counter()
    small_default.workload().generate()
    generate = time.perf_counter() - t0
    stats = getattr(benchmark, "stats", None)
    if stats:
        total = stats.stats.min
        benchmark.extra_info.update({"connections": N_CONNS, "algorithms": algorithms, "event_loops_s": loops,
                                     "generate_s": generate,
                                     "other_s": total - loops - generate})
        print(f"\ncompare, {N_CONNS:,} connections x {algorithms}: {total:.2f} s (event loops {loops:.2f} s, "
              f"workload {generate:.2f} s, metrics and rest {total - loops - generate:.2f} s)")
