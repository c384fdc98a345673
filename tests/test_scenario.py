"""Scenario files: the schema of docs/scenarios.md, its defaults and its errors."""

import dataclasses
import math
import tomllib
from pathlib import Path

import numpy as np
import pytest

import lbalgo
from lbalgo import scenario, workloads
from lbalgo.scenario import Model, ScenarioError, from_dict, parse_model
from lbalgo.sim import events as ev

DOCS = Path(__file__).parent.parent / "docs"


def parse(text: str):
    return from_dict(tomllib.loads(text), "test.toml")


def test_default_scenario_is_the_documented_one():
    sc = scenario.default()
    assert sc.name == "default" and sc.connections == 1_000_000 and sc.seed == 20261127
    assert sc.weights == (8, 4, 4, 2, 2, 1, 1, 1)
    assert sc.service.model == "fifo" and sc.service.servers == "weight"
    # load 0.8 of 23 workers with 50 ms of work per request
    assert sc.capacity() == 23 and sc.rate == pytest.approx(0.8 * 23 / 0.05)
    assert [e.action for e in sc.events] == ["fail", "recover"]
    assert sc.sim_events() == [ev.Fail(0.4 * sc.span, 1), ev.Recover(0.6 * sc.span, 1)]
    # a Kubernetes node's data planes: IPVS's schedulers and kube-proxy's random choices
    names = [a.name for a in sc.algorithms]
    assert names == ["rr", "wrr", "random", "iptables", "nftables", "sh", "dh", "mh", "lc", "wlc", "sed",
                     "nq", "fo", "ovf", "twos", "lblc", "lblcr"]
    assert {lbalgo.get(n).family for n in names} == {"Linux IPVS", "kube-proxy", "lbalgo"}


def test_minimal_file_takes_every_default():
    sc = parse("[pool]\nweights = [2, 1]\n")
    assert sc.name == "test" and sc.seed == 0 and sc.connections == 1_000_000
    assert sc.arrivals == scenario.DEFAULT_ARRIVALS and sc.lifetimes == scenario.DEFAULT_LIFETIMES
    assert sc.clients == scenario.DEFAULT_CLIENTS and sc.service.model == "infinite"
    assert sc.events == () and sc.load is None


def test_every_section_is_read():
    sc = parse("""
name = "all"
seed = 9
connections = 5000
algorithms = ["rr", { name = "wrr", incremental = true, label = "wrr-inc" }, { name = "random", seed = 3 }]
[pool]
weights = [3, 2, 1]
[arrivals]
model = "onoff"
rate = 100.0
mean_on = 2.0
mean_off = 1.0
[lifetimes]
model = "pareto"
alpha = 2.5
mean = 0.2
[clients]
model = "uniform"
count = 300
network = "192.168.0.0/16"
[destinations]
model = "zipf"
count = 20
[service]
model = "ps"
speeds = [3.0, 2.0, 1.0, 2.0]
samples = 50
[[events]]
at = 10.5
action = "add"
weight = 2
[[events]]
at = "50%"
action = "thresholds"
backend = 0
upper = 10
lower = 5
""")
    assert sc.name == "all" and sc.seed == 9 and sc.connections == 5000 and sc.weights == (3, 2, 1)
    assert sc.arrivals == Model("onoff", (("rate", 100.0), ("mean_on", 2.0), ("mean_off", 1.0)))
    assert sc.rate == pytest.approx(100 * 2 / 3)
    assert sc.lifetimes == Model("pareto", (("alpha", 2.5), ("mean", 0.2)))
    assert sc.clients["network"] == "192.168.0.0/16" and sc.destinations["exponent"] == 1.0
    assert sc.service.model == "ps" and sc.service.speeds == (3.0, 2.0, 1.0, 2.0) and sc.service.samples == 50
    assert sc.sim_events() == [ev.Add(10.5, 2), ev.SetThresholds(0.5 * sc.span, 0, 10, 5)]
    assert [(a.name, a.label, a.options, a.seed) for a in sc.algorithms] == [
        ("rr", "rr", (), None), ("wrr", "wrr-inc", (("incremental", True),), None),
        ("random", "random", (), 3)]
    wl = sc.workload()
    assert isinstance(wl.arrivals, workloads.onoff) and isinstance(wl.lifetimes, workloads.pareto)
    assert isinstance(wl.clients, workloads.uniform) and wl.n == 5000 and wl.seed == 9


