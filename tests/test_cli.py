"""The ``lbalgo`` command line and the comparison reports it renders.

Golden files (tests/golden/) pin the reproducible formats byte for byte;
regenerate them after an intended change with
``LBALGO_REGEN_GOLDEN=1 .venv/bin/pytest -q tests/test_cli.py`` (see docs/developing.md).
"""

import csv
import dataclasses
import io
import json
import subprocess
import sys

import pytest

import lbalgo
from lbalgo import cli, scenario
from lbalgo.report import Comparison, compare
from tests.support import check_golden

SMALL = ["--connections", "20000", "--algorithms", "rr,wrr,random,sh,wlc", "--no-timing"]


@pytest.fixture(scope="module")
def small():
    sc = dataclasses.replace(scenario.default(), connections=3000)
    return compare(sc, ["rr", "wrr", "sh"])


def run(capsys, *argv):
    try:
        code = cli.main(list(argv))
    except SystemExit as e:  # argparse's own errors (one line, see cli._Parser) and --help
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


# -- golden files and repeatability ------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["md", "json", "csv"])
def test_golden_small_comparison(capsys, tmp_path, fixed_versions, fmt):
    out = tmp_path / f"report.{fmt}"
    code, stdout, err = run(capsys, "compare", *SMALL, "--format", fmt, "-o", str(out))
    assert (code, stdout, err) == (0, "", "")
    check_golden(f"compare_small.{fmt}", out.read_bytes())


def test_no_timing_output_is_repeatable_and_has_no_rates(capsys):
    argv = ["compare", "--connections", "5000", "--algorithms", "random,twos", "--no-timing", "--format"]
    first = {f: run(capsys, *argv, f) for f in ("text", "md", "json", "csv")}
    again = {f: run(capsys, *argv, f) for f in ("text", "md", "json", "csv")}
    assert first == again
    for code, out, err in first.values():
        assert code == 0 and err == ""
        assert "connections_per_second" not in out and "Mconn/s" not in out


def test_timing_is_in_every_format_by_default(small):
    assert "Mconn/s" in small.to_text()
    assert "Mconn/s" in small.to_markdown()
    assert all("connections_per_second" in r for r in small.to_dict()["results"])
    assert small.to_csv().splitlines()[0].endswith(",connections_per_second")


# -- CSV -----------------------------------------------------------------------------------------

def test_csv_layout_is_one_row_per_algorithm_and_backend(small):
    rows = list(csv.DictReader(io.StringIO(small.to_csv(timing=False))))
    n = small.n_backends
    assert list(rows[0]) == list(Comparison.CSV_COLUMNS[:-1])
    assert len(rows) == n * len(small.rows)
    for i, r in enumerate(small.rows):
        mine = rows[i * n:(i + 1) * n]
        assert {x["algorithm"] for x in mine} == {r.algorithm}
        assert [int(x["backend"]) for x in mine] == list(range(n))
        assert [int(x["connections"]) for x in mine] == list(r.counts)
        assert sum(float(x["share"]) for x in mine) == pytest.approx(1)
        assert sum(float(x["target_share"]) for x in mine) == pytest.approx(1)
        assert max(abs(float(x["relative_deviation"])) for x in mine) == pytest.approx(r.max_deviation)
        assert {float(x["jain"]) for x in mine} == {float(f"{r.jain:.12g}")}
        assert {float(x["latency_p99"]) for x in mine} == {float(f"{r.latency['p99']:.12g}")}


def test_csv_leaves_relative_deviation_empty_for_a_zero_target():
    sc = dataclasses.replace(scenario.default(), weights=(2, 0, 1), connections=300, events=())
    rows = list(csv.DictReader(io.StringIO(compare(sc, ["wrr"]).to_csv())))
    assert [r["relative_deviation"] for r in rows][1] == ""
    assert rows[1]["connections"] == "0" and rows[1]["moved"] == ""


# -- Python API ----------------------------------------------------------------------------------

