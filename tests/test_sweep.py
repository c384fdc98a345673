"""Parameter sweeps (lbalgo.sweeps, ``lbalgo sweep``): grids, seeds, Dask runs, journal, tables.

The Dask tests share two local clusters (1 and 2 worker processes) started
once for the module, and a grid of 4 cells x 2 replicates x 3 algorithms of
3,000 connections, so they take seconds.
"""

import contextlib
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

import lbalgo
from lbalgo import cli
from lbalgo.sweeps import GridError, SweepError, SweepResult, grid_from_dict, load_grid, run_seed, sweep
from lbalgo.sweeps.grid import assign
from lbalgo.sweeps.run import DASK_MISSING, Journal

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "docs" / "sweeps").glob("*.toml"))
SMALL = {
    "name": "small",
    "seed": 3,
    "replicates": 2,
    "algorithms": ["rr", "wlc", "sh"],
    "base": {"connections": 3000},
    "axes": {"arrivals.load": [0.6, 0.9], "pool.backends": [3, 5]},
}

needs_dask = pytest.mark.skipif(
    not (lambda: __import__("importlib").util.find_spec("distributed"))(),
    reason="sweeps need Dask: pip install lbalgo[sweep]",
)


def run_cli(capsys, *argv):
    try:
        code = cli.main(list(argv))
    except SystemExit as e:
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


def with_axes(**axes):
    return {**SMALL, "axes": axes}


# -- grids ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_grids_are_valid(path):
    g = load_grid(path)
    assert len(g.cells) == math.prod(len(a.values) for a in g.axes)
    assert g.x in [a.path for a in g.axes]
    runs = g.runs()
    assert len(runs) == len(g.cells) * g.replicates
    assert len({r.seed for r in runs}) == len(runs)


def test_grid_cells_are_the_product_of_the_axes_in_file_order():
    g = grid_from_dict(SMALL)
    assert [c.describe() for c in g.cells] == [
        "arrivals.load=0.6, pool.backends=3",
        "arrivals.load=0.6, pool.backends=5",
        "arrivals.load=0.9, pool.backends=3",
        "arrivals.load=0.9, pool.backends=5",
    ]
    assert g.cells[1].scenario.weights == (8, 4, 4, 2, 2)  # the default weights repeated to 5
    assert g.cells[2].scenario.load == 0.9 and g.cells[2].scenario.connections == 3000
    assert g.algorithms == ("rr", "wlc", "sh")
    assert g.cells[0].scenario.name == "small"


def test_nested_axis_tables_and_labelled_values():
    g = grid_from_dict(
        {
            **SMALL,
            "axes": {
                "lifetimes": {"mean": [0.02, 0.05]},
                "events": {
                    "values": [[], [{"at": "50%", "action": "quiesce", "backend": 0}]],
                    "labels": ["none", "quiesce b0"],
                },
            },
        }
    )
    assert [a.path for a in g.axes] == ["lifetimes.mean", "events"]
    assert g.cells[1].describe() == "lifetimes.mean=0.02, events=quiesce b0"
    assert g.cells[1].scenario.events[0].action == "quiesce"
    assert g.cells[0].scenario.events == ()
    assert g.axes[1].column(1) == "quiesce b0" and g.axes[0].column(1) == 0.05


