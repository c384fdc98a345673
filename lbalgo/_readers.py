"""Reading user files safely: bounded size, strict UTF-8, bounded nesting, no YAML aliases.

Every reader of lbalgo (scenarios, traces, Kubernetes objects) goes through
these helpers, so a file that is too large, not text, nested a thousand
levels deep or built to expand (a YAML alias bomb) fails with the reader's
own error class and a one-line message naming the file, before any large
allocation. The limits come from :mod:`lbalgo.limits`.
"""

from __future__ import annotations

import json
import os
import re
import stat
from typing import Any

from . import limits
from .errors import limit_error

UTF8_BOM = b"\xef\xbb\xbf"


def read_file(path: str | os.PathLike, limit: str, error: type[Exception], what: str = "") -> bytes:
    """Return the bytes of ``path``, at most limit ``limit`` of them, or raise ``error`` naming the file.

    The size is checked before reading (from ``stat`` for a regular file),
    and reading stops one byte past the limit for anything else (a pipe,
    ``/dev/zero``).
    """
    p = os.fspath(path)
    label = what or p
    try:
        with open(p, "rb") as f:
            st = os.fstat(f.fileno())
            if stat.S_ISDIR(st.st_mode):
                raise error(f"cannot read {label}: it is a directory")
            cap = limits.get(limit)
            if stat.S_ISREG(st.st_mode):
                limits.check(
                    limit, st.st_size, f"{label}: the file ({limits.describe(limit, st.st_size)})", error
                )
                data = f.read(st.st_size + 1)  # (read(n) allocates n bytes first: never ask for the limit)
                if len(data) > st.st_size:  # it grew since: read the rest in bounded pieces
                    data += _read_bounded(f, cap + 1 - len(data))
            else:  # a pipe or a device: read in pieces, stop past the limit
                data = _read_bounded(f, cap + 1)
    except OSError as e:
        raise error(f"cannot read {label}: {e.strerror or e}") from None
    if len(data) > cap:
        raise limit_error(error)(
            f"{label}: the input is over {limits.describe(limit, cap)} ({limits.how_to_raise(limit)})"
        )
    return data


def _read_bounded(f: Any, most: int) -> bytes:
    """At most ``most`` bytes of ``f``, read 1 MiB at a time."""
    chunks = []
    while most > 0:
        chunk = f.read(min(most, 1 << 20))
        if not chunk:
            break
        chunks.append(chunk)
        most -= len(chunk)
    return b"".join(chunks)


def decode(data: bytes, origin: str, error: type[Exception]) -> str:
    """Return ``data`` as UTF-8 text, or raise ``error`` naming the line.

    A leading byte-order mark is dropped.
    """
    if data.startswith(UTF8_BOM):
        data = data[len(UTF8_BOM) :]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise error(
            f"{origin} line {line}: not UTF-8 text (byte 0x{data[e.start]:02x} at offset {e.start}); "
            "save the file as UTF-8"
        ) from None


def check_nesting(value: Any, origin: str, error: type[Exception]) -> None:
    """Raise ``error`` if lists and dicts in ``value`` nest deeper than ``MAX_NESTING``.

    Iterative (no recursion); it visits each list or dict once, so objects
    shared many times (or a list that contains itself) cost nothing extra,
    and it stops at the first container past the limit.
    """
    cap = limits.get("MAX_NESTING")
    seen: set[int] = set()
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, (list, tuple)):
            children = item
        else:
            continue
        if depth > cap:
            raise _too_deep(origin, error)
        if id(item) in seen:
            continue
        seen.add(id(item))
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list, tuple)))


def _too_deep(origin: str, error: type[Exception]) -> Exception:
    return limit_error(error)(
        f"{origin}: lists and tables nest more than {limits.describe('MAX_NESTING')} levels "
        f"deep ({limits.how_to_raise('MAX_NESTING')})"
    )


