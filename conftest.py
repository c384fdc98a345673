"""Repository-root pytest hooks: ``pytest --benchmark-only`` runs the benchmarks in ``bench/``.

``pyproject.toml`` sets ``testpaths = ["tests"]``, so a bare ``pytest`` runs
the test suite and nothing else. Asked for benchmarks only, without paths
(``pytest --benchmark-only`` from the repository root), pytest would collect
``tests/``, skip every test there and measure nothing; this hook points the
collection at ``bench/`` instead. Explicit paths (``pytest bench/test_sim.py
--benchmark-only``) are left alone, and so is every run without
``--benchmark-only``. Nothing is imported here, so the test suite's start-up
time is unchanged.
"""

from __future__ import annotations

from pathlib import Path

import pytest

BENCH_DIR = Path(__file__).resolve().parent / "bench"


def pytest_configure(config: pytest.Config) -> None:
    """Collect ``bench/`` instead of the ``testpaths`` when only benchmarks are asked for."""
    try:
        benchmark_only = config.getoption("benchmark_only")
    except ValueError:  # pytest-benchmark is not installed: nothing to redirect
        return
    if benchmark_only and config.args_source == pytest.Config.ArgsSource.TESTPATHS and BENCH_DIR.is_dir():
        config.args[:] = [str(BENCH_DIR)]
