"""Every decision the real nginx 1.22 and HAProxy 2.6 made in ``conformance/fixtures`` must be lbalgo's.

The fixtures were recorded by ``conformance/capture.py`` (the programs from
Debian's packages, on loopback); this test needs neither program.
"""

import json

import pytest

import lbalgo
from conformance import replay

FIXTURES = replay.fixtures()
NAMES = [p.stem for p in FIXTURES]


def test_fixtures_exist_for_every_new_scheduler():
    covered = {replay.load(p)["lbalgo"]["name"] for p in FIXTURES}
    new = {n for n in lbalgo.names() if n.startswith(("nginx-", "haproxy-"))}
    assert new <= covered, f"no fixture for {sorted(new - covered)}"


@pytest.mark.parametrize("path", FIXTURES, ids=NAMES)
def test_every_decision_matches(path):
    fixture = replay.load(path)
    n, bad = replay.replay(fixture)
    assert n > 0
    assert bad == [], f"{len(bad)} of {n} decisions differ, first (step, recorded, lbalgo): {bad[:5]}"


@pytest.mark.parametrize("path", FIXTURES, ids=NAMES)
def test_fixture_records_program_config_and_inputs(path):
    fixture = replay.load(path)
    assert fixture["program"] in ("nginx", "haproxy")
    nginx = fixture["program"] == "nginx"
    assert fixture["version"].startswith("nginx/1.22" if nginx else "HAProxy version 2.6")
    assert ("upstream be" if nginx else "backend be") in fixture["config"]
    picks = [s for s in fixture["steps"] if s["op"] == "pick"]
    assert picks and all("backend" in s and "key" in s for s in picks)


def test_total_decisions():
    total = sum(replay.replay(replay.load(p))[0] for p in FIXTURES)
    # The count the closing note reports; it only grows when scenarios are added.
    assert total >= 8000, total


def test_replay_detects_a_wrong_decision():
    fixture = replay.load(FIXTURES[NAMES.index("haproxy_roundrobin_432")])
    fixture = json.loads(json.dumps(fixture))
    first = next(s for s in fixture["steps"] if s["op"] == "pick")
    first["backend"] = (first["backend"] + 1) % 3
    n, bad = replay.replay(fixture)
    assert bad and bad[0][1] == first["backend"]


def test_nginx_random_fixture_is_the_worker_seed():
    """The seed is nginx's own: srandom((pid << 16) ^ sec ^ msec) of the worker's start."""
    fixture = replay.load(FIXTURES[NAMES.index("nginx_random")])
    pid, start = fixture["worker"]["pid"], fixture["worker"]["start"]
    seed = fixture["lbalgo"]["options"]["seed"]
    assert any(((pid << 16) ^ sec ^ msec) & 0xFFFFFFFF == seed
               for sec in range(int(start) - 2, int(start) + 3) for msec in range(1000))
    # Another seed gives other decisions.
    other = replay.build(fixture, seed=seed + 1)
    assert any(want != got for _, want, got in replay.decisions(fixture, other))