def test_to_dict_round_trips():
    for sc in (scenario.default(), parse("[pool]\nweights = [1]\n[service]\nmodel = 'fifo'\nservers = [4]\n"
                                         "[arrivals]\nmodel = 'poisson'\nload = 0.5\n")):
        assert from_dict(sc.to_dict(), "x") == sc


def test_load_sets_the_rate_from_capacity_and_mean_lifetime():
    sc = parse("[pool]\nweights = [4, 1]\n[service]\nmodel = 'fifo'\nservers = 'weight'\nspeeds = 2.0\n"
               "[arrivals]\nmodel = 'constant'\nload = 0.5\n[lifetimes]\nmodel = 'constant'\nvalue = 0.25\n")
    assert sc.capacity() == 10.0  # (4 + 1) servers x speed 2
    assert sc.rate == pytest.approx(0.5 * 10 / 0.25)
    arrivals = sc.workload().generate().arrival
    assert np.diff(arrivals[:3]) == pytest.approx([1 / 20, 1 / 20])
    # processor sharing: one processor per backend whatever servers says
    ps = dataclasses.replace(sc, service=dataclasses.replace(sc.service, model="ps"))
    assert ps.capacity() == 4.0


def test_onoff_load_is_the_long_run_rate():
    sc = parse("[pool]\nweights = [1]\n[service]\nmodel = 'fifo'\n"
               "[arrivals]\nmodel = 'onoff'\nload = 0.5\nmean_on = 1.0\nmean_off = 3.0\n")
    assert sc.rate == pytest.approx(0.5)
    assert sc.arrivals_with_rate()["rate"] == pytest.approx(2.0)  # on a quarter of the time


def test_the_workload_is_seeded():
    sc = dataclasses.replace(scenario.default(), connections=1000)
    a, b = sc.workload().generate(), sc.workload().generate()
    assert np.array_equal(a.arrival, b.arrival) and np.array_equal(a.client, b.client)
    c = dataclasses.replace(sc, seed=1).workload().generate()
    assert not np.array_equal(a.client, c.client)