def test_lbalgo_compare_is_the_lazy_api():
    assert lbalgo.compare is compare
    assert lbalgo.Comparison is Comparison
    code = "import sys, lbalgo; print('lbalgo.report' in sys.modules, 'matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


# -- progress, --quiet and Ctrl-C ----------------------------------------------------------------

def test_progress_callback_sees_every_algorithm():
    calls = []
    sc = dataclasses.replace(scenario.default(), connections=500)
    result = compare(sc, ["rr", "wrr", "sh"], progress=lambda *a: calls.append(a))
    assert calls == [(1, 3, "rr"), (2, 3, "wrr"), (3, 3, "sh")]
    assert result.complete and result.missing == ()


def test_interrupt_returns_the_algorithms_that_finished():
    def stop_at_third(index, total, name):
        if index == 3:
            raise KeyboardInterrupt

    sc = dataclasses.replace(scenario.default(), connections=500)
    result = compare(sc, ["rr", "wrr", "sh", "wlc"], progress=stop_at_third)
    assert [r.algorithm for r in result.rows] == ["rr", "wrr"]
    assert result.missing == ("sh", "wlc") and not result.complete
    assert result.to_dict()["missing"] == ["sh", "wlc"]
    for text in (result.to_text(), result.to_markdown()):
        assert "interrupted: 2 of 4 algorithms ran; not run: sh, wlc" in text


class _Tty(io.StringIO):
    def isatty(self):
        return True


def test_progress_bar_only_on_a_tty_and_not_quiet(monkeypatch, capsys):
    args = ["compare", "--connections", "500", "--algorithms", "rr,wrr", "--no-timing"]
    assert run(capsys, *args)[2] == ""  # captured stderr is not a TTY
    tty = _Tty()
    monkeypatch.setattr(sys, "stderr", tty)
    assert cli.main(args) == 0
    drawn = tty.getvalue().split("\r")
    assert drawn[1].startswith("[" + "-" * 24 + "] 1/2 rr")
    assert drawn[2].startswith("[" + "#" * 12 + "-" * 12 + "] 2/2 wrr")
    assert drawn[-1] == "" and drawn[-2].strip() == ""  # the bar is wiped at the end
    tty = _Tty()
    monkeypatch.setattr(sys, "stderr", tty)
    assert cli.main(args + ["--quiet"]) == 0
    assert tty.getvalue() == ""


class _InterruptingBar:
    def __init__(self, at):
        self.at = at

    def __call__(self, stream):
        at = self.at

        class Bar:
            def __call__(self, index, total, name):
                if index == at:
                    raise KeyboardInterrupt

            def close(self):
                pass
        return Bar()


def test_ctrl_c_prints_the_finished_algorithms_and_exits_130(monkeypatch, capsys):
    monkeypatch.setattr(cli, "_ProgressBar", _InterruptingBar(2))
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    code, out, err = run(capsys, "compare", "--connections", "500", "--algorithms", "rr,wrr,sh",
                         "--format", "json")
    assert code == 130
    assert [r["algorithm"] for r in json.loads(out)["results"]] == ["rr"]
    assert err == "lbalgo: interrupted after 1 of 3 algorithms; the report shows those that finished\n"


def test_ctrl_c_before_any_algorithm_prints_no_report(monkeypatch, capsys):
    monkeypatch.setattr(cli, "_ProgressBar", _InterruptingBar(1))
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    code, out, err = run(capsys, "compare", "--connections", "500", "--algorithms", "rr")
    assert (code, out, err) == (130, "", "lbalgo: interrupted\n")


# -- plot ----------------------------------------------------------------------------------------

@pytest.fixture
def no_matplotlib(monkeypatch):
    for name in ("matplotlib", "matplotlib.figure"):
        monkeypatch.setitem(sys.modules, name, None)  # makes ``import`` raise ImportError