@pytest.mark.parametrize(
    "grid, message",
    [
        ({"replicate": 3}, "unknown field 'replicate' in the grid"),
        (
            {"axes": {"lifetimes.sgima": [1.0]}},
            "axes.lifetimes.sgima: unknown field 'lifetimes.sgima' (known: lifetimes.alpha, lifetimes.mean",
        ),
        ({"axes": {"arrivals.load": []}}, "axes.arrivals.load is empty"),
        ({"axes": {"seed": [1, 2]}}, "axes.seed: seed cannot be set here: every run's seed derives"),
        ({"axes": {"algorithms": [["rr"]]}}, "axes.algorithms: algorithms cannot be set here"),
        ({"axes": {"arrivals.load": [0.5, 0.5]}}, "axes.arrivals.load: the value 0.5 is given twice"),
        ({"axes": {"arrivals.load": 0.5}}, "axes.arrivals.load must be a list of values, got 0.5"),
        (
            {"axes": {"pool.backends": [2], "pool.weights": [[1, 1]]}},
            "pool.backends and pool.weights cannot both",
        ),
        (
            {"axes": {"lifetimes": [{"model": "exponential", "mean": 1.0}], "lifetimes.mean": [1.0]}},
            "lifetimes and lifetimes.mean cannot both be axes",
        ),
        (
            {"axes": {"events": {"values": [[]], "labels": ["a", "b"]}}},
            "axes.events.labels must be a list of 1 strings",
        ),
        ({"replicates": 0}, "replicates must be a whole number 1 .. 100,000, got 0"),
        ({"confidence": 1.5}, "confidence must be a number between 0 and 1"),
        ({"seed": -1}, "seed must be a whole number 0 .."),
        ({"base": {"seed": 4}}, "base.seed: seed cannot be set here"),
        ({"base": {"arrivals": {"lod": 0.9}}}, "base.arrivals.lod: unknown field"),
        (
            {"report": {"x": "pool.weights"}},
            "report.x must be one of the axes (arrivals.load, pool.backends)",
        ),
        ({"report": {"metrics": ["speed"]}}, "report.metrics must be a list of metric names"),
        (
            {"algorithms": ["rr", "wrrr"]},
            "cell 0 (arrivals.load=0.6, pool.backends=3): algorithms[1].name: unknown algorithm 'wrrr'",
        ),
        ({"algorithms": [{"name": "wrr", "incremetal": True}]}, "unknown option 'incremetal'"),
    ],
)
def test_bad_grids_fail_before_anything_runs_with_the_field_named(grid, message):
    with pytest.raises(GridError) as e:
        grid_from_dict({**SMALL, **grid})
    assert message in str(e.value)


def test_a_cell_that_is_not_a_valid_scenario_is_named_with_its_coordinates():
    # the built-in events fail backend 1: a pool of one backend has no backend 1
    with pytest.raises(GridError, match=r"^cell 0 \(pool.backends=1\): events\[0\] .*no backend with id 1"):
        grid_from_dict(with_axes(**{"pool.backends": [1, 4]}))
    with pytest.raises(GridError, match=r"^cell 1 \(arrivals.load=-1\): arrivals.load must be a number > 0"):
        grid_from_dict(with_axes(**{"arrivals.load": [0.5, -1]}))
    with pytest.raises(GridError, match=r"^cell 2 \(service.model=infinite\): arrivals.load needs a queued"):
        grid_from_dict(with_axes(**{"service.model": ["fifo", "ps", "infinite"]}))
    with pytest.raises(GridError, match=r"cell 0 \(lifetimes.model=pareto\): lifetimes.alpha is required"):
        grid_from_dict(with_axes(**{"lifetimes.model": ["pareto"]}))


def test_assign_follows_the_scenario_rules():
    d = {
        "arrivals": {"model": "poisson", "load": 0.8},
        "lifetimes": {"model": "lognormal", "mean": 0.05, "sigma": 1.0},
        "pool": {"weights": [3, 2, 1]},
    }
    assign(d, "arrivals.rate", 100.0)
    assert d["arrivals"] == {"model": "poisson", "rate": 100.0}
    assign(d, "arrivals.load", 0.5)
    assert d["arrivals"] == {"model": "poisson", "load": 0.5}
    assign(d, "lifetimes.model", "exponential")  # sigma belongs to lognormal only
    assert d["lifetimes"] == {"model": "exponential", "mean": 0.05}
    assign(d, "pool.backends", 7)
    assert d["pool"]["weights"] == [3, 2, 1, 3, 2, 1, 3]
    with pytest.raises(ValueError, match="pool.backends must be a whole number"):
        assign(d, "pool.backends", 0)


