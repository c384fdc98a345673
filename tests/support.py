"""Helpers shared by several test modules (imported as ``tests.support``; fixtures live in conftest.py)."""

from __future__ import annotations

import os
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
