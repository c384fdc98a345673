"""What a comparison measures (lbalgo.compare) and its plots; the CLI side is in test_cli.py."""

import dataclasses
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lbalgo import metrics, scenario
from lbalgo.report import compare
from lbalgo.scenario import Event, Model, Service
from tests.support import FIXED_VERSIONS, check_golden


def small(**changes):
    base = dataclasses.replace(scenario.default(), connections=20_000)
    return dataclasses.replace(base, **changes)


@pytest.fixture(scope="module")
def stable_infinite():
    """Open connections (no queue), no pool events."""
    sc = small(service=Service(), load=None, arrivals=Model("poisson", (("rate", 500.0),)), events=())
    return compare(sc, ["wrr", "sh", "mh", "wlc", "random"])


@pytest.fixture(scope="module")
def default_small():
    return compare(small(), ["wrr", "sh", "mh", "wlc", "rr"])


def row(c, name):
    return next(r for r in c.rows if r.algorithm == name)


def test_every_algorithm_replays_the_same_connections(default_small):
    for r in default_small.rows:
        assert r.connections == 20_000
        assert sum(r.target) == pytest.approx(20_000)


def test_target_follows_the_weights_through_pool_events(default_small):
    sc = default_small.scenario
    # b1 (weight 4 of 23) has weight 0 from 40% to 60% of the span: its target is below 4/23
    target = row(default_small, "wrr").target_shares
    assert target[1] < 4 / 23 - 0.02
    assert target[0] > 8 / 23
    # without events the target is the weight share exactly
    no_events = compare(dataclasses.replace(sc, events=()), ["wrr"])
    assert row(no_events, "wrr").target_shares == pytest.approx(metrics.weight_shares(sc.weights))


def test_wrr_follows_the_target_and_rr_does_not(default_small, stable_infinite):
    assert row(default_small, "wrr").max_deviation < 0.01
    assert row(stable_infinite, "wrr").max_deviation < 1e-3
    assert row(default_small, "rr").max_deviation > 1.5  # rr ignores weights: 1/8 each against 8/23
    assert row(stable_infinite, "wrr").jain == pytest.approx(1, abs=1e-6)


def test_hashing_is_sticky_on_a_stable_pool(stable_infinite):
    assert row(stable_infinite, "sh").sticky == 1.0
    assert row(stable_infinite, "mh").sticky == 1.0
    assert row(stable_infinite, "random").sticky < 0.35  # about sum of squared shares (0.22)
    assert all(r.disruption == () and math.isnan(r.moved) for r in stable_infinite.rows)


def test_latency_only_for_queued_models(default_small, stable_infinite):
    assert all(r.latency is None and r.latency_quantiles is None for r in stable_infinite.rows)
    for r in default_small.rows:
        lat = r.latency
        assert 0 < lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["p99.9"]
        assert np.all(np.diff(r.latency_quantiles) >= 0)
    # rr overloads the one-worker backends (1/8 of the traffic for 1/23 of the capacity): its queues grow
    assert row(default_small, "rr").latency["p99"] > 10 * row(default_small, "wlc").latency["p99"]


def test_removing_a_backend_moves_few_clients_under_maglev_and_most_under_sh():
    sc = small(service=Service(), load=None, arrivals=Model("poisson", (("rate", 500.0),)),
               weights=(1,) * 10, events=(Event("remove", at_share=0.5, backend=3),),
               clients=Model("uniform", (("count", 300), ("network", "10.0.0.0/8"))))
    c = compare(sc, ["mh", "sh"])
    mh, sh = (row(c, n).disruption[0] for n in ("mh", "sh"))
    assert mh.clients > 100 and mh.clients == sh.clients
    assert mh.must_move == pytest.approx(0.1, abs=0.06)
    assert mh.moved < 2 * mh.must_move + 0.05  # consistent hashing: little more than needed
    assert sh.moved > 0.6  # the kernel's sh table is refilled from the start: most buckets change


