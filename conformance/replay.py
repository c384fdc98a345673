"""Replay a recorded trace of nginx or HAProxy through lbalgo.

A fixture (``conformance/fixtures/*.json``, written by ``capture.py``) holds
the program and its version, the configuration it ran, the lbalgo
scheduler that models it (``"lbalgo": {"name": ..., "options": {...}}``) and
the steps, in the order the proxy saw them::

    {"op": "pick", "key": k, "backend": b, "hold": false, "failed": false, "now": t}
        one request: the proxy sent it to backend b (-1: it had none); unless
        it is held, the request ended before the next step (released,
        ``failed`` if the backend refused it); ``key`` is the client address,
        URI or header value the balancer hashes (null for none)
    {"op": "release", "backend": b, "now": t}    a held request ended
    {"op": "set_weight", "backend": b, "weight": w}
    {"op": "add", "weight": w, "options": {...}}, {"op": "remove", "backend": b}

:func:`replay` runs the same steps on the scheduler and returns every
decision it made, beside the recorded one.
"""

from __future__ import annotations

import json
import pathlib
from typing import Any, Iterator

import lbalgo
from lbalgo import NoBackendAvailable

FIXTURES = pathlib.Path(__file__).resolve().parent / "fixtures"


def fixtures() -> list[pathlib.Path]:
    """Every fixture file, sorted by name."""
    return sorted(FIXTURES.glob("*.json"))


def load(path: pathlib.Path | str) -> dict[str, Any]:
    """One fixture as a dict."""
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def build(fixture: dict[str, Any], **override: Any) -> lbalgo.Scheduler:
    """Build the lbalgo scheduler a fixture names, with its options (and ``override``)."""
    spec = fixture["lbalgo"]
    options = {**spec["options"], **override}
    return lbalgo.get(spec["name"])(**options)


def decisions(fixture: dict[str, Any],
              scheduler: lbalgo.Scheduler | None = None) -> Iterator[tuple[int, int, int]]:
    """Yield ``(step index, recorded backend, lbalgo's backend)`` for every pick of the fixture."""
    s = build(fixture) if scheduler is None else scheduler
    nginx = fixture["program"] == "nginx"
    for i, step in enumerate(fixture["steps"]):
        op = step["op"]
        now = float(step.get("now", 0.0))
        if op == "pick":
            try:
                got = s.pick(key=step.get("key"), now=now)
            except NoBackendAvailable:
                got = -1
            yield i, step["backend"], got
            if got >= 0 and not step.get("hold", False):
                if nginx:
                    s.release(got, failed=bool(step.get("failed", False)), now=now)
                else:
                    s.release(got)
        elif op == "release":
            if nginx:
                s.release(step["backend"], failed=bool(step.get("failed", False)), now=now)
            else:
                s.release(step["backend"])
        elif op == "set_weight":
            s.set_weight(step["backend"], step["weight"])
        elif op == "add":
            s.add_backend(step["weight"], **step.get("options", {}))
        elif op == "remove":
            s.remove_backend(step["backend"])
        else:
            raise ValueError(f"unknown step {op!r} at {i}")


def replay(fixture: dict[str, Any]) -> tuple[int, list[tuple[int, int, int]]]:
    """``(decisions replayed, mismatches as (step, recorded, lbalgo))``."""
    n = 0
    bad = []
    for i, want, got in decisions(fixture):
        n += 1
        if want != got:
            bad.append((i, want, got))
    return n, bad
