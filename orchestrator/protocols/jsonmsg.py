"""JSON bodies from the wire (management frames, discovery queries, control requests), read
under the codecs' contract: any bytes in -> a value or `ProtocolError`, in bounded time and
memory.

`json.loads` alone raises `RecursionError` on deep nesting ("[[[[..." in a 64 KiB datagram),
`UnicodeDecodeError` on non-UTF-8 and accepts NaN/Infinity; here each of those is a
`ProtocolError`, and so is nesting deeper than `max_depth` or input longer than `max_length`.
"""
from __future__ import annotations

import json

from .errors import ProtocolError

MAX_LENGTH = 65535       # one UDP datagram / one Ethernet frame at most
MAX_DEPTH = 16


def _no_constant(name: str):
    raise ProtocolError(f"JSON constant {name} is not allowed")


def loads(data: bytes | str, what: str, *, max_depth: int = MAX_DEPTH,
          max_length: int = MAX_LENGTH) -> object:
    """Decode one JSON document; ProtocolError names `what` and the problem."""
    if len(data) > max_length:
        raise ProtocolError(f"{what} of {len(data)} octets is longer than {max_length}")
    if isinstance(data, (bytes, bytearray, memoryview)):
        try:
            data = bytes(data).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ProtocolError(f"{what} is not UTF-8 (octet {exc.start})") from None
    try:
        value = json.loads(data, parse_constant=_no_constant)
    except RecursionError:
        raise ProtocolError(f"{what} nests deeper than {max_depth} levels") from None
    except ValueError as exc:            # JSONDecodeError is a ValueError
        raise ProtocolError(f"{what} is not JSON: {exc}") from None
    if depth(value) > max_depth:
        raise ProtocolError(f"{what} nests deeper than {max_depth} levels")
    return value


def depth(value: object) -> int:
    """Nesting depth of decoded JSON (a scalar is 0), without recursion."""
    deepest, todo = 0, [(value, 0)]
    while todo:
        v, d = todo.pop()
        if isinstance(v, dict):
            v = v.values()
        elif not isinstance(v, list):
            deepest = max(deepest, d)
            continue
        deepest = max(deepest, d + 1)
        todo.extend((x, d + 1) for x in v)
    return deepest
