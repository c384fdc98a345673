"""Issue 17: a bounded fuzz of every reader and of the command line, and the corpus of hostile inputs.

The only property: each input ends in success or in the reader's documented
error (a ``lbalgo.LbalgoError`` with a one-line message), never another
exception, within a stated memory (``MEMORY``, measured with tracemalloc)
and time. Hypothesis draws the inputs; example counts keep the whole file
to a few seconds and the same on every run (``FUZZ_EXAMPLES`` raises them
and ``FUZZ_RANDOM=1`` draws new ones, for a longer local run:
``FUZZ_EXAMPLES=5000 FUZZ_RANDOM=1 pytest tests/test_fuzz.py``). The corpus
(``tests/corpus``, written by ``make_corpus.py``) replays the inputs that
once broke lbalgo.
"""

import importlib
import io
import json
import os
import time
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import lbalgo
from lbalgo import LbalgoError, _readers, cli, limits, scenario
from lbalgo import workloads as W
from lbalgo.errors import LimitExceeded
from lbalgo.kube import EndpointSliceError, load_endpointslices

CORPUS = Path(__file__).parent / "corpus"
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "150"))
#: The most memory (bytes, Python and NumPy allocations) one fuzzed input may take.
MEMORY = 48 << 20
#: The most time (seconds) one fuzzed input may take.
SECONDS = 5.0

FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=not os.environ.get("FUZZ_RANDOM"),
    database=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.function_scoped_fixture,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
    ],
)


def outcome(call, *args, error=LbalgoError):
    """Run ``call``; return its result or its documented error, checking the property on the way."""
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        result = call(*args)
    except error as e:
        message = str(e)
        assert message and "\n" not in message and len(message) <= 1000, message
        result = e
    except LbalgoError as e:  # a LbalgoError, but not the reader's own class
        pytest.fail(f"{type(e).__name__} instead of {error.__name__}: {e}")
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert peak <= MEMORY, f"{peak / 1e6:.0f} MB"
    assert time.perf_counter() - t0 <= SECONDS
    return result


# -- the corpus ---------------------------------------------------------------------------------------------

#: Corpus file -> the expected outcome: None (it reads) or a fragment of the error message.
EXPECTED = {
    "scenario/bom.toml": None,
    "scenario/deep-table.toml": "MAX_NESTING",
    "scenario/deep.json": "MAX_NESTING",
    "scenario/deep.toml": "MAX_NESTING",
    "scenario/dotted-keys.toml": "dotted key of 20,001 parts",
    "scenario/huge-int.toml": "4300 digits",
    "scenario/latin1.toml": "line 1: not UTF-8",
    "scenario/onoff-overflow.toml": "long-run arrival rate",
    "slices/address-broadcast.json": None,
    "slices/address-link-local.json": "link-local range",
    "slices/address-loopback.json": "loopback range",
    "slices/address-space.json": "'10.0.0.1 ' is not a valid IPv4 address",
    "slices/address-unspecified.json": "may not be unspecified",
    "slices/address-zone.json": "'fe80::1%eth0' is not a valid IPv6 address",
    "slices/alias-bomb.yaml": "YAML aliases",
    "slices/bom.yaml": None,
    "slices/deep-block.yaml": "MAX_NESTING",
    "slices/deep.json": "MAX_NESTING",
    "slices/deep.yaml": "not valid YAML",
    "slices/latin1.json": "line 1: not UTF-8",
    "traces/big-field.csv": "field larger than field limit",
    "traces/bom.csv": None,
    "traces/empty.npy": "the file is empty",
    "traces/empty.npz": "the file is empty",
    "traces/huge-shape.npy": "MAX_TRACE_BYTES",
    "traces/inflates-160MB.npz": "MAX_TRACE_BYTES",
    "traces/latin1.csv": "line 3: not UTF-8",
    "traces/not-a-zip.npz": "cannot read as .npz",
    "traces/short-data.npy": "but the file holds 64 bytes",
}
READERS = {
    "scenario": (scenario.load, scenario.ScenarioError),
    "slices": (load_endpointslices, EndpointSliceError),
    "traces": (W.load_trace, W.TraceError),
}