def test_cli_rejects_a_bad_grid_with_one_line_and_runs_nothing(tmp_path, capsys):
    grid = tmp_path / "bad.toml"
    grid.write_text('replicates = 2\n[axes]\n"pool.backends" = [4, 1]\n')
    out_dir = tmp_path / "out"
    code, out, err = run_cli(capsys, "sweep", str(grid), "-o", str(out_dir), "-q")
    assert code == 2 and out == ""
    assert err.startswith("lbalgo: error: cell 1 (pool.backends=1): events[0]") and err.count("\n") == 1
    assert not out_dir.exists()
    grid.write_text("[axes]\narrivals.load = [0.5\n")
    code, _, err = run_cli(capsys, "sweep", str(grid), "--dry-run")
    assert code == 2 and "not valid TOML" in err
    code, _, err = run_cli(capsys, "sweep", str(tmp_path / "missing.toml"), "--dry-run")
    assert code == 2 and "cannot read sweep grid" in err


def test_dry_run_lists_the_cells(capsys):
    code, out, err = run_cli(capsys, "sweep", str(ROOT / "docs/sweeps/load-vs-backends.toml"), "--dry-run")
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0].startswith(
        "12 cells (arrivals.load in [0.5, 0.6, 0.7, 0.8, 0.9, 0.95]; pool.backends in "
        "[3, 30]) x 20 replicates x 6 algorithms"
    )
    assert lines[1:3] == [
        "cell 0: arrivals.load=0.5, pool.backends=3",
        "cell 1: arrivals.load=0.5, pool.backends=30",
    ]
    assert len(lines) == 13


# -- seeds ----------------------------------------------------------------------------------------
def test_run_seeds_depend_on_the_sweep_seed_the_cell_values_and_the_replicate_only():
    g = grid_from_dict(SMALL)
    runs = g.runs()
    seeds = [r.seed for r in runs]
    assert len(set(seeds)) == len(seeds) and all(0 <= s < 2**63 for s in seeds)
    assert seeds == [r.seed for r in grid_from_dict(SMALL).runs()]  # reproducible
    assert runs[0].scenario.seed == runs[0].seed
    # an extended axis keeps every existing cell's seeds and keys: a rerun reuses their results
    wider = grid_from_dict(with_axes(**{"arrivals.load": [0.6, 0.75, 0.9], "pool.backends": [3, 5]})).runs()
    assert {r.key: r.seed for r in runs}.items() <= {r.key: r.seed for r in wider}.items()
    other = grid_from_dict({**SMALL, "seed": 4}).runs()
    assert not {r.seed for r in other} & set(seeds)
    key = g.cells[0].key
    expected = np.random.SeedSequence(
        3,
        spawn_key=(*np.frombuffer(__import__("hashlib").sha256(key).digest()[:16], dtype="<u4").tolist(), 1),
    ).generate_state(1, np.uint64)[0]
    assert run_seed(3, key, 1) == int(expected) >> 1


def test_a_run_key_changes_with_anything_the_results_depend_on():
    keys = {r.key for r in grid_from_dict(SMALL).runs()}
    assert len(keys) == 8
    changed = {r.key for r in grid_from_dict({**SMALL, "base": {"connections": 3001}}).runs()}
    assert not keys & changed
    relabelled = {r.key for r in grid_from_dict({**SMALL, "algorithms": ["rr", "wlc", "mh"]}).runs()}
    assert not keys & relabelled


# -- journal and tables without Dask ---------------------------------------------------------------
def fake_records(g, metric_values):
    """Journal records with chosen metric values: {(cell, replicate): {algorithm: {metric: value}}}."""
    records = {}
    for run in g.runs():
        rows = []
        for algorithm in g.algorithms:
            row = {
                "algorithm": algorithm,
                "scheduler": algorithm,
                "family": "Linux IPVS",
                "connections": 100,
                "dropped": 0,
            }
            row.update(metric_values(run, algorithm))
            rows.append(row)
        records[run.key] = {"key": run.key, "rows": rows, "versions": {"lbalgo": "X"}}
    return records


