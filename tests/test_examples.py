"""The example scripts in ``docs/examples`` run and print exactly their ``.out`` files.

Each ``docs/examples/NAME.py`` is run as a user would run it (``python
docs/examples/NAME.py``, in a fresh interpreter), and what it prints must be
``docs/examples/NAME.out``, byte for byte, with nothing on stderr. The
examples seed every random choice, so their output is the same on every
machine, compiled or with ``NUMBA_DISABLE_JIT=1``. After a deliberate change,
``LBALGO_REGEN_GOLDEN=1 pytest tests/test_examples.py`` rewrites the ``.out``
files (review the diff).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "docs" / "examples"
SCRIPTS = sorted(EXAMPLES.glob("*.py"))


def test_every_example_has_its_output_and_every_output_its_example():
    assert len(SCRIPTS) >= 3
    assert {p.stem for p in EXAMPLES.glob("*.out")} == {p.stem for p in SCRIPTS}


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_example_prints_its_expected_output(script):
    proc = subprocess.run([sys.executable, str(script.relative_to(ROOT))], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stderr == ""
    expected = script.with_suffix(".out")
    if os.environ.get("LBALGO_REGEN_GOLDEN") == "1":
        expected.write_text(proc.stdout)
    assert proc.stdout == expected.read_text(), f"{script.name}: output differs from {expected.name}"