def test_the_corpus_lists_every_file():
    files = {str(p.relative_to(CORPUS)) for p in CORPUS.rglob("*") if p.is_file() and p.suffix != ".py"}
    assert files == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus(name):
    reader, error = READERS[name.split("/")[0]]
    with limits.override(
        MAX_TRACE_BYTES=100 << 20
    ):  # the .npz bomb inflates to 160 MB, kept small in the repo
        result = outcome(reader, CORPUS / name, error=error)
    if EXPECTED[name] is None:
        assert not isinstance(result, Exception), result
    else:
        assert isinstance(result, error) and EXPECTED[name] in str(result), result
        assert str(CORPUS / name) in str(result)


# -- scenarios -----------------------------------------------------------------------------------------------

SECTIONS = [
    "pool",
    "arrivals",
    "lifetimes",
    "clients",
    "destinations",
    "service",
    "events",
    "algorithms",
    "name",
    "seed",
    "connections",
    "weights",
    "model",
    "rate",
    "load",
    "mean",
    "sigma",
    "count",
    "exponent",
    "network",
    "servers",
    "speeds",
    "lifecycle",
    "at",
    "action",
    "backend",
    "weight",
    "x",
]
toml_scalars = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(
        [
            "'poisson'",
            "'zipf'",
            "'fifo'",
            "'ps'",
            "'weight'",
            "'40%'",
            "'10.0.0.0/8'",
            "'rr'",
            "'x'",
            "inf",
            "nan",
            "-inf",
            "true",
            "false",
            "1979-05-27",
            "1e308",
            "1e-320",
            "0x10",
            "'inf'",
        ]
    ),
    st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=12).map(json.dumps),
)


def toml_value():
    return st.recursive(
        toml_scalars.map(lambda v: v if isinstance(v, str) else repr(v)),
        lambda inner: st.lists(inner, max_size=4).map(lambda xs: "[" + ", ".join(xs) + "]"),
        max_leaves=8,
    )


toml_line = st.one_of(
    st.tuples(st.sampled_from(SECTIONS), toml_value()).map(lambda kv: f"{kv[0]} = {kv[1]}"),
    st.lists(st.sampled_from(SECTIONS), min_size=1, max_size=3).map(lambda ks: "[" + ".".join(ks) + "]"),
    st.lists(st.sampled_from(SECTIONS), min_size=1, max_size=2).map(lambda ks: "[[" + ".".join(ks) + "]]"),
    st.text(max_size=30),
)
toml_docs = st.lists(toml_line, max_size=14).map(
    lambda lines: "\n".join(["[pool]", "weights = [2, 1]"] + lines)
)


@FUZZ
@given(text=toml_docs)
@example(
    text="[pool]\nweights = [1]\n[arrivals]\nmodel = 'onoff'\nrate = 1\nmean_on = 1e-300\nmean_off = 1\n"
)
@example(text="connections = 1e400\n[pool]\nweights = [1]\n")
@example(text="a" + ".a" * 5000 + " = 1\n")
@example(text="[pool]\nweights = [2, 1]\n[arrivals.model]")  # found by a long run: an unhashable model
def test_scenario_files(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("s", numbered=True) / "s.toml"
    path.write_text(text, encoding="utf-8")
    result = outcome(scenario.load, path, error=scenario.ScenarioError)
    assert isinstance(result, (scenario.Scenario, scenario.ScenarioError))


json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**80), max_value=2**80),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=10),
        st.sampled_from(["poisson", "zipf", "fifo", "ps", "weight", "rr", "wrr", "fail", "add", "40%"]),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(SECTIONS), inner, max_size=4)
    ),
    max_leaves=12,
)


@FUZZ
@given(data=st.dictionaries(st.sampled_from(SECTIONS), json_values, max_size=8))
@example(data={"arrivals": {"model": []}})
@example(data={"events": [{"action": {}, "at": 1}]})
@example(data={"service": {"model": [], "lifecycle": {}}})
def test_scenario_tables(data):
    data.setdefault("pool", {"weights": [1, 2]})
    result = outcome(scenario.from_dict, data, error=scenario.ScenarioError)
    assert isinstance(result, (scenario.Scenario, scenario.ScenarioError))


