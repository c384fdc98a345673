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


# -- issue 17: read-only locations, concurrent processes, stale helpers, hostile places ------------------

def read_only(paths):
    """A command prefix that runs a command with ``paths`` read-only, for root too, or None if impossible.

    Root ignores permission bits, so as root each path is bind-mounted
    read-only in a private mount namespace (``unshare --mount``: nothing
    changes outside the command). As another user the permission bits are
    honest: the caller makes the paths read-only with chmod.
    """
    if os.getuid() != 0:
        return []
    if shutil.which("unshare") is None:
        return None
    mounts = " && ".join(f"mount --bind {p} {p} && mount -o remount,bind,ro {p}" for p in paths)
    unshare = ["unshare", "--mount", "--propagation", "private", "sh", "-c"]
    probe = subprocess.run(unshare + [f"{mounts} && true"], capture_output=True)
    if probe.returncode != 0:
        return None
    return unshare + [f'{mounts} && exec "$@"', "sh"]


def run_read_only(argv, env, paths):
    prefix = read_only([str(p) for p in paths])
    if prefix is None:
        pytest.skip("cannot make a directory read-only for root here (no unshare/mount)")
    modes = {}
    if not prefix:  # not root: permission bits work
        for p in paths:
            modes[p] = p.stat().st_mode
            for sub in [p, *p.rglob("*")]:
                if sub.is_dir():
                    sub.chmod(0o500)
    full = dict(os.environ, **env)
    full.pop("NUMBA_CACHE_DIR", None)
    try:
        return subprocess.run(prefix + argv, capture_output=True, text=True, env=full, cwd=ROOT)
    finally:
        for p in modes:
            for sub in [p, *p.rglob("*")]:
                if sub.is_dir():
                    sub.chmod(0o700)


WARM = SMALL + "; r = lbalgo.WRR(weights=[4, 3, 2]); print(r.pick_many(9).tolist())"


@pytest.fixture(scope="module")
def warm_cache(tmp_path_factory):
    """A cache directory holding the kernels WARM needs (compiled once for the tests below)."""
    cache = tmp_path_factory.mktemp("warm") / "cache"
    run(WARM, {"LBALGO_CACHE_DIR": str(cache)})
    return cache


def test_a_read_only_warm_cache_serves_its_kernels_and_compiles_the_rest_in_memory(tmp_path, warm_cache):
    # Was: RuntimeError "cannot cache function ...: no locator available".
    cache = tmp_path / "cache"
    shutil.copytree(warm_cache, cache)
    before = sorted(p.relative_to(cache) for p in cache.rglob("*"))
    env = {"LBALGO_CACHE_DIR": str(cache), "NUMBA_DEBUG_CACHE": "1"}
    r = run_read_only([sys.executable, "-W", "always", "-c", WARM], env, [cache])
    assert r.returncode == 0, r.stderr
    assert [line for line in r.stdout.splitlines() if not line.startswith("[cache]")] == [
        "[2, 1]", "[0, 0, 1, 0, 1, 2, 0, 1, 2]"]
    assert "data loaded" in r.stdout and "data saved" not in r.stdout  # served from the read-only cache
    assert "CacheWarning" not in r.stderr
    more = "import lbalgo; s = lbalgo.RR(weights=[1, 2]); print(s.pick_many(4).tolist())"
    r = run_read_only([sys.executable, "-W", "always", "-c", more], {"LBALGO_CACHE_DIR": str(cache)}, [cache])
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[0, 1, 0, 1]"
    assert r.stderr.count("CacheWarning") == 1 and "cannot write compiled kernels" in r.stderr
    assert sorted(p.relative_to(cache) for p in cache.rglob("*")) == before


def test_a_read_only_home_and_install_still_run_the_command(tmp_path):
    # Was: even "lbalgo show wrr --weights 4,3,2" failed.
    home = tmp_path / "home"
    home.mkdir()
    env = {"HOME": str(home), "XDG_CACHE_HOME": "", "LBALGO_CACHE_DIR": ""}
    r = run_read_only([sys.executable, "-m", "lbalgo", "show", "wrr", "--weights", "4,3,2", "-n", "9"], env,
                      [home, ROOT / "lbalgo"])
    assert r.returncode == 0, r.stderr
    assert r.stdout == "0 0 1 0 1 2 0 1 2\n"
    (line,) = r.stderr.splitlines()  # one warning, on one line
    assert line.startswith("lbalgo: warning: not caching compiled kernels") and "cannot be created" in line
    assert list(home.iterdir()) == []