def test_summary_means_and_student_t_intervals_across_replicates():
    g = grid_from_dict({**SMALL, "replicates": 4, "confidence": 0.9})
    values = {0: 0.1, 1: 0.3, 2: 0.2, 3: None}  # replicate 3 has no value (NaN): left out of n

    def metrics(run, algorithm):
        return {"jain": values[run.replicate], "sticky": 0.5 + run.cell.index / 10}

    res = SweepResult.from_records(g, g.runs(), fake_records(g, metrics))
    s = res.summary
    assert set(s["metric"]) == {"jain", "sticky"}  # metrics without any value are left out
    i = next(
        i
        for i in range(len(s["metric"]))
        if s["metric"][i] == "jain" and s["cell"][i] == 0 and s["algorithm"][i] == "wlc"
    )
    x = np.array([0.1, 0.3, 0.2])
    half = stats.t.ppf(0.95, 2) * x.std(ddof=1) / math.sqrt(3)
    assert s["n"][i] == 3 and s["mean"][i] == pytest.approx(0.2)
    assert s["std"][i] == pytest.approx(x.std(ddof=1))
    assert (s["ci_low"][i], s["ci_high"][i]) == pytest.approx((0.2 - half, 0.2 + half))
    j = next(j for j in range(len(s["metric"])) if s["metric"][j] == "sticky" and s["cell"][j] == 3)
    assert s["mean"][j] == pytest.approx(0.8) and s["ci_low"][j] == pytest.approx(0.8)  # no spread: a point
    one = SweepResult.from_records(
        grid_from_dict(SMALL | {"replicates": 1}),
        grid_from_dict(SMALL | {"replicates": 1}).runs(),
        fake_records(grid_from_dict(SMALL | {"replicates": 1}), lambda run, a: {"jain": 0.5}),
    )
    assert one.summary["n"][0] == 1 and math.isnan(one.summary["ci_low"][0])


def test_table_order_and_missing_runs_do_not_depend_on_completion_order():
    g = grid_from_dict(SMALL)
    runs = g.runs()
    records = fake_records(g, lambda run, a: {"jain": run.seed % 97 / 97})
    shuffled = dict(reversed(list(records.items())))
    a = SweepResult.from_records(g, runs, records)
    b = SweepResult.from_records(g, runs, shuffled)
    assert a.to_csv() == b.to_csv() and a.complete
    assert a.table["cell"] == [c for c in range(4) for _ in range(2 * 3)]
    assert a.table["algorithm"][:3] == ["rr", "wlc", "sh"]
    assert a.table["arrivals.load"][:7] == [0.6] * 6 + [0.6]
    del records[runs[5].key]
    partial = SweepResult.from_records(g, runs, records)
    assert not partial.complete and partial.missing == (runs[5].describe(),)
    assert partial.missing[0] == "cell 2 (arrivals.load=0.9, pool.backends=3), replicate 1"
    assert len(partial) == len(a) - 3


def test_journal_cuts_a_torn_line_and_ignores_foreign_lines(tmp_path):
    j = Journal(tmp_path)
    j.append({"key": "a", "rows": []})
    j.append({"key": "b", "rows": [{"x": 1}]})
    j.close()
    with open(j.path, "a") as f:
        f.write('not json\n{"key": "c", "rows": [{"x"')  # a hand-edited line, then a crash mid-write
    assert set(Journal(tmp_path).read()) == {"a", "b"}
    assert j.path.read_text().endswith("not json\n")  # the torn tail is gone: the next append starts a line
    j2 = Journal(tmp_path)
    j2.append({"key": "d", "rows": []})
    j2.close()
    assert set(Journal(tmp_path).read()) == {"a", "b", "d"}