@FUZZ
@given(
    section=st.sampled_from(["arrivals", "lifetimes", "clients", "destinations"]),
    text=st.one_of(
        st.text(max_size=30),
        st.lists(
            st.sampled_from(
                [
                    "poisson",
                    "constant",
                    "onoff",
                    "zipf",
                    "uniform",
                    "lognormal",
                    "pareto",
                    "exponential",
                    "1",
                    "0",
                    "-1",
                    "1e308",
                    "1e-320",
                    "nan",
                    "inf",
                    "x",
                    "10.0.0.0/8",
                    "fd00::/64",
                    "",
                ]
            ),
            max_size=5,
        ).map(":".join),
    ),
    with_load=st.booleans(),
)
def test_model_shorthands(section, text, with_load):
    outcome(lambda: scenario.parse_model(text, section, with_load=with_load), error=scenario.ScenarioError)


# -- Kubernetes objects --------------------------------------------------------------------------------------


def valid_slice():
    return json.loads((CORPUS / "slices" / "address-broadcast.json").read_text())


PATHS = [
    ("metadata",),
    ("metadata", "name"),
    ("metadata", "namespace"),
    ("metadata", "labels"),
    ("addressType",),
    ("apiVersion",),
    ("kind",),
    ("ports",),
    ("endpoints",),
    ("endpoints", 0),
    ("endpoints", 0, "addresses"),
    ("endpoints", 0, "conditions"),
    ("endpoints", 0, "hints"),
    ("endpoints", 0, "nodeName"),
    ("ports", 0, "port"),
    ("ports", 0, "protocol"),
    ("ports", 0, "name"),
]


@FUZZ
@given(
    changes=st.lists(st.tuples(st.sampled_from(PATHS), json_values), max_size=4),
    form=st.sampled_from(["object", "json", "yaml", "list"]),
)
def test_endpointslices(changes, form):
    doc = valid_slice()
    for path, value in changes:
        target = doc
        try:
            for step in path[:-1]:
                target = target[step]
            target[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            pass
    source = {
        "object": doc,
        "json": json.dumps(doc),
        "list": {"kind": "List", "items": [doc, doc]},
        "yaml": yaml.safe_dump(doc),
    }[form]
    if form == "yaml":
        source = "---\n" + source  # text, not a path
    result = outcome(load_endpointslices, source, error=EndpointSliceError)
    assert isinstance(result, (list, EndpointSliceError))


yaml_text = st.one_of(
    st.text(max_size=80),
    st.lists(
        st.sampled_from(
            [
                "a:",
                " b:",
                "- ",
                "[",
                "]",
                "{",
                "}",
                "&x ",
                "*x",
                "!!set ",
                "!!str ",
                "<<: ",
                "? ",
                "'q'",
                '"d"',
                "1",
                "1.5",
                "yes",
                "~",
                "\n",
                "  ",
                "---\n",
                "...\n",
                "kind: List",
                "items:",
                "%YAML 1.1\n",
                "\t",
                "#c",
                ":",
                ",",
                "2001-12-14",
            ]
        ),
        max_size=30,
    ).map("".join),
)


@FUZZ
@given(text=yaml_text)
@example(text="a: &a [1, 2]\nb: *a\n")
@example(text="[" * 500 + "]" * 500)
def test_yaml_text(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("y", numbered=True) / "e.yaml"
    path.write_text(text, encoding="utf-8")
    outcome(load_endpointslices, path, error=EndpointSliceError)


@FUZZ
@given(
    changes=st.lists(
        st.tuples(
            st.sampled_from(["object", "subset", "address", "port"]),
            st.sampled_from(
                [
                    "subsets",
                    "metadata",
                    "kind",
                    "addresses",
                    "ports",
                    "ip",
                    "port",
                    "notReadyAddresses",
                    "name",
                    "protocol",
                    "nodeName",
                ]
            ),
            json_values,
        ),
        max_size=4,
    )
)
def test_endpoints(changes):
    from lbalgo.kube import endpoints as ep

    address, port = {"ip": "10.0.0.1"}, {"name": "http", "port": 80}
    subset = {"addresses": [address], "ports": [port]}
    doc = {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {"name": "web", "namespace": "shop"},
        "subsets": [subset],
    }
    targets = {"object": doc, "subset": subset, "address": address, "port": port}
    for where, key, value in changes:
        targets[where][key] = value
    outcome(ep.load_endpoints, doc, error=ep.EndpointsError)


# YAML read by lbalgo's one-pass reader is exactly what yaml.safe_load_all gives.
yaml_data = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=False),
        st.text(max_size=8),
        st.sampled_from(
            [
                "yes",
                "no",
                "on",
                "off",
                "~",
                "null",
                "1e3",
                "0x1F",
                "0o17",
                "1:20",
                "2001-12-14",
                "2001-12-14t21:59:43.10-05:00",
                ".inf",
                "-.inf",
                ".nan",
                "=",
                "<<",
                "",
                "1_000",
                "+1",
            ]
        ),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.text(max_size=5), st.integers(), st.booleans()), inner, max_size=4),
    ),
    max_leaves=12,
)