def test_a_failed_backend_drops_sh_clients_without_fallback():
    c = compare(small(), ["sh", {"name": "sh", "fallback": True, "label": "sh-fallback"}])
    assert row(c, "sh").dropped > 0
    assert row(c, "sh-fallback").dropped == 0


def test_algorithm_options_and_labels():
    sc = small(algorithms=(scenario.AlgorithmSpec("wrr"),
                           scenario.AlgorithmSpec("wrr", "", (("incremental", True),))))
    c = compare(sc)
    assert [r.algorithm for r in c.rows] == ["wrr", "wrr(incremental=True)"]
    assert {r.scheduler for r in c.rows} == {"wrr"}


def test_tcp_life_cycle_scenario():
    sc = small(service=Service(lifecycle="tcp", establish=0.01, linger=5.0), load=None,
               arrivals=Model("poisson", (("rate", 500.0),)), events=(),
               lifetimes=Model("exponential", (("mean", 2.0),)))
    c = compare(sc, ["wlc", "lc"])
    assert row(c, "wlc").max_deviation < 0.2 and row(c, "lc").max_deviation > 1


def test_the_same_seed_gives_the_same_report_in_another_process(default_small, tmp_path):
    code = ("import sys, dataclasses; from lbalgo import scenario; from lbalgo.report import compare;"
            "sys.modules['lbalgo.report.compare']._versions = lambda: {'lbalgo':'X','numba':'X','numpy':'X'};"
            "sc = dataclasses.replace(scenario.default(), connections=20000);"
            "sys.stdout.write(compare(sc, ['wrr','sh','mh','wlc','rr']).to_json(timing=False))")
    env = dict(os.environ, PYTHONHASHSEED="123")
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env=env).stdout
    mine = dataclasses.replace(default_small, versions=dict(FIXED_VERSIONS)).to_json(timing=False)
    assert other == mine


# -- event_disruption ------------------------------------------------------------------------------

def test_event_disruption_counts_returning_clients():
    arrival = np.arange(8, dtype=float)
    client = np.array([1, 2, 3, 4, 1, 2, 3, 5])
    backend = np.array([0, 1, 1, 2, 0, 0, 1, -1])
    d = metrics.event_disruption(arrival, client, backend, time=4.0, window=4, unavailable=[1])
    # clients 1, 2, 3 come back; 2 moved from backend 1 to 0; 2 and 3 were on the removed backend 1
    assert (d.clients, d.moved, d.must_move) == (3, pytest.approx(1 / 3), pytest.approx(2 / 3))
    assert d.avoidable == pytest.approx(-1 / 3)
    narrow = metrics.event_disruption(arrival, client, backend, time=4.0, window=1)
    assert narrow.clients == 0 and math.isnan(narrow.moved)


@pytest.mark.parametrize("kwargs, message", [
    ({"window": 0}, "window must be a whole number"),
    ({"window": 2.5}, "window must be a whole number"),
    ({"client": np.zeros(3)}, "one length"),
])
def test_event_disruption_rejects_bad_input(kwargs, message):
    args = {"arrival": np.arange(4.0), "client": np.zeros(4), "backend": np.zeros(4, dtype=int), "time": 1.0,
            "window": 2}
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        metrics.event_disruption(**args)


# -- plots ----------------------------------------------------------------------------------------

def test_plot_draws_every_available_section(default_small, stable_infinite, tmp_path):
    pytest.importorskip("matplotlib")
    from matplotlib.image import imread

    png = tmp_path / "r.png"
    assert default_small.plot(png) == ["shares", "active", "latency", "disruption"]
    image = imread(png)
    # 5 algorithms in one row of panels: 6.5 inches of figure per panel column set, at 90 dpi
    height, width = image.shape[:2]
    assert width == round((2.9 * 5 + 1.0) * 90)
    assert height == round((2 * 2.6 + 4.0 + 3.4 + 0.6) * 90)
    assert image[..., :3].std() > 0.05  # not a blank canvas
    assert stable_infinite.plot(tmp_path / "s.png") == ["shares", "active"]
    assert default_small.plot(tmp_path / "l.png", kinds=["latency"]) == ["latency"]
    assert imread(tmp_path / "l.png").shape[0] == round((4.0 + 0.6) * 90)