def test_without_dask_the_sweep_says_how_to_install_it(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed -> ImportError
    with pytest.raises(RuntimeError, match=r"pip install lbalgo\[sweep\]"):
        sweep(SMALL)
    with pytest.raises(RuntimeError, match=r"pip install lbalgo\[sweep\]"):
        sweep(SMALL, tmp_path / "api")
    assert not (tmp_path / "api").exists()  # nothing written before the check
    code, out, err = run_cli(
        capsys, "sweep", str(ROOT / "docs/sweeps/hashing-churn.toml"), "-o", str(tmp_path / "o")
    )
    assert code == 2 and err == f"lbalgo: error: {DASK_MISSING}\n"
    assert not (tmp_path / "o").exists()
    code, out, _ = run_cli(capsys, "sweep", str(ROOT / "docs/sweeps/hashing-churn.toml"), "--dry-run")
    assert code == 0 and out.startswith("8 cells")  # checking a grid needs no Dask


def test_without_pyarrow_a_sweep_with_output_says_how_to_install_it(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    with pytest.raises(RuntimeError, match=r"pyarrow, which is not installed: pip install lbalgo\[sweep\]"):
        sweep(SMALL, tmp_path / "o")
    assert not (tmp_path / "o").exists()


def test_ctrl_c_waits_until_a_journal_line_is_written(tmp_path):
    from lbalgo.sweeps.run import _sigint_held

    reached = []
    with pytest.raises(KeyboardInterrupt):
        with _sigint_held():
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)  # the signal arrives here: held
            reached.append("end of block")
    assert reached == ["end of block"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_lbalgo_sweep_is_the_function_and_lbalgo_sweeps_the_module():
    import importlib

    sweeps = importlib.import_module("lbalgo.sweeps")  # importing the package does not shadow the function
    assert lbalgo.sweep is sweep and sweeps.sweep is sweep and lbalgo.sweeps is sweeps


# -- on Dask --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def clusters():
    pytest.importorskip("distributed", reason="sweeps need Dask: pip install lbalgo[sweep]")
    from lbalgo.sweeps._dask import connect

    with contextlib.ExitStack() as stack:
        yield {n: stack.enter_context(connect(None, None, n)) for n in (1, 2)}


@pytest.fixture(scope="module")
def reference(clusters, tmp_path_factory):
    """The small grid swept on 1 worker, uninterrupted."""
    out = tmp_path_factory.mktemp("one")
    return out, sweep(SMALL, out, client=clusters[1])


@needs_dask
def test_two_workers_give_the_tables_of_one_worker(clusters, reference, tmp_path):
    import pyarrow.parquet as pq

    one_dir, one = reference
    two = sweep(SMALL, tmp_path, client=clusters[2])
    assert one.complete and two.complete
    assert two.stats.workers == 2 and one.stats.workers == 1
    assert len(two) == 4 * 2 * 3 and two.stats.ran == 8 and two.stats.reused == 0
    for name in ("results.csv", "summary.csv"):
        assert (tmp_path / name).read_bytes() == (one_dir / name).read_bytes()
    assert pq.read_table(tmp_path / "results.parquet").equals(pq.read_table(one_dir / "results.parquet"))
    table = pq.read_table(tmp_path / "results.parquet")
    assert table.num_rows == 24 and table.schema.field("arrivals.load").type == "double"
    assert (
        table.schema.field("pool.backends").type == "int64"
        and "connections_per_second" not in table.schema.names
    )
    # the values are those of lbalgo.compare on each run's scenario
    run = grid_from_dict(SMALL).runs()[5]
    direct = lbalgo.compare(run.scenario)
    rows = [r for r in two.rows() if r["cell"] == run.cell.index and r["replicate"] == run.replicate]
    assert [r["jain"] for r in rows] == [row.jain for row in direct.rows]
    assert [r["seed"] for r in rows] == [run.seed] * 3
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "plots",
        "report.html",
        "results.csv",
        "results.parquet",
        "runs.jsonl",
        "summary.csv",
        "summary.parquet",
        "sweep.json",
    ]
    assert {p.name for p in (tmp_path / "plots").iterdir()} >= {"jain.svg", "sticky.svg", "max_deviation.svg"}
    # the workers loaded the kernels once, when the plugin ran: seconds were measured on each
    assert len(two.stats.kernel_load_seconds) == 2 and all(s > 0 for s in two.stats.kernel_load_seconds)


@needs_dask
def test_interrupted_sweep_keeps_finished_runs_and_resumes(clusters, reference, tmp_path):
    seen = []

    def progress(done, total, text):
        seen.append((done, total))
        if done == 3:
            raise KeyboardInterrupt  # as Ctrl-C would, between two results

    first = sweep(SMALL, tmp_path, client=clusters[2], progress=progress)
    assert not first.complete and len(first.missing) == 5 and first.stats.ran == 3
    assert seen[0] == (0, 8)
    assert len((tmp_path / "runs.jsonl").read_text().splitlines()) == 3
    assert "Incomplete: 5 runs did not finish" in (tmp_path / "report.html").read_text()
    second = sweep(SMALL, tmp_path, client=clusters[1])
    assert second.complete and second.stats.reused == 3 and second.stats.ran == 5
    assert (tmp_path / "results.csv").read_bytes() == (reference[0] / "results.csv").read_bytes()
    assert len((tmp_path / "runs.jsonl").read_text().splitlines()) == 8
    # an extended axis runs only the new cells
    wider = with_axes(**{"arrivals.load": [0.6, 0.9], "pool.backends": [3, 5, 7]})
    third = sweep(wider, tmp_path, client=clusters[2])
    assert third.complete and third.stats.reused == 8 and third.stats.ran == 4 and len(third) == 36
    # everything finished: a rerun needs no cluster at all
    again = sweep(wider, tmp_path, client=None, scheduler="tcp://127.0.0.1:9")
    assert again.complete and again.stats.ran == 0 and again.stats.reused == 12


@needs_dask
def test_a_failing_run_is_named_with_its_cell(monkeypatch, tmp_path):
    from distributed import Client, LocalCluster

    from lbalgo.sweeps import _dask

    def broken(sc):
        if sc.load == 0.9:
            raise ValueError("boom")
        return real(sc)

    real = _dask.execute
    monkeypatch.setattr(_dask, "execute", broken)
    grid = with_axes(**{"arrivals.load": [0.6, 0.9]})
    with (
        LocalCluster(
            n_workers=1, processes=False, threads_per_worker=1, dashboard_address="127.0.0.1:0"
        ) as lc,
        Client(lc, set_as_default=False) as c,
    ):
        with pytest.raises(
            SweepError, match=r"cell 1 \(arrivals.load=0.9\), replicate [01] failed: ValueError: boom"
        ):
            sweep(grid, tmp_path, client=c)
    finished = Journal(tmp_path).read()
    assert all(r["cell"] == 0 for r in finished.values())  # what finished before the failure is kept


@needs_dask
def test_unreachable_scheduler_is_a_clear_error(capsys, tmp_path, monkeypatch):
    from lbalgo.sweeps import _dask

    monkeypatch.setattr(_dask, "CONNECT_TIMEOUT", 1)
    code, out, err = run_cli(
        capsys,
        "sweep",
        str(ROOT / "docs/sweeps/hashing-churn.toml"),
        "-o",
        str(tmp_path),
        "--scheduler",
        "tcp://127.0.0.1:9",
        "-q",
    )
    assert code == 2 and err.startswith(
        "lbalgo: error: cannot connect to the Dask scheduler at tcp://127.0.0.1:9"
    )


@needs_dask
@pytest.mark.slow
def test_ctrl_c_on_the_command_line_keeps_every_finished_run(tmp_path):
    grid = tmp_path / "grid.toml"
    grid.write_text(
        'name = "ctrlc"\nreplicates = 6\nalgorithms = ["rr", "wlc"]\n[base]\nconnections = 20000\n'
        '[axes]\n"arrivals.load" = [0.5, 0.7, 0.9]\n'
    )
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "lbalgo", "sweep", str(grid), "-o", str(out), "--workers", "1"]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # even under an xdist worker
    )
    journal = out / "runs.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if journal.exists() and len(journal.read_text().splitlines()) >= 2:
            break
        time.sleep(0.02)
    assert proc.poll() is None, proc.communicate()
    os.killpg(proc.pid, signal.SIGINT)  # the whole process group, as a terminal's Ctrl-C
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    lines = journal.read_text().splitlines()
    kept = [json.loads(line)["key"] for line in lines]  # every line whole
    assert 2 <= len(kept) < 18
    assert f"lbalgo: interrupted after {len(kept)} of 18 runs" in err
    assert len((out / "results.csv").read_text().splitlines()) == 1 + 2 * len(kept)
    done = subprocess.run(cmd + ["-q"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert (
        f"{18 - len(kept)} runs in" in done.stdout and f"{len(kept)} reused from the journal" in done.stdout
    )
    assert len((out / "results.csv").read_text().splitlines()) == 1 + 2 * 18


@needs_dask
def test_cli_sweep_writes_the_results_and_says_where(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    grid = tmp_path / "g.toml"
    grid.write_text(
        'name = "tiny"\nalgorithms = ["rr", "sh"]\n[base]\nconnections = 2000\n'
        '[axes]\n"clients.count" = [100, 1000]\n'
    )
    code, out, err = run_cli(capsys, "sweep", str(grid), "--workers", "1", "--timing")
    assert code == 0, err
    assert out.startswith("sweep tiny: 2 cells x 1 replicates x 2 algorithms = 4 comparisons; 2 runs in ")
    assert (
        "wrote results.parquet, results.csv, summary.parquet, summary.csv, report.html, plots/*.svg in "
        "tiny-sweep" in out
    )
    header = (tmp_path / "tiny-sweep" / "results.csv").read_text().splitlines()[0].split(",")
    assert header[:8] == [
        "cell",
        "clients.count",
        "replicate",
        "seed",
        "algorithm",
        "scheduler",
        "family",
        "connections",
    ]
    assert header[-1] == "connections_per_second"


@needs_dask
def test_results_as_dataframes(reference):
    pd = pytest.importorskip("pandas")
    _, res = reference
    df = res.to_pandas()
    assert isinstance(df, pd.DataFrame) and len(df) == 24
    assert list(df.columns) == list(res.table)
    summary = res.to_pandas(summary=True)
    means = summary[(summary.metric == "jain")].groupby("algorithm")["mean"].mean()
    assert set(means.index) == {"rr", "wlc", "sh"}
    assert df.groupby(["cell", "algorithm"])["jain"].mean().loc[(0, "rr")] == pytest.approx(
        summary[(summary.metric == "jain") & (summary.cell == 0) & (summary.algorithm == "rr")]["mean"].item()
    )


def test_sweep_help_has_examples(capsys):
    code, out, err = run_cli(capsys, "sweep", "--help")
    assert (code, err) == (0, "")
    assert "examples:" in out and "lbalgo sweep docs/sweeps/load-vs-backends.toml -o results/" in out
    for option in ("--workers", "--scheduler", "--timing", "--dry-run", "--quiet", "-o DIR"):
        assert option in out
    code, _, err = run_cli(capsys, "sweep", "x.toml", "--workers", "0")
    assert code == 2 and err == "lbalgo: error: --workers must be >= 1, got 0\n"
    code, _, err = run_cli(capsys, "sweep", "x.toml", "--workers", "2", "--scheduler", "tcp://127.0.0.1:9")
    assert code == 2 and "cannot be combined with --scheduler" in err