@pytest.mark.parametrize("text, message", [
    ("[pool]\nweights = [1]\ncolour = 1\n", "unknown field pool.colour"),
    ("speed = 3\n[pool]\nweights = [1]\n", "unknown field speed"),
    ("[clients]\ncount = 10\n", "[pool] with weights = [...] is required"),
    ("[pool]\nweights = 3\n", "pool.weights must be a list"),
    ("[pool]\nweights = []\n", "pool.weights must contain at least one weight > 0"),
    ("[pool]\nweights = [1, -2]\n", "pool.weights[1] must be >= 0"),
    ("[pool]\nweights = [1.5]\n", "pool.weights[0] must be an integer"),
    ("connections = 0\n[pool]\nweights = [1]\n", "connections must be in 1..100000000, got 0"),
    ("connections = 1.5\n[pool]\nweights = [1]\n", "connections must be a whole number"),
    ("seed = -1\n[pool]\nweights = [1]\n", "seed must be in 0.."),
    ("[pool]\nweights = [1]\n[clients]\nmodel = 'pareto'\ncount = 5\n",
     "clients.model must be one of zipf, uniform"),
    ("[pool]\nweights = [1]\n[clients]\nmodel = 'zipf'\n", "clients.count is required for model 'zipf'"),
    ("[pool]\nweights = [1]\n[clients]\nmodel = 'zipf'\ncount = 0\n",
     "clients.count must be in 1..16777216, got 0"),
    ("[pool]\nweights = [1]\n[clients]\nmodel = 'zipf'\ncount = 9\nexponent = -1\n",
     "clients.exponent must be a number >= 0, got -1"),
    ("[pool]\nweights = [1]\n[clients]\nmodel = 'uniform'\ncount = 9\nexponent = 1\n",
     "unknown field clients.exponent for model 'uniform'"),
    ("[pool]\nweights = [1]\n[clients]\nmodel = 'uniform'\ncount = 9\nnetwork = 'x'\n",
     "clients.network must be a network"),
    ("[pool]\nweights = [1]\n[clients]\nmodel = 'uniform'\ncount = 900\nnetwork = '10.0.0.0/24'\n",
     "clients: network 10.0.0.0/24 has room for 254 clients, not 900"),
    ("[pool]\nweights = [1]\n[arrivals]\nmodel = 'poisson'\nrate = -1\n",
     "arrivals.rate must be a number > 0, got -1"),
    ("[pool]\nweights = [1]\n[arrivals]\nmodel = 'poisson'\nrate = nan\n",
     "arrivals.rate must be a finite number"),
    ("[pool]\nweights = [1]\n[arrivals]\nmodel = 'poisson'\n", "give exactly one of rate"),
    ("[pool]\nweights = [1]\n[arrivals]\nmodel = 'poisson'\nload = 0.5\n",
     "arrivals.load needs a queued service"),
    ("[pool]\nweights = [1]\n[arrivals]\nmodel = 'poisson'\nrate = 1\nload = 0.5\n",
     "give exactly one of rate"),
    ("[pool]\nweights = [1]\n[arrivals]\nmodel = 'onoff'\nrate = 1\nmean_on = 1\n",
     "arrivals.mean_off is required for model 'onoff'"),
    ("[pool]\nweights = [1]\n[lifetimes]\nmodel = 'pareto'\nalpha = 1\nmean = 1\n",
     "lifetimes.alpha must be a number > 1, got 1"),
    ("[pool]\nweights = [1]\n[lifetimes]\nmodel = 'lognormal'\nmean = '2'\nsigma = 1\n",
     "lifetimes.mean must be a finite number, got '2'"),
    ("[pool]\nweights = [1]\n[lifetimes]\nmodel = 'weibull'\n", "lifetimes.model must be one of"),
    ("[pool]\nweights = [1]\n[service]\nmodel = 'lifo'\n", "service.model must be one of infinite, fifo, ps"),
    ("[pool]\nweights = [1, 1]\n[service]\nmodel = 'fifo'\nservers = [1]\n",
     "service.servers must have one entry per backend (2), got 1"),
    ("[pool]\nweights = [1]\n[service]\nmodel = 'fifo'\nservers = 0\n",
     "service.servers must be in 1..1000000"),
    ("[pool]\nweights = [1]\n[service]\nmodel = 'fifo'\nspeeds = [-1.0]\n",
     "service.speeds[0] must be a number > 0"),
    ("[pool]\nweights = [1]\n[service]\nmodel = 'fifo'\nspeeds = 'fast'\n",
     "service.speeds must be a number"),
    ("[pool]\nweights = [1]\n[service]\nlifecycle = 'tcp'\nmodel = 'fifo'\n", "'tcp' is modelled with"),
    ("[pool]\nweights = [1]\n[service]\nlifecycle = 'udp'\n", "service.lifecycle must be one of simple, tcp"),
    ("[pool]\nweights = [1]\n[service]\nwarp = 9\n", "unknown field service.warp"),
    ("[pool]\nweights = [1]\n[[events]]\naction = 'fail'\nbackend = 0\n", "events[0].at is required"),
    ("[pool]\nweights = [1]\n[[events]]\nat = 'soon'\naction = 'fail'\nbackend = 0\n",
     "events[0].at must be seconds >= 0 or a percentage"),
    ("[pool]\nweights = [1]\n[[events]]\nat = -1\naction = 'fail'\nbackend = 0\n",
     "events[0].at must be a number >= 0"),
    ("[pool]\nweights = [1]\n[[events]]\nat = 1\naction = 'explode'\n", "events[0].action must be one of"),
    ("[pool]\nweights = [1]\n[[events]]\nat = 1\naction = 'fail'\n", "events[0].backend is required"),
    ("[pool]\nweights = [1]\n[[events]]\nat = 1\naction = 'weight'\nbackend = 0\nweight = -3\n",
     "events[0].weight must be >= 0"),
    ("[pool]\nweights = [1]\n[[events]]\nat = 1\naction = 'fail'\nbackend = 0\nweight = 2\n",
     "unknown field events[0].weight for action 'fail'"),
    ("algorithms = ['rr', 'nope']\n[pool]\nweights = [1]\n", "algorithms[1].name: unknown algorithm 'nope'"),
    ("algorithms = [3]\n[pool]\nweights = [1]\n", "algorithms[0] must be a scheduler name or a table"),
    ("algorithms = [{ name = 'wrr', bogus = 1 }]\n[pool]\nweights = [1]\n", "algorithms[0] (wrr):"),
    ("algorithms = ['rr', 'rr']\n[pool]\nweights = [1]\n", "the label 'rr' is used twice"),
    ("algorithms = 'rr'\n[pool]\nweights = [1]\n", "algorithms must be a list"),
])
def test_bad_fields_are_named(text, message):
    with pytest.raises(ScenarioError) as info:
        parse(text)
    assert message in str(info.value)


