"""A faster :func:`lbalgo.strings.encode` for batches of ``str`` keys (URIs, header values).

For a list of ``str`` that is all ASCII, one ``"".join`` gives the bytes and
``len`` of each string gives its byte length: about 20 ns per key instead of
about 100 ns for encoding each string on its own. Anything else (non-ASCII
text, ``bytes``, a wrong type) goes through :func:`lbalgo.strings.encode`,
which encodes as UTF-8 and names a bad item.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import strings


def encode(values: Any) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(data uint8, offsets int64)`` exactly as :func:`lbalgo.strings.encode` returns them."""
    if isinstance(values, np.ndarray) and values.dtype.kind == "U":
        values = values.tolist()
    if isinstance(values, list) and values:
        try:
            joined = "".join(values)
        except TypeError:
            return strings.encode(values)
        if joined.isascii():
            lengths = np.fromiter(map(len, values), dtype=np.int64, count=len(values))
            offsets = np.empty(len(values) + 1, dtype=np.int64)
            offsets[0] = 0
            np.cumsum(lengths, out=offsets[1:])
            if offsets[-1] > strings.MAX_STRING_BYTES:
                return strings.encode(values)  # raises, naming the limit
            return np.frombuffer(joined.encode("ascii"), dtype=np.uint8), offsets
    return strings.encode(values)