def parse_json(text: str, origin: str, error: type[Exception]) -> Any:
    """Parse JSON, checking nesting; ``error`` names the line and column of a syntax error."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise _too_deep(origin, error) from None
    except json.JSONDecodeError as e:
        raise error(f"{origin} line {e.lineno} column {e.colno}: not valid JSON: {e.msg}") from None
    except ValueError as e:  # e.g. an integer of more than 4300 digits
        raise error(f"{origin}: not valid JSON: {str(e).splitlines()[0][:120]}") from None
    check_nesting(value, origin, error)
    return value


# A dotted TOML key: bare or quoted parts joined by dots. Runs of more than MAX_NESTING parts
# make tomllib quadratic (20,000 parts: 15 s); values never form runs longer than 3 parts.
_TOML_BARE = r"[A-Za-z0-9_-]++"
_TOML_PART = rf"""(?:{_TOML_BARE}|"(?:[^"\\\n]|\\.)*+"|'[^'\n]*+')"""
_TOML_TOKENS = re.compile(
    r'"""(?:[^"\\]|\\.|"(?!""))*+"""|'
    + r"'''(?:[^']|'(?!''))*+'''|"  # multi-line strings
    # dotted runs: keys, floats
    + rf"(?<![A-Za-z0-9_-])(?P<run>{_TOML_PART}(?:[ \t]*+\.[ \t]*+{_TOML_PART})+)|"
    + r""""(?:[^"\\\n]|\\.)*+"|'[^'\n]*+'|#[^\n]*+""",  # strings and comments
    re.DOTALL,
)
_TOML_DOT = re.compile(rf"{_TOML_PART}|\.")


def parse_toml(text: str, origin: str, error: type[Exception]) -> Any:
    """Parse TOML, with dotted keys and nesting bounded by ``MAX_NESTING`` (checked before parsing)."""
    import tomllib

    cap = limits.get("MAX_NESTING")
    for m in _TOML_TOKENS.finditer(text):
        run = m.group("run")
        if run is not None and run.count(".") >= cap:  # dots inside quoted parts only over-count
            parts = sum(1 for t in _TOML_DOT.findall(run) if t != ".")
            if parts > cap:
                line = text.count("\n", 0, m.start()) + 1
                raise limit_error(error)(
                    f"{origin} line {line}: a dotted key of {parts:,} parts nests more "
                    f"than {limits.describe('MAX_NESTING')} levels deep "
                    f"({limits.how_to_raise('MAX_NESTING')})"
                )
    try:
        value = tomllib.loads(text)
    except RecursionError:
        raise _too_deep(origin, error) from None
    except tomllib.TOMLDecodeError as e:
        raise error(f"{origin}: not valid TOML: {e}") from None
    except ValueError as e:  # an integer of more than 4300 digits
        raise error(f"{origin}: not valid TOML: {str(e).splitlines()[0][:120]}") from None
    check_nesting(value, origin, error)
    return value


def yaml_loader() -> Any:
    """PyYAML's safe loader class: the C one (libyaml) when PyYAML was built with it."""
    import yaml

    return getattr(yaml, "CSafeLoader", None) or yaml.SafeLoader


def parse_yaml(text: str, origin: str, error: type[Exception]) -> list[Any]:
    """Return a YAML stream's documents, exactly as ``yaml.safe_load_all`` reads them, made safe and fast.

    One pass over the parser's events (libyaml's when PyYAML has it) rejects
    aliases (``*name``: an alias bomb expands a few hundred bytes into
    gigabytes) and nesting beyond ``MAX_NESTING``, and builds the documents
    as it goes: plain and quoted scalars are resolved and constructed by
    PyYAML's own resolver and safe constructors, mappings and sequences
    become dicts and lists. That is PyYAML's safe loading without its node
    graph, ten times faster than the C loader (50,000 endpoints: seconds).
    Documents that use what this pass leaves to PyYAML (explicit tags such
    as ``!!set``, ``<<`` merge keys, a mapping or sequence as a key) are then
    read by PyYAML's safe C loader. Empty documents are dropped.
    """
    try:
        import yaml
    except ImportError:
        raise error(
            f"{origin}: reading YAML needs PyYAML (pip install 'lbalgo[yaml]'; JSON needs nothing)"
        ) from None
    loader = yaml_loader()
    try:
        docs, fast = _yaml_events(yaml, loader, text, origin, error)
        if not fast:
            docs = list(yaml.load_all(text, Loader=loader))
    except yaml.YAMLError as e:
        raise error(f"{origin}: not valid YAML: {_one_line(e)}") from None
    except RecursionError:
        raise _too_deep(origin, error) from None
    except (
        ValueError,
        TypeError,
        OverflowError,
        KeyError,
    ) as e:  # a scalar a constructor rejects (a huge integer)
        if isinstance(e, error):
            raise
        raise error(f"{origin}: not valid YAML: {_one_line(e)}") from None
    return [d for d in docs if d is not None]