def test_replace_revalidates():
    with pytest.raises(ScenarioError, match="connections"):
        dataclasses.replace(scenario.default(), connections=-5)


@pytest.mark.parametrize("text, section, expected", [
    ("zipf:50000:1.1", "clients",
     Model("zipf", (("count", 50000), ("exponent", 1.1), ("network", "10.0.0.0/8")))),
    ("uniform:10:fd00::/64", "clients", Model("uniform", (("count", 10), ("network", "fd00::/64")))),
    ("lognormal:2:1", "lifetimes", Model("lognormal", (("mean", 2.0), ("sigma", 1.0)))),
    ("constant:0", "lifetimes", Model("constant", (("value", 0.0),))),
    ("poisson:5e3", "arrivals", Model("poisson", (("rate", 5000.0),))),
])
def test_parse_model_shorthand(text, section, expected):
    assert parse_model(text, section) == expected


@pytest.mark.parametrize("text, section, message", [
    ("gauss:1", "lifetimes", "lifetimes: model must be one of"),
    ("lognormal:2", "lifetimes", "lognormal takes lognormal:mean:sigma"),
    ("zipf:many", "clients", "clients.count must be a number, got 'many'"),
    ("zipf:1.5", "clients", "clients.count must be a whole number"),
    ("poisson:-3", "arrivals", "arrivals.rate must be a number > 0"),
])
def test_parse_model_errors(text, section, message):
    with pytest.raises(ScenarioError) as info:
        parse_model(text, section)
    assert message in str(info.value)


def test_documented_example_scenarios_load():
    examples = sorted((DOCS / "scenarios").glob("*.toml"))
    assert examples, "docs/scenarios/ holds example scenario files"
    for path in examples:
        sc = scenario.load(path)
        assert sc.name and math.isfinite(sc.rate)


@pytest.mark.parametrize("text, message", [
    ("[pool]\nweights = [1]\n[service]\nmodel = 'fifo'\n[arrivals]\nmodel = 'poisson'\nload = 0.5\n"
     "[lifetimes]\nmodel = 'constant'\nvalue = 0\n", "arrivals.load needs lifetimes with a mean > 0"),
    ("[pool]\nweights = [2, 1]\n[service]\nmodel = 'fifo'\nservers = [2, 1]\n[[events]]\nat = 1\n"
     "action = 'add'\nweight = 1\n",
     "service.servers must have one entry per backend (3, counting the 1 added by events), got 2"),
    ("[pool]\nweights = [2, 1]\n[service]\nmodel = 'fifo'\nspeeds = [2.0, 1.0, 1.0]\n",
     "service.speeds must have one entry per backend (2), got 3"),
    ("algorithms = [{ name = 'wrr', bogus = 1 }]\n[pool]\nweights = [1]\n",
     "algorithms[0] (wrr): unknown option 'bogus' (see help(lbalgo.WRR))"),
])
def test_more_bad_fields_are_named(text, message):
    with pytest.raises(ScenarioError) as info:
        parse(text)
    assert message in str(info.value)


def test_algorithm_options_are_checked_against_the_real_pool():
    sc = parse("algorithms = [{ name = 'wlc', u_thresholds = [5, 5, 5, 5] }]\n"
               "[pool]\nweights = [1, 1, 1, 1]\n")
    assert sc.algorithms[0].options == (("u_thresholds", [5, 5, 5, 5]),)


def test_section_defaults_apply_inside_a_table():
    sc = parse("[pool]\nweights = [1]\n[clients]\nmodel = 'zipf'\ncount = 10\n"
               "[destinations]\nmodel = 'uniform'\ncount = 10\n")
    assert sc.clients["exponent"] == 1.1 and sc.destinations["network"] == "172.16.0.0/12"
    assert parse_model("zipf:50", "clients")["exponent"] == 1.1


def test_arrivals_shorthand_without_a_rate_under_load():
    m = parse_model("onoff:1:3", "arrivals", with_load=True)
    assert m.kind == "onoff" and m["mean_on"] == 1.0 and "rate" not in dict(m.params)
    with pytest.raises(ScenarioError):
        parse_model("onoff:1:3", "arrivals")