@FUZZ
@given(docs=st.lists(yaml_data, min_size=1, max_size=3), flow=st.booleans())
def test_yaml_reads_as_safe_load_does(docs, flow):
    text = yaml.safe_dump_all(docs, default_flow_style=flow)
    try:
        expected = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError:
        return
    got = _readers.parse_yaml(text, "t", EndpointSliceError)
    assert repr(got) == repr(expected)  # repr: NaN and types compared too


@pytest.mark.parametrize(
    "text",
    [
        "a: 1\nb: [1, 2.5, .inf, yes, no, ~, '', 2001-12-14, 0x1F, 1_000, 1:30, '1']\n",
        "<<: {a: 1}\nb: 2\n",
        "a: !!set {x, y}\n",
        "a: !!str 1\nb: !!int '2'\n",
        "=: 1\n",
        "a:\nb: \n",
        "~: 1\n1: 2\n",
        "---\n---\na: 1\n",
        "- &a 1\n- 2\n",
        "? [a]\n: 1\n",
        "a: =\n",
        "a: !foo 1\n",
        "a: !!binary aGk=\n",
        "a: !!omap [b: 1]\n",
    ],
)
def test_yaml_edge_cases_read_as_safe_load_does(text):
    try:
        expected = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError:
        with pytest.raises(EndpointSliceError, match="not valid YAML"):
            _readers.parse_yaml(text, "t", EndpointSliceError)
        return
    assert repr(_readers.parse_yaml(text, "t", EndpointSliceError)) == repr(expected)


# -- traces --------------------------------------------------------------------------------------------------

csv_cell = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-5, 2**40).map(str),
    st.sampled_from(["10.0.0.1", "fd00::1", "", " ", '"', '"a,b"', "x", "1e400", "\r"]),
    st.text(max_size=6),
)
csv_text = st.tuples(
    st.lists(
        st.sampled_from(["arrival", "time", "lifetime", "duration", "client", "destination", "x", ""]),
        min_size=1,
        max_size=5,
    ),
    st.lists(st.lists(csv_cell, max_size=5), max_size=8),
).map(lambda hr: "\n".join([",".join(hr[0])] + [",".join(r) for r in hr[1]]))


@FUZZ
@given(text=csv_text, prefix=st.sampled_from([b"", b"\xef\xbb\xbf", b"\xff"]), junk=st.binary(max_size=4))
def test_csv_traces(tmp_path_factory, text, prefix, junk):
    path = tmp_path_factory.mktemp("c", numbered=True) / "t.csv"
    path.write_bytes(prefix + text.encode("utf-8") + junk)
    result = outcome(W.load_trace, path, error=W.TraceError)
    assert isinstance(result, (W.Workload, W.TraceError))


def npy_bytes(n, fields, dtype):
    arr = np.zeros(n, dtype=[(f, dtype) for f in fields])
    if n and "arrival" in fields:
        arr["arrival"] = np.arange(n)
    buf = io.BytesIO()
    np.save(buf, arr)
    return buf.getvalue()


@FUZZ
@given(
    n=st.integers(0, 20),
    fields=st.lists(
        st.sampled_from(["arrival", "lifetime", "client", "x"]), min_size=1, max_size=3, unique=True
    ),
    dtype=st.sampled_from(["<f8", "<i8", "<u4", "<f4", "|u1"]),
    corrupt=st.lists(st.tuples(st.integers(0, 300), st.integers(0, 255)), max_size=4),
    cut=st.one_of(st.none(), st.integers(0, 300)),
    zipped=st.booleans(),
)
def test_numpy_traces(tmp_path_factory, n, fields, dtype, corrupt, cut, zipped):
    data = bytearray(npy_bytes(n, fields, dtype))
    for pos, value in corrupt:
        if pos < len(data):
            data[pos] = value
    if cut is not None:
        data = data[:cut]
    path = tmp_path_factory.mktemp("n", numbered=True) / ("t.npz" if zipped else "t.npy")
    if zipped:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            for f in fields:
                z.writestr(f + ".npy", bytes(data))
        path.write_bytes(buf.getvalue())
    else:
        path.write_bytes(bytes(data))
    result = outcome(W.load_trace, path, error=W.TraceError)
    assert isinstance(result, (W.Workload, W.TraceError))