@pytest.mark.parametrize("kinds, message", [
    (["pie"], "unknown plot 'pie'"),
    (["latency"], "the latency plot needs a queued service model"),
    (["disruption"], "the disruption plot needs pool events"),
    ([], "nothing to plot"),
])
def test_plot_rejects_what_cannot_be_drawn(stable_infinite, tmp_path, kinds, message):
    pytest.importorskip("matplotlib")
    with pytest.raises(ValueError, match=message):
        stable_infinite.plot(tmp_path / "x.png", kinds=kinds)
    assert not (tmp_path / "x.png").exists()


# -- the default report, byte for byte ---------------------------------------------------------------

@pytest.mark.slow
def test_golden_default_report(fixed_versions):
    """The built-in scenario, every algorithm, 1,000,000 connections: Markdown and JSON pinned."""
    c = compare()
    assert c.complete and len(c.rows) == 17
    check_golden("compare_default.md", c.to_markdown(timing=False).encode())
    check_golden("compare_default.json", c.to_json(timing=False).encode())
    data = json.loads(c.to_json(timing=False))
    assert data["versions"] == FIXED_VERSIONS and data["scenario"]["connections"] == 1_000_000


def test_added_backends_get_rows_targets_and_named_events():
    rolling = scenario.load(Path(__file__).parent.parent / "docs/scenarios/rolling-update.toml")
    sc = dataclasses.replace(rolling, connections=20_000)
    c = compare(sc, ["rr", "mh"])
    assert [(a, b) for _, a, b in c.event_times] == [("remove", 2), ("add", 6), ("remove", 4), ("add", 7)]
    assert c.n_backends == 8
    for r in c.rows:
        assert len(r.counts) == len(r.target) == 8 and r.samples_active.shape[1] == 8
        assert r.counts[2] > 0 and r.counts[6] > 0  # b2 served until removed, b6 from its add on
        assert [d.must_move for d in r.disruption][1] == 0  # an add forces nobody to move
    data = json.loads(c.to_json(timing=False))
    assert [e["backend"] for e in data["events"]] == [2, 6, 4, 7]
    assert row(c, "rr").max_deviation < 0.02  # rr follows the changing pool exactly


def test_chi_square_accepts_random_and_rejects_rr(stable_infinite, default_small):
    assert row(stable_infinite, "random").chi2_pvalue > 1e-4  # weighted random: counts fit the weights
    assert row(default_small, "rr").chi2_pvalue < 1e-12  # rr ignores weights
    assert row(stable_infinite, "wrr").cov < 1e-3 < row(default_small, "rr").cov


# -- one compiled event loop for every scheduler ----------------------------------------------------

def test_event_loop_compiled_for_one_scheduler_is_loaded_for_another(tmp_path):
    """A fresh cache: one process simulates rr (compiles the loop), another wlc (loads it)."""
    code = ("import lbalgo, sys;"
            "from lbalgo import workloads as W;"
            "from lbalgo.sim import engine;"
            "wl = W.Workload(arrivals=W.poisson(rate=10.0), n=50, lifetimes=W.constant(0.1));"
            "lbalgo.simulate(lbalgo.get(sys.argv[1])(weights=[1, 2]), wl);"
            "stats = engine.run.compiled.stats;"
            "print(sum(stats.cache_hits.values()), sum(stats.cache_misses.values()))")
    env = dict(os.environ, LBALGO_CACHE_DIR=str(tmp_path))
    outs = [subprocess.run([sys.executable, "-c", code, name], capture_output=True, text=True, check=True,
                           env=env).stdout.split() for name in ("rr", "wlc")]
    assert outs == [["0", "1"], ["1", "0"]]
