"""String keys (URIs, header values, ``hash $key`` values) as compiled code reads them.

Schedulers that hash a string (nginx ``hash``, HAProxy ``uri`` / ``hdr``, Envoy's
hash policies) hash its bytes exactly as the real program does. Python turns a
batch of strings into one byte buffer and offsets, once; a compiled kernel of
the scheduler's own then hashes every string into the int64 key its
``schedule`` kernel receives::

    data, offsets = encode(["/img/cat.png", "/"])
    # data    = b"/img/cat.png/" as uint8
    # offsets = [0, 12, 13]: string i is data[offsets[i]:offsets[i + 1]]

Strings are encoded as UTF-8, which is what goes on the wire for ASCII and
for percent-encoded URIs; ``bytes`` are taken as they are.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .errors import InvalidArgument, InvalidArgumentType

#: A batch of string keys may hold at most this many bytes in all (raise it for larger traces).
MAX_STRING_BYTES = 1 << 30


def encode(values: Sequence[Any] | str | bytes, what: str = "keys") -> tuple[np.ndarray, np.ndarray]:
    """Return ``(data uint8[total], offsets int64[n + 1])`` for a string, a bytes value or a sequence.

    The sequence holds strings or bytes values.
    """
    if isinstance(values, (str, bytes, bytearray)):
        values = [values]
    if isinstance(values, np.ndarray) and values.dtype.kind not in "OUS":
        raise InvalidArgumentType(f"{what} must be strings, got an array of dtype {values.dtype}")
    parts = []
    for i, v in enumerate(values):
        if isinstance(v, str):
            parts.append(v.encode("utf-8", "surrogateescape"))
        elif isinstance(v, (bytes, bytearray, np.bytes_)):
            parts.append(bytes(v))
        elif isinstance(v, np.str_):
            parts.append(str(v).encode("utf-8", "surrogateescape"))
        else:
            raise InvalidArgumentType(f"{what}[{i}] must be a str or bytes, got {type(v).__name__}")
    lengths = np.fromiter((len(p) for p in parts), dtype=np.int64, count=len(parts))
    offsets = np.zeros(len(parts) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    if offsets[-1] > MAX_STRING_BYTES:
        raise InvalidArgument(f"{what} hold {int(offsets[-1])} bytes, "
                              f"more than lbalgo.strings.MAX_STRING_BYTES "
                              f"({MAX_STRING_BYTES}); raise it to hash larger batches")
    data = np.frombuffer(b"".join(parts), dtype=np.uint8).copy() if parts else np.zeros(0, dtype=np.uint8)
    return data, offsets


def is_string_batch(values: Any) -> bool:
    """Whether ``values`` is a string, bytes, or a non-empty sequence whose first item is one."""
    if isinstance(values, (str, bytes, bytearray)):
        return True
    if isinstance(values, np.ndarray):
        return values.dtype.kind in "OUS" and values.size > 0 and isinstance(values.flat[0], (str, bytes))
    if isinstance(values, (list, tuple)) and values:
        return isinstance(values[0], (str, bytes, bytearray))
    return False
