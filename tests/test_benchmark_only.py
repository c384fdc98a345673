"""``pytest --benchmark-only`` from the repository root collects bench/, and a plain ``pytest`` still tests/.

The redirection is the root ``conftest.py``'s ``pytest_configure`` hook.
"""

import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parent.parent


def collected(*args):
    # A fresh pytest, not one that believes it is a worker of this run's xdist (benchmarks
    # switch themselves off in a worker).
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    r = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    return r.returncode, [line for line in r.stdout.splitlines() if "::" in line]


def test_benchmark_only_from_the_root_collects_the_benchmarks():
    code, items = collected("--benchmark-only")
    assert code == 0
    files = {item.split("::")[0] for item in items}
    assert files >= {"bench/test_sim.py", "bench/test_compare.py", "bench/test_sweep.py"}
    assert all(f.startswith("bench/") for f in files)


def test_explicit_paths_are_left_alone():
    code, items = collected("--benchmark-only", "tests/test_benchmark_only.py")
    assert code == 0 and items and all(i.startswith("tests/test_benchmark_only.py::") for i in items)


def load_root_conftest():
    import importlib.util

    spec = importlib.util.spec_from_file_location("root_conftest", ROOT / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    "benchmark_only, source, redirected",
    [
        (True, pytest.Config.ArgsSource.TESTPATHS, True),
        (False, pytest.Config.ArgsSource.TESTPATHS, False),  # plain pytest: tests/ as before
        (True, pytest.Config.ArgsSource.ARGS, False),
        (True, pytest.Config.ArgsSource.INVOCATION_DIR, False),
    ],
)
def test_the_hook_redirects_only_a_bare_benchmark_only_run(benchmark_only, source, redirected):
    hook = load_root_conftest()
    config = SimpleNamespace(
        args=[str(ROOT / "tests")],
        args_source=source,
        getoption=lambda name: {"benchmark_only": benchmark_only}[name],
    )
    hook.pytest_configure(config)
    assert config.args == ([str(ROOT / "bench")] if redirected else [str(ROOT / "tests")])


@pytest.mark.parametrize(
    "options, args, workers",
    [
        ({}, ["tests"], "auto"),  # the test suite: every core
        ({"benchmark_only": True}, ["tests"], 0),  # timed benchmarks: one process
        ({}, ["bench/test_sim.py::test_x"], 0),  # naming bench/ times its benchmarks
        ({"benchmark_disable": True}, ["bench"], "auto"),  # bodies run once, untimed: every core
        ({"benchmark_skip": True}, ["bench"], "auto"),
    ],
)
def test_timed_benchmarks_run_in_one_process(options, args, workers, monkeypatch):
    monkeypatch.chdir(ROOT)
    hook = load_root_conftest()
    defaults = {"benchmark_only": False, "benchmark_disable": False, "benchmark_enable": False,
                "benchmark_skip": False}
    config = SimpleNamespace(args=args, option=SimpleNamespace(numprocesses="auto"),
                             getoption=lambda name: {**defaults, **options}[name])
    hook.pytest_cmdline_main(config)
    assert config.option.numprocesses == workers
