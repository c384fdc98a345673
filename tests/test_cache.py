"""The kernel cache: fresh after any source change, private, and degrading instead of failing.

Each test runs lbalgo in fresh processes with ``LBALGO_CACHE_DIR`` (or ``HOME``)
pointing at a temporary directory, as a user's later runs would.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PICK = ("import lbalgo, numpy as np;"
        "s = lbalgo.WLC(weights=[2, 1]); s.pick_many(3);"
        "from lbalgo import workloads as W;"
        "res = lbalgo.simulate(lbalgo.LC(weights=[1, 1]), W.Workload(arrivals=W.poisson(rate=10.0), n=20,"
        " lifetimes=W.constant(100.0), seed=1));"
        "print(s.active_conns.tolist(), res.stats['active_left'].tolist())")


SMALL = "import lbalgo; s = lbalgo.WLC(weights=[2, 1]); s.pick_many(3); print(s.active_conns.tolist())"


def run(code, env, cwd=None, pythonpath=None):
    full = dict(os.environ, **env)
    full.pop("NUMBA_CACHE_DIR", None)
    if pythonpath:
        full["PYTHONPATH"] = pythonpath
    return subprocess.run([sys.executable, "-W", "always", "-c", code], capture_output=True, text=True,
                          env=full, cwd=cwd or ROOT, check=True)


def test_a_change_to_a_shared_helper_reaches_every_cached_kernel(tmp_path):
    """Edit the accounting in _table.py: kernels in other files (wlc, the event loop) must follow."""
    src = tmp_path / "src"
    shutil.copytree(ROOT / "lbalgo", src / "lbalgo", ignore=shutil.ignore_patterns("__pycache__"))
    env = {"LBALGO_CACHE_DIR": str(tmp_path / "cache")}
    before = run(PICK, env, cwd=tmp_path, pythonpath=str(src)).stdout.split("] [")
    table = src / "lbalgo" / "_table.py"
    text = table.read_text()
    edited = text.replace("        table[ACTIVE, s] += 1\n", "        table[ACTIVE, s] += 2\n", 1)
    assert edited != text
    table.write_text(edited)
    after = run(PICK, env, cwd=tmp_path, pythonpath=str(src)).stdout.split("] [")
    assert before[0] == "[2, 1"  # wlc with weights 2, 1: three connections
    assert after[0] == "[4, 2"  # the same decisions, each now counted twice, by pick_many ...
    assert before[1] != after[1]  # ... and by the event loop (its unbind still takes one off)


def test_a_corrupt_cache_file_is_a_miss(tmp_path):
    env = {"LBALGO_CACHE_DIR": str(tmp_path)}
    good = run(SMALL, env).stdout
    files = [f for f in tmp_path.rglob("*") if f.is_file() and f.suffix in (".nbi", ".nbc")]
    assert files
    for i, f in enumerate(files):
        f.write_bytes(b"" if i % 2 else f.read_bytes()[: len(f.read_bytes()) // 2])
    again = run(SMALL, env)
    assert again.stdout == good
    assert "ignoring an unreadable cache entry" in again.stderr
    assert run(SMALL, env).stdout == good  # and the files were replaced


@pytest.mark.parametrize("problem", ["world-writable", "other-owner"])
def test_a_directory_others_can_write_is_never_used(tmp_path, problem):
    cache = tmp_path / "cache"
    cache.mkdir()
    planted = cache / "kernels"
    planted.mkdir()
    (planted / "marker").write_text("planted by another user")
    if problem == "world-writable":
        cache.chmod(0o777)
    else:
        if os.getuid() != 0:
            pytest.skip("needs root to give a directory to another user")
        os.chown(cache, 12345, 12345)
        cache.chmod(0o700)
    out = run(SMALL, {"LBALGO_CACHE_DIR": str(cache)})
    assert "not caching compiled kernels" in out.stderr
    assert out.stdout.startswith("[2, 1]")
    assert sorted(p.name for p in planted.iterdir()) == ["marker"]  # nothing loaded or written there


def test_no_home_means_no_cache_rather_than_the_filesystem_root(tmp_path):
    env = {"HOME": "", "XDG_CACHE_HOME": "", "LBALGO_CACHE_DIR": ""}
    code = "import lbalgo._cache as c; print(c.root_candidate())"
    got = run(code, env).stdout.strip()
    assert got != "/.cache/lbalgo" and (got == "None" or got.endswith("/.cache/lbalgo"))
    assert run(code, {"HOME": "/", "XDG_CACHE_HOME": "", "LBALGO_CACHE_DIR": ""}).stdout.strip() == "None"


def test_cache_directory_is_created_private(tmp_path):
    cache = tmp_path / "new" / "cache"
    run(SMALL, {"LBALGO_CACHE_DIR": str(cache)})
    assert cache.stat().st_mode & 0o077 == 0
    assert any(cache.rglob("*.nbi"))
