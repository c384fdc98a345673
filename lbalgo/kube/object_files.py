"""Reading Kubernetes object files (``kubectl get ... -o json|yaml``) safely, as ``(position, object)``.

The one reader behind :func:`~lbalgo.kube.load_endpointslices` and
:func:`~lbalgo.kube.load_endpoints`. ``List`` kinds and JSON arrays are flattened and
multi-document YAML is read in order; sizes, nesting and encodings are checked
(:mod:`lbalgo._readers`, :mod:`lbalgo.limits`), YAML aliases are refused, and YAML is
parsed by libyaml when PyYAML has it. Each object comes with its position
(``slices.json items[3]``) so that the parsers of each kind can name it in messages.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterable

from ..errors import InvalidArgumentType, LbalgoError, short


class KubeObjectError(LbalgoError, ValueError):
    """A Kubernetes object file that cannot be read, is too large, is not UTF-8 or does not parse.

    Each object kind raises its own subclass (:class:`~lbalgo.kube.EndpointSliceError`,
    :class:`~lbalgo.kube.EndpointsError`), which also names the object and the field.
    """


def read_kubernetes_objects(source: Any, *,
                            error: type[Exception] = KubeObjectError) -> list[tuple[str, dict]]:
    """Every object of a Kubernetes object file, text or parsed document, safely: ``(position, object)``.

    The one reader of ``kubectl get ... -o json|yaml`` output (EndpointSlices,
    Endpoints): ``List`` kinds and JSON arrays are flattened, multi-document
    YAML is read in order, and each object's position (``slices.json
    items[3]``) is returned for error messages. Objects of every kind are
    returned; callers pick theirs by ``kind``.

    Parameters
    ----------
    source : str, pathlib.Path, dict or list
        A file path, the JSON/YAML text, or parsed objects.
    error : type
        The exception class to raise: the object kind's own, a subclass of
        :class:`KubeObjectError` (``EndpointSliceError``, ``EndpointsError``).

    Raises
    ------
    error
        One line naming the file (and line) when the file cannot be read, is
        larger than ``lbalgo.limits.MAX_KUBE_FILE_BYTES``, is not UTF-8, does
        not parse, nests deeper than ``lbalgo.limits.MAX_NESTING``, uses YAML
        aliases, or holds something other than objects.
    """
    docs, origin = _documents(source, error)
    return list(_objects(docs, origin, error))


def _documents(source: Any, error: type[Exception] = KubeObjectError) -> tuple[list[Any], str]:
    """Return the parsed documents of ``source`` and how to name it in messages.

    See :func:`read_kubernetes_objects` for what ``source`` may be.
    """
    from .. import _readers, limits

    if isinstance(source, (dict, list)):
        _readers.check_nesting(source, "input", error)
        return [source], "input"
    if isinstance(source, os.PathLike) or (isinstance(source, str) and "\n" not in source
                                           and not source.lstrip().startswith(("{", "["))):
        path = Path(source)
        data = _readers.read_file(path, "MAX_KUBE_FILE_BYTES", error)
        text = _readers.decode(data, str(path), error)
        return _parse_text(text, str(path), yaml_first=path.suffix.lower() in (".yaml", ".yml"),
                           error=error), str(path)
    if isinstance(source, str):
        limits.check("MAX_KUBE_FILE_BYTES", len(source), "input: the text", error)
        return _parse_text(source, "input", yaml_first=False, error=error), "input"
    raise InvalidArgumentType(f"source must be a path, a JSON/YAML string or parsed objects, "
                              f"got {type(source).__name__}")


def _parse_text(text: str, origin: str, *, yaml_first: bool,
                error: type[Exception] = KubeObjectError) -> list[Any]:
    from .. import _readers

    if not yaml_first and text.lstrip().startswith(("{", "[")):
        return [_readers.parse_json(text, origin, error)]
    if not yaml_first:
        try:  # JSON that is not an object or array (a number, a string): read as such
            return [_readers.parse_json(text, origin, error)]
        except error:
            pass
    return _readers.parse_yaml(text, origin, error)


def _objects(docs: list[Any], origin: str,
             error: type[Exception] = KubeObjectError) -> Iterable[tuple[str, dict]]:
    """Yield ``(position, object)`` for every object, flattening ``List`` kinds."""
    for d, doc in enumerate(docs):
        prefix = f"{origin}" if len(docs) == 1 else f"{origin} document {d}"
        if isinstance(doc, list):
            items, base = doc, f"{prefix} [%d]"
        elif isinstance(doc, dict) and isinstance(doc.get("kind"), str) and doc["kind"].endswith("List"):
            items = doc.get("items") or []
            if not isinstance(items, list):
                raise error(f"{prefix}: {doc['kind'][:60]}.items must be a list, got {type(items).__name__}")
            base = f"{prefix} items[%d]"
        else:
            items, base = [doc], prefix
        for i, obj in enumerate(items):
            where = base % i if "%d" in base else base
            if not isinstance(obj, dict):
                raise error(f"{where}: expected an object, got {type(obj).__name__} {short(obj)}")
            yield where, obj
