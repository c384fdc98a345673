"""The examples in lbalgo's docstrings and in the documentation run, and print what they show.

* Docstrings: every ``>>>`` example of every module of ``lbalgo`` runs as a
  doctest (what ``pytest --doctest-modules lbalgo`` would collect), and no
  ``>>>`` line in the sources is left out (one in a kernel's docstring, say,
  which the doctest finder does not look at, fails the count).
* Markdown (``README.md``, ``docs/**/*.md``): a fenced ``python`` block with
  ``>>>`` prompts runs as a doctest in a fresh namespace, as in a new
  interpreter: it imports what it uses. The other ``python`` blocks are
  fragments (files of the reader's, elided values): they must at least be
  valid Python.
"""

from __future__ import annotations

import doctest
import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


PROMPT = re.compile(r"\s*>>>( |$)")


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _prompts(path: Path) -> int:
    return sum(1 for line in path.read_text().splitlines() if PROMPT.match(line))


#: Every module of lbalgo whose source holds a ``>>>`` line (found by reading the files: collecting
#: imports nothing), and how many. ``__main__`` is never imported: that runs the CLI.
PROMPTS = {_module_name(p): _prompts(p) for p in sorted((ROOT / "lbalgo").rglob("*.py"))
           if p.name != "__main__.py" and _prompts(p)}


def _run(test: doctest.DocTest) -> None:
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    out: list[str] = []
    result = runner.run(test, out=out.append, clear_globs=True)
    assert result.failed == 0, "".join(out)
    assert result.attempted == len(test.examples)


@pytest.mark.parametrize("module", sorted(PROMPTS))
def test_docstring_examples(module):
    tests = [t for t in doctest.DocTestFinder().find(importlib.import_module(module)) if t.examples]
    # Every prompt of the file is in a docstring the finder sees (not, say, in a kernel's).
    assert sum(len(t.examples) for t in tests) == PROMPTS[module]
    for test in tests:
        _run(test)


def test_the_docstrings_have_examples():
    assert len(PROMPTS) >= 4 and sum(PROMPTS.values()) >= 10


# -- Markdown ---------------------------------------------------------------------------------------
MARKDOWN = [ROOT / "README.md"] + sorted((ROOT / "docs").rglob("*.md"))
FENCE = re.compile(r"^```python[^\n]*\n(.*?)^```", re.S | re.M)


def _blocks(path: Path) -> list[tuple[int, str]]:
    text = path.read_text()
    return [(text.count("\n", 0, m.start()) + 2, m.group(1)) for m in FENCE.finditer(text)]


BLOCKS = [(p, line, code) for p in MARKDOWN for line, code in _blocks(p)]
DOCTEST_BLOCKS = [b for b in BLOCKS if ">>>" in b[2]]
FRAGMENTS = [b for b in BLOCKS if ">>>" not in b[2]]


def _id(block) -> str:
    path, line, _ = block
    return f"{path.relative_to(ROOT)}:{line}"


@pytest.mark.parametrize("block", DOCTEST_BLOCKS, ids=_id)
def test_markdown_doctest_blocks(block):
    path, line, code = block
    test = doctest.DocTestParser().get_doctest(code, {}, _id(block), str(path), line - 1)
    _run(test)


@pytest.mark.parametrize("block", FRAGMENTS, ids=_id)
def test_markdown_python_blocks_are_valid_python(block):
    path, line, code = block
    compile(code, f"{path}:{line}", "exec")


def test_the_markdown_has_blocks_of_both_kinds():
    assert len(DOCTEST_BLOCKS) >= 1 and len(FRAGMENTS) >= 10