def test_concurrent_cold_processes_share_one_cache(tmp_path):
    cache = tmp_path / "cache"
    env = dict(os.environ, LBALGO_CACHE_DIR=str(cache))
    env.pop("NUMBA_CACHE_DIR", None)
    code = ("import lbalgo; s = lbalgo.WLC(weights=[2, 1]); s.pick_many(3);"
            "r = lbalgo.WRR(weights=[4, 3, 2]); print(s.active_conns.tolist(), r.pick_many(9).tolist())")
    procs = [subprocess.Popen([sys.executable, "-W", "always", "-c", code], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT) for _ in range(4)]
    results = [p.communicate(timeout=600) + (p.returncode,) for p in procs]
    assert all(rc == 0 and err == "" for _, err, rc in results), results
    assert len({out for out, _, _ in results}) == 1
    again = run(code, {"LBALGO_CACHE_DIR": str(cache), "NUMBA_DEBUG_CACHE": "1"})
    assert again.stdout.splitlines()[-1] == results[0][0].strip()
    assert "data loaded" in again.stdout and "data saved" not in again.stdout  # every kernel came from disk
    assert again.stderr == ""


def test_a_data_file_that_does_not_hold_its_entry_is_a_miss(tmp_path, warm_cache):
    cache = tmp_path / "cache"
    shutil.copytree(warm_cache, cache)
    data = sorted(cache.rglob("*.nbc"), key=lambda p: p.stat().st_size)
    assert len(data) >= 2
    small, large = data[0], data[-1]
    large.write_bytes(small.read_bytes())  # another kernel's compiled code under this kernel's name
    r = run(WARM, {"LBALGO_CACHE_DIR": str(cache), "NUMBA_DEBUG_CACHE": "1"})
    assert [line for line in r.stdout.splitlines() if not line.startswith("[cache]")] == [
        "[2, 1]", "[0, 0, 1, 0, 1, 2, 0, 1, 2]"]
    assert f"data saved to '{large}'" in r.stdout  # compiled again, and the file replaced


def test_every_module_a_kernel_reads_is_in_the_cache_stamp(tmp_path):
    # Was: only files that declare kernels were hashed; a constant in a plain module kept stale kernels.
    from lbalgo import _cache

    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "_jit.py").write_text("def kernel(f):\n    return f\n")
    (pkg / "consts.py").write_text("BASE = 1 << 32\n")
    (pkg / "helpers.py").write_text("from .consts import BASE\n\ndef shifted(x):\n    return x + BASE\n")
    (pkg / "unrelated.py").write_text("X = 1\n")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "k.py").write_text("from .._jit import kernel\nfrom .. import helpers\n"
                                      "from ..consts import (\n    BASE,\n)\n\n"
                                      "@kernel\ndef f(x):\n    return helpers.shifted(x) + BASE\n")
    names = sorted(str(p.relative_to(pkg)) for p in _cache.kernel_sources(pkg))
    assert names == ["_jit.py", "consts.py", "helpers.py", "sub/k.py"]


@pytest.mark.parametrize("problem", ["world-writable parent", "parent of another user", "symbolic link"])
def test_a_cache_another_user_could_replace_is_never_used(tmp_path, problem):
    parent = tmp_path / "shared"
    parent.mkdir()
    cache = parent / "cache"
    if problem == "symbolic link":
        real = tmp_path / "real"
        real.mkdir(mode=0o700)
        cache.symlink_to(real)
    else:
        cache.mkdir(mode=0o700)
        if problem == "world-writable parent":
            parent.chmod(0o777)  # not sticky: anyone can rename cache/ and put their own in its place
        else:
            if os.getuid() != 0:
                pytest.skip("needs root to give a directory to another user")
            os.chown(parent, 12345, 12345)
            parent.chmod(0o755)
    out = run(SMALL, {"LBALGO_CACHE_DIR": str(cache)})
    assert "not caching compiled kernels" in out.stderr
    assert out.stdout.startswith("[2, 1]")
    target = real if problem == "symbolic link" else cache
    assert list(target.iterdir()) == []


def test_no_shared_temporary_directory_is_ever_used(tmp_path):
    # Was: without a usable home cache, $TMPDIR/lbalgo-<uid> was used even if another user had made it.
    tmp = tmp_path / "tmp"
    planted = tmp / f"lbalgo-{os.getuid()}"
    planted.mkdir(parents=True)
    planted.chmod(0o777)
    (planted / "marker").write_text("planted")
    env = {"HOME": "/proc/self", "XDG_CACHE_HOME": "", "LBALGO_CACHE_DIR": "", "TMPDIR": str(tmp)}
    out = run(SMALL, env)
    assert out.stdout.startswith("[2, 1]")
    assert "not caching compiled kernels" in out.stderr
    assert sorted(p.name for p in tmp.rglob("*")) == ["lbalgo-" + str(os.getuid()), "marker"]
