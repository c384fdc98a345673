"""Slow, obviously correct plain-Python schedulers: the oracle for every test.

Each reference mirrors one lbalgo scheduler with ordinary Python objects (a
list for the list order, dicts for the counters) and the real system's
pseudocode, line by line. They are also the "plain Python" side of the
benchmarks. ``REFERENCES[name]`` is the reference of ``lbalgo.get(name)``.

A reference takes the same constructor arguments as its lbalgo class
(``weights``, ``seed``, ``u_thresholds``, ``l_thresholds``, ``new_conns`` and
the scheduler's own options) and offers ``pick(key=None, now=0.0)`` (returns
-1 when nothing qualifies), ``release``, ``set_weight``, ``add_backend``,
``remove_backend``, ``set_thresholds``, ``activate``, ``deactivate``.
"""

from __future__ import annotations

REFERENCES: dict[str, type] = {}


def register(cls):
    REFERENCES[cls.name] = cls
    return cls


from . import (  # noqa: E402,F401
    envoy,
    haproxy,
    ipvs_hash,
    ipvs_lblc,
    ipvs_lc,
    ipvs_rr,
    kube_userspace,
    nginx,
    random_,
)
from .pool import RefPool, RefScheduler  # noqa: E402

__all__ = ["REFERENCES", "RefPool", "RefScheduler", "register"]
