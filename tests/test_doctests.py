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
import pkgutil
import re
from pathlib import Path

import pytest

import lbalgo

ROOT = Path(__file__).resolve().parent.parent
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def _modules() -> list[str]:
    names = ["lbalgo"] + [m.name for m in pkgutil.walk_packages(lbalgo.__path__, "lbalgo.")]
    return [n for n in names if not n.endswith(".__main__")]  # importing __main__ runs the CLI


def _docstring_tests() -> dict[str, list[doctest.DocTest]]:
    finder = doctest.DocTestFinder()
    found = {}
    for name in _modules():
        tests = [t for t in finder.find(importlib.import_module(name)) if t.examples]
        if tests:
            found[name] = tests
    return found


DOCSTRING_TESTS = _docstring_tests()


def _run(test: doctest.DocTest) -> None:
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    out: list[str] = []
    result = runner.run(test, out=out.append, clear_globs=True)
    assert result.failed == 0, "".join(out)
    assert result.attempted == len(test.examples)


@pytest.mark.parametrize("module", sorted(DOCSTRING_TESTS))
def test_docstring_examples(module):
    for test in DOCSTRING_TESTS[module]:
        _run(test)


def test_every_prompt_in_the_sources_is_run():
    in_sources = {}
    for path in sorted((ROOT / "lbalgo").rglob("*.py")):
        n = sum(1 for line in path.read_text().splitlines() if re.match(r"\s*>>>( |$)", line))
        if n:
            in_sources[str(path.relative_to(ROOT))] = n
    found = {}
    for tests in DOCSTRING_TESTS.values():
        for t in tests:
            key = str(Path(t.filename).resolve().relative_to(ROOT))
            found[key] = found.get(key, 0) + len(t.examples)
    assert found == in_sources
    assert sum(found.values()) >= 10


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
