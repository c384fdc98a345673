"""Repository-root pytest hooks: ``pytest --benchmark-only`` runs the benchmarks in ``bench/``.

``pyproject.toml`` sets ``testpaths = ["tests"]``, so a bare ``pytest`` runs
the test suite and nothing else. Asked for benchmarks only, without paths
(``pytest --benchmark-only`` from the repository root), pytest would collect
``tests/``, skip every test there and measure nothing; this hook points the
collection at ``bench/`` instead. Explicit paths (``pytest bench/test_sim.py
--benchmark-only``) are left alone, and so is every run without
``--benchmark-only``. Nothing is imported here, so the test suite's start-up
time is unchanged.

The test suite runs on every core (``-n auto`` in ``pyproject.toml``, through
pytest-xdist), but a benchmark is timed in one process: when pytest-benchmark
would time anything, the run stays in this process (pytest-benchmark switches
itself off under xdist, and two workers would disturb each other's timings).
"""

from __future__ import annotations

from pathlib import Path

import pytest

BENCH_DIR = Path(__file__).resolve().parent / "bench"


def _times_benchmarks(config: pytest.Config) -> bool:
    """Whether pytest-benchmark will time benchmarks in this run (not ``--benchmark-disable``/``-skip``)."""
    try:
        disabled = config.getoption("benchmark_disable") and not config.getoption("benchmark_enable")
        skipped = config.getoption("benchmark_skip") and not config.getoption("benchmark_only")
    except ValueError:  # pytest-benchmark is not installed
        return False
    if disabled or skipped:
        return False
    if config.getoption("benchmark_only"):
        return True
    # A run naming bench/ (or a file in it) times its benchmarks.
    return any(Path(str(a).split("::")[0]).resolve().is_relative_to(BENCH_DIR) for a in config.args)


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> None:
    """Keep timed benchmark runs in one process: ``-n 0`` whatever ``addopts`` says."""
    if hasattr(config.option, "numprocesses") and _times_benchmarks(config):
        config.option.numprocesses = 0


def pytest_configure(config: pytest.Config) -> None:
    """Collect ``bench/`` instead of the ``testpaths`` when only benchmarks are asked for."""
    try:
        benchmark_only = config.getoption("benchmark_only")
    except ValueError:  # pytest-benchmark is not installed: nothing to redirect
        return
    if benchmark_only and config.args_source == pytest.Config.ArgsSource.TESTPATHS and BENCH_DIR.is_dir():
        config.args[:] = [str(BENCH_DIR)]