def test_plot_without_matplotlib_says_how_to_install(small, no_matplotlib, tmp_path):
    with pytest.raises(RuntimeError, match=r"pip install lbalgo\[plot\]"):
        small.plot(tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


def test_cli_plot_without_matplotlib_exits_2_before_comparing(no_matplotlib, monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(sys.modules["lbalgo.report.compare"], "compare",
                        lambda *a, **k: pytest.fail("compared although plotting cannot work"))
    code, out, err = run(capsys, "compare", "--plot", str(tmp_path / "r.png"))
    assert (code, out) == (2, "")
    assert err == ("lbalgo: error: plotting needs matplotlib, which is not installed: "
                   "pip install lbalgo[plot]\n")


def test_cli_writes_the_plot(capsys, tmp_path):
    png = tmp_path / "r.png"
    code, out, err = run(capsys, "compare", "--connections", "2000", "--algorithms", "rr,mh", "--no-timing",
                         "--plot", str(png), "-o", str(tmp_path / "r.txt"))
    assert (code, out, err) == (0, "", "")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# -- errors: exit code 2, one line on stderr, no traceback ---------------------------------------

@pytest.fixture
def toml(tmp_path):
    def write(text):
        path = tmp_path / "s.toml"
        path.write_text(text, encoding="utf-8")
        return str(path)
    return write


@pytest.mark.parametrize("argv, message", [
    (["compare", "--weights", "4,x"], "--weights must be comma-separated integers"),
    (["compare", "--weights", "0,0"], "pool.weights must contain at least one weight > 0"),
    (["compare", "--weights", "4,-1"], "pool.weights"),
    (["compare", "--connections", "0"], "--connections must be a whole number >= 1"),
    (["compare", "--connections", "lots"], "--connections must be a number"),
    (["compare", "--algorithms", "rr,nope"], "unknown algorithm 'nope'"),
    (["compare", "/nonexistent/s.toml"], "cannot read scenario /nonexistent/s.toml"),
    (["compare", "--format", "xml"], "argument --format: invalid choice: 'xml'"),
    (["compare", "--bogus"], "unrecognized arguments: --bogus"),
    (["compare", "--connections", "10", "-o", "/nonexistent/dir/r.txt"], "No such file or directory"),
    (["compare", "--clients", "zipf:x"], "clients.count must be a number, got 'x'"),
    (["compare", "--lifetime", "gauss:1"], "lifetimes: model must be one of"),
    (["compare", "--arrivals", "poisson:0"], "arrivals.rate must be a number > 0"),
    (["compare", "--load", "0.5", "--service", "infinite"], "arrivals.load needs a queued service"),
    (["compare", "--service", "lifo"], "argument --service: invalid choice"),
    (["compare", "--weights", "1", "--connections", "100"], "events[0]"),
    (["show", "nope", "--weights", "1,2"], "no scheduler named 'nope'"),
    (["show", "wrr"], "the following arguments are required: --weights"),
    (["show", "wrr", "--weights", "a"], "--weights must be comma-separated integers"),
    (["show", "wrr", "--weights", "1", "-n", "-1"], "-n must be >= 0"),
    (["show", "sh", "--weights", "1,1"], "sh hashes a client address: give --keys"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
    ([], "the following arguments are required: command"),
])
def test_bad_input_exits_2_with_one_line(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert out == ""
    assert err.startswith("lbalgo: error: ") and err.endswith("\n") and err.count("\n") == 1
    assert message in err


@pytest.mark.parametrize("text, message", [
    ("name = 'x'\n[pool\nweights = [1]\n", "not valid TOML"),
    ("[pool]\nweights = [1, 2]\ncolour = 'red'\n", "unknown field pool.colour"),
    ("[pool]\nweights = [1]\n[clients]\nmodel = 'pareto'\n", "clients.model must be one of"),
    ("algorithms = ['rr', 'nope']\n[pool]\nweights = [1]\n", "unknown algorithm 'nope'"),
    ("[pool]\nweights = [1]\n[[events]]\nat = 5\naction = 'remove'\nbackend = 3\n", "events[0]"),
])
def test_bad_scenario_file_exits_2_with_one_line(capsys, toml, text, message):
    code, out, err = run(capsys, "compare", toml(text))
    assert (code, out) == (2, "")
    assert err.startswith("lbalgo: error: ") and err.count("\n") == 1
    assert message in err


def test_scenario_file_is_used(capsys, toml):
    path = toml("name = 'mine'\nseed = 3\nconnections = 600\nalgorithms = ['wrr', 'rr']\n"
                "[pool]\nweights = [2, 1]\n[clients]\nmodel = 'uniform'\ncount = 100\n")
    code, out, err = run(capsys, "compare", path, "--format", "json", "--seed", "4")
    data = json.loads(out)
    assert (code, err) == (0, "")
    assert data["scenario"]["name"] == "mine" and data["scenario"]["seed"] == 4
    assert data["scenario"]["clients"] == {"model": "uniform", "count": 100, "network": "10.0.0.0/8"}
    assert [r["algorithm"] for r in data["results"]] == ["wrr", "rr"]
    assert data["results"][0]["counts"] == [400, 200]
    assert data["missing"] == [] and data["events"] == []
    assert data["results"][0]["latency"] is None  # the infinite server queues nothing


def test_workload_options_replace_the_scenario(capsys):
    code, out, err = run(capsys, "compare", "--algorithms", "rr", "--connections", "1000",
                         "--weights", "4,2,1,1", "--clients", "zipf:500:1.2", "--lifetime", "lognormal:2:1",
                         "--arrivals", "poisson:100", "--service", "infinite", "--no-events", "--seed", "7",
                         "--format", "json", "--no-timing")
    assert (code, err) == (0, "")
    sc = json.loads(out)["scenario"]
    assert sc["pool"]["weights"] == [4, 2, 1, 1] and sc["seed"] == 7 and sc["events"] == []
    assert sc["clients"] == {"model": "zipf", "count": 500, "exponent": 1.2, "network": "10.0.0.0/8"}
    assert sc["lifetimes"] == {"model": "lognormal", "mean": 2.0, "sigma": 1.0}
    assert sc["arrivals"] == {"model": "poisson", "rate": 100.0}
    assert sc["service"]["model"] == "infinite"


def test_service_infinite_keeps_the_default_rate(capsys):
    code, out, err = run(capsys, "compare", "--algorithms", "wlc", "--connections", "1000",
                         "--service", "infinite", "--format", "json", "--no-timing")
    assert (code, err) == (0, "")
    sc = json.loads(out)["scenario"]
    assert sc["arrivals"] == {"model": "poisson", "rate": pytest.approx(368.0)}


def test_load_with_an_arrival_model_without_rate(capsys):
    code, out, err = run(capsys, "compare", "--algorithms", "wrr", "--connections", "1000", "--load", "0.5",
                         "--arrivals", "onoff:1:3", "--format", "json", "--no-timing")
    assert (code, err) == (0, "")
    assert json.loads(out)["scenario"]["arrivals"] == {"model": "onoff", "load": 0.5, "mean_on": 1.0,
                                                       "mean_off": 3.0}


def test_load_option(capsys):
    code, out, err = run(capsys, "compare", "--algorithms", "wrr", "--connections", "1000", "--load", "0.5",
                         "--format", "json", "--no-timing")
    assert (code, err) == (0, "")
    assert json.loads(out)["scenario"]["arrivals"] == {"model": "poisson", "load": 0.5}


# -- list, show, help ----------------------------------------------------------------------------

def test_list_names_every_algorithm_once(capsys):
    code, out, err = run(capsys, "list")
    assert (code, err) == (0, "")
    listed = [line.split()[0] for line in out.splitlines() if line.startswith("  ")]
    assert sorted(listed) == sorted(lbalgo.names()) and len(listed) == len(set(listed))
    assert "WRR" in out and "[Linux IPVS ip_vs_wrr.c]" in out
    groups = [line for line in out.splitlines() if line and not line.startswith(" ")]
    assert groups[0].startswith("Linux IPVS") and any(g.startswith("nginx") for g in groups)


def test_show_prints_the_decision_sequence(capsys):
    assert run(capsys, "show", "wrr", "--weights", "4,3,2", "-n", "9") == (0, "0 0 1 0 1 2 0 1 2\n", "")
    code, out, err = run(capsys, "show", "sh", "--weights", "1,1,1", "-n", "4",
                         "--keys", "10.0.0.1,10.0.0.2")
    assert (code, err) == (0, "")
    first = out.split()
    assert len(first) == 4 and first[0] == first[2] and first[1] == first[3]


def test_show_zero_decisions(capsys):
    assert run(capsys, "show", "rr", "--weights", "1,1", "-n", "0") == (0, "\n", "")


def test_output_file(capsys, tmp_path):
    out = tmp_path / "r.txt"
    assert run(capsys, "compare", "--connections", "200", "--algorithms", "rr", "-o", str(out)) == (0, "", "")
    text = out.read_text(encoding="utf-8")
    assert text.startswith("scenario default: weights [8, 4, 4, 2, 2, 1, 1, 1]; 200 ")


def test_python_dash_m_help():
    r = subprocess.run([sys.executable, "-m", "lbalgo", "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stderr == ""
    for word in ("compare", "list", "show", "examples:"):
        assert word in r.stdout
    r = subprocess.run([sys.executable, "-m", "lbalgo", "compare", "--help"], capture_output=True, text=True)
    assert r.returncode == 0
    for option in ("--format {text,json,md,csv,html}", "--no-timing", "--plot", "--quiet", "--clients",
                   "--lifetime", "--arrivals", "--load", "--service", "--no-events"):
        assert option in r.stdout


@pytest.mark.parametrize("command", ["compare", "list", "show"])
def test_every_command_has_help_with_examples(capsys, command):
    code, out, err = run(capsys, command, "--help")
    assert (code, err) == (0, "")
    assert "examples:" in out and f"lbalgo {command}" in out


def test_text_and_markdown_record_versions_and_seed(small):
    for text in (small.to_text(timing=False), small.to_markdown(timing=False)):
        assert "seed 20261127" in text
        for name, version in small.versions.items():
            assert f"{name} {version}" in text


def test_the_progress_bar_never_draws_after_it_is_closed():
    # The worker thread draws and the main thread closes after Ctrl-C; a late draw from an
    # abandoned worker must not land on the line of the final message.
    import io
    import threading

    stream = io.StringIO()
    bar = cli._ProgressBar(stream)
    bar(1, 3, "rr")
    drawing = threading.Event()

    def draw_forever():
        drawing.set()
        for i in range(20_000):
            bar(1 + i % 3, 3, "wrr")

    worker = threading.Thread(target=draw_forever)
    worker.start()
    drawing.wait()
    bar.close()
    closed_at = len(stream.getvalue())
    worker.join()
    assert stream.getvalue().endswith("\r" + " " * 79 + "\r")
    assert len(stream.getvalue()) == closed_at
    bar.message("late")
    assert len(stream.getvalue()) == closed_at


def test_a_worker_left_running_after_ctrl_c_is_known_to_run(monkeypatch):
    # main() must exit with os._exit while the abandoned worker runs (an interpreter that
    # finalizes under a thread inside LLVM aborts); Thread.is_alive cannot tell after a
    # Ctrl-C that interrupted Thread.join on Python 3.11, so the worker reports itself.
    import _thread
    import threading

    if threading.current_thread() is not threading.main_thread():
        pytest.skip("Ctrl-C reaches the main thread only")
    monkeypatch.setattr(cli, "_abandoned", [])
    release = threading.Event()
    threading.Timer(0.2, _thread.interrupt_main).start()
    with pytest.raises(KeyboardInterrupt):
        cli._in_worker(lambda: release.wait(30))
    (finished,) = cli._abandoned
    assert not finished.is_set()  # still running
    release.set()
    assert finished.wait(10)