_STR = "tag:yaml.org,2002:str"
_NULL = "tag:yaml.org,2002:null"
_BOOL = "tag:yaml.org,2002:bool"
#: Tags of scalars the fast pass constructs itself (others: PyYAML's loader reads the document).
_FAST_TAGS = {
    _STR,
    _NULL,
    _BOOL,
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:timestamp",
}


def _yaml_events(
    yaml: Any, loader: Any, text: str, origin: str, error: type[Exception]
) -> tuple[list[Any], bool]:
    """Check every event of ``text`` and build its documents.

    Returns ``(documents, True)``, or ``([], False)`` when a document needs
    PyYAML's own loader (the checks are still made for the whole stream).
    """
    cap = limits.get("MAX_NESTING")
    resolver = yaml.resolver.Resolver()
    implicit = resolver.yaml_implicit_resolvers
    wildcard = implicit.get(None, [])
    constructor = yaml.constructor.SafeConstructor()
    constructors = constructor.yaml_constructors
    bool_values = constructor.bool_values
    scalar_node = yaml.ScalarNode
    scalar_event, alias_event = yaml.ScalarEvent, yaml.AliasEvent
    mapping_start, sequence_start = yaml.MappingStartEvent, yaml.SequenceStartEvent
    mapping_end, sequence_end = yaml.MappingEndEvent, yaml.SequenceEndEvent
    docs: list[Any] = []
    stack: list[Any] = []
    current: Any = None  # the open mapping or sequence
    is_map = have_key = False
    key: Any = None
    fast = True
    for event in yaml.parse(text, Loader=loader):
        kind = type(event)
        if kind is scalar_event:
            if not fast:
                continue
            tag, value = event.tag, event.value
            if tag is None or tag == "!":
                tag = _STR
                if event.implicit[0]:
                    for candidate, pattern in implicit.get(value[0] if value else "", []) + wildcard:
                        if pattern.match(value):
                            tag = candidate
                            break
            if tag == _STR:
                item: Any = value
            elif tag == _NULL:
                item = None
            elif tag == _BOOL:
                item = bool_values[value.lower()]
            elif tag in _FAST_TAGS:
                item = constructors[tag](constructor, scalar_node(tag, value))
            else:  # merge keys, explicit tags: PyYAML's business
                fast = False
                continue
        elif kind is mapping_start or kind is sequence_start:
            if len(stack) >= cap:
                line = event.start_mark.line + 1 if event.start_mark else 0
                raise limit_error(error)(
                    f"{origin} line {line}: lists and mappings nest more than "
                    f"{limits.describe('MAX_NESTING')} levels deep "
                    f"({limits.how_to_raise('MAX_NESTING')})"
                )
            if event.tag is not None and event.tag != "!" or (is_map and not have_key):
                fast = False  # an explicit tag (!!set, !!omap) or a mapping/sequence as a key
            stack.append((current, is_map, key, have_key))
            current, is_map, have_key = ({} if kind is mapping_start else []), kind is mapping_start, False
            continue
        elif kind is mapping_end or kind is sequence_end:
            item = current
            current, is_map, key, have_key = stack.pop()
        elif kind is alias_event:
            line = event.start_mark.line + 1 if event.start_mark else 0
            raise error(
                f"{origin} line {line}: YAML aliases (*{str(event.anchor)[:40]}) are not accepted; "
                "write the value out (kubectl never writes aliases)"
            )
        else:  # stream and document start/end
            continue
        if not fast:
            continue
        if not stack and current is None:
            docs.append(item)
        elif is_map:
            if have_key:
                current[key] = item
                have_key = False
            else:
                key, have_key = item, True
        else:
            current.append(item)
    return docs, fast


def _one_line(e: BaseException) -> str:
    text = " ".join(str(e).split())
    return text if len(text) <= 200 else text[:197] + "..."
