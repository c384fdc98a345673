"""Helpers shared by several test modules (imported as ``tests.support``; fixtures live in conftest.py)."""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import numpy as np

#: Client keys a test can pass to any scheduler: 64 IPv4 addresses, 7919 apart from 10.0.0.1.
KEY_POOL = np.array([0x0A000001 + 7919 * i for i in range(64)], dtype=np.int64)

GOLDEN = Path(__file__).parent / "golden"

#: Versions would change the golden files on every upgrade: the byte-for-byte tests pin them.
FIXED_VERSIONS = {"lbalgo": "X", "numba": "X", "numpy": "X"}


def check_golden(name: str, data: bytes) -> None:
    """Compare ``data`` with tests/golden/``name``; rewrite the file when LBALGO_REGEN_GOLDEN=1."""
    path = GOLDEN / name
    if os.environ.get("LBALGO_REGEN_GOLDEN") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(data)
    assert path.exists(), f"{path} is missing: run with LBALGO_REGEN_GOLDEN=1 to create it"
    assert data == path.read_bytes(), f"{name} differs from its golden file (LBALGO_REGEN_GOLDEN=1 rewrites)"


# -- kube-proxy's random choices, worked out exactly from the kernel's arithmetic ------------------

def cascade_shares(probabilities: list[str]) -> list[Fraction]:
    """Exact share of each endpoint of an iptables ``statistic --mode random`` cascade.

    ``probabilities`` are the ``--probability`` strings of the rules in order
    (the last endpoint's rule has none and takes what is left). iptables
    stores ``lround(p * 2**31)`` and the kernel matches when
    ``(get_random_u32() & 0x7FFFFFFF) < stored``, so rule i matches with
    probability ``stored / 2**31``, once every earlier rule missed.
    """
    shares, reach = [], Fraction(1)
    for text in probabilities:
        stored = int(Fraction(float(text)) * 2**31 + Fraction(1, 2))  # lround, for a positive value
        q = Fraction(stored, 2**31)
        shares.append(reach * q)
        reach *= 1 - q
    shares.append(reach)
    return shares


def numgen_shares(n: int) -> list[Fraction]:
    """Exact share of each of ``n`` endpoints of nftables ``numgen random mod n``.

    The kernel maps a random u32 ``r`` to ``(r * n) >> 32`` (``reciprocal_scale``);
    endpoint i gets the ``r`` from the first one that maps to i up to the
    first that maps to i + 1. Each boundary is checked against that formula.
    """
    first = [-(-(i << 32) // n) for i in range(n + 1)]  # ceil(i * 2**32 / n)
    for i in range(1, n):
        assert (first[i] * n) >> 32 == i and ((first[i] - 1) * n) >> 32 == i - 1
    return [Fraction(first[i + 1] - first[i], 2**32) for i in range(n)]