# -- the command line ----------------------------------------------------------------------------------------


class _Comparison:
    """Stands in for the comparison run: the scenario is built and checked for real, nothing is simulated."""

    def __init__(self, sc, algorithms=None):
        self.comparison = lbalgo.Comparison(sc.with_algorithms(algorithms or ["rr"]), ())

    def run(self, progress=None):
        return self.comparison

    def result(self):
        return self.comparison


OPTIONS = {
    "--weights": st.one_of(
        st.text(max_size=10),
        st.lists(st.integers(-2, 70_000), max_size=4).map(lambda xs: ",".join(map(str, xs))),
    ),
    "--connections": st.one_of(
        st.text(max_size=8), st.sampled_from(["1e6", "inf", "nan", "0", "-1", "1e400", "2.5", "1e9", "100"])
    ),
    "--seed": st.one_of(st.integers(-2, 2**70).map(str), st.text(max_size=4)),
    "--arrivals": st.lists(
        st.sampled_from(["poisson", "constant", "onoff", "1", "1e308", "1e-320", "0", "nan", "x", ""]),
        max_size=4,
    ).map(":".join),
    "--lifetime": st.lists(
        st.sampled_from(
            ["exponential", "lognormal", "pareto", "constant", "1", "2", "1e308", "0", "-1", "x"]
        ),
        max_size=3,
    ).map(":".join),
    "--clients": st.lists(
        st.sampled_from(["zipf", "uniform", "100", "1e30", "1.1", "10.0.0.0/30", "x", "0"]), max_size=4
    ).map(":".join),
    "--load": st.sampled_from(["0.5", "0", "-1", "nan", "inf", "1e400", "x"]),
    "--service": st.sampled_from(["infinite", "fifo", "ps", "lifo"]),
    "--algorithms": st.lists(st.sampled_from(["rr", "wrr", "nope", "", " "]), max_size=3).map(",".join),
    "--format": st.sampled_from(["text", "json", "md", "csv", "xml"]),
}


@FUZZ
@given(
    options=st.dictionaries(st.sampled_from(sorted(OPTIONS)), st.none(), max_size=5).flatmap(
        lambda chosen: st.fixed_dictionaries({k: OPTIONS[k] for k in chosen})
    ),
    events=st.booleans(),
)
def test_command_line_options(monkeypatch, capsys, options, events):
    monkeypatch.setattr(importlib.import_module("lbalgo.report.compare"), "ComparisonRun", _Comparison)
    argv = (
        ["compare", "-q"]
        + [x for k, v in options.items() for x in (k, v)]
        + ([] if events else ["--no-events"])
    )
    tracemalloc.start()
    try:
        code = cli.main(argv)
    except SystemExit as e:  # argparse
        code = e.code
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    out, err = capsys.readouterr()
    assert peak <= MEMORY
    assert code in (0, 2), (argv, err)
    if code == 2:
        assert out == "" and err.startswith("lbalgo: error: ") and err.count("\n") == 1, (argv, err)
    else:
        assert "Traceback" not in err


@FUZZ
@given(
    algorithm=st.sampled_from(lbalgo.names() + ["nope", "RR", ""]),
    weights=OPTIONS["--weights"],
    n=st.one_of(st.integers(-3, 50).map(str), st.sampled_from(["1e9", "x", "100000000"])),
    keys=st.one_of(st.none(), st.sampled_from(["10.0.0.1,10.0.0.2", "", ",", "x", "fd00::1"])),
)
def test_show_options(capsys, algorithm, weights, n, keys):
    argv = ["show", algorithm, "--weights", weights, "-n", n] + ([] if keys is None else ["--keys", keys])
    try:
        code = cli.main(argv)
    except SystemExit as e:
        code = e.code
    out, err = capsys.readouterr()
    assert code in (0, 2), (argv, err)
    if code == 2:
        assert out == "" and err.count("\n") == 1 and err.startswith("lbalgo: error: "), (argv, err)


def test_limits_are_documented():
    text = (Path(__file__).resolve().parent.parent / "docs" / "limits.md").read_text()
    for name in limits.LIMITS:
        assert f"`{name}`" in text, name
    assert issubclass(LimitExceeded, LbalgoError)
