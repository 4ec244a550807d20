"""strongSwan's VICI protocol (Versatile IKE Control Interface): the wire format (pure).

The agents drive charon over VICI (load the MN-AR key as an IKEv2 pre-shared key, load and
initiate the proactive handover tunnel, listen for CHILD_SA up/down; RFC 6252 s7.3.2, s7.4)
without the `vici` Python package, so that the agent stays standard-library only. The format
is strongSwan's `src/libcharon/plugins/vici/README.md`:

A *packet* on the stream is a 32-bit big-endian length, then that many octets: one octet of
packet type, for the named types one octet of name length and the name, then a *message*::

    CMD_REQUEST 0 (named)   CMD_RESPONSE 1   CMD_UNKNOWN 2
    EVENT_REGISTER 3 (named)   EVENT_UNREGISTER 4 (named)   EVENT_CONFIRM 5
    EVENT_UNKNOWN 6   EVENT 7 (named)

A message is a sequence of elements::

    SECTION_START 1  name(1-octet length)       SECTION_END 2
    KEY_VALUE 3      name(1) value(2-octet length)
    LIST_START 4     name(1)   LIST_ITEM 5 value(2)   LIST_END 6

Here a message is a dict: str -> bytes/str/int (key-value), list (list of values) or dict
(section). Values are decoded as bytes; `text` turns a decoded message into str values.
Malformed input raises `ProtocolError`.
"""
from __future__ import annotations

import struct
from typing import Any

from .errors import ProtocolError

__all__ = ["CMD_REQUEST", "CMD_RESPONSE", "CMD_UNKNOWN", "EVENT_REGISTER", "EVENT_UNREGISTER",
           "EVENT_CONFIRM", "EVENT_UNKNOWN", "EVENT", "encode_message", "decode_message",
           "encode_packet", "decode_packet", "text", "ProtocolError"]

CMD_REQUEST, CMD_RESPONSE, CMD_UNKNOWN = 0, 1, 2
EVENT_REGISTER, EVENT_UNREGISTER, EVENT_CONFIRM, EVENT_UNKNOWN, EVENT = 3, 4, 5, 6, 7
NAMED = {CMD_REQUEST, EVENT_REGISTER, EVENT_UNREGISTER, EVENT}
SECTION_START, SECTION_END, KEY_VALUE, LIST_START, LIST_ITEM, LIST_END = 1, 2, 3, 4, 5, 6
MAX_PACKET = 512 * 1024            # charon's own limit (VICI_MESSAGE_SIZE_MAX)


def _name(name: str) -> bytes:
    raw = name.encode()
    if not 0 < len(raw) < 256:
        raise ProtocolError(f"VICI name {name!r} must be 1..255 octets")
    return bytes([len(raw)]) + raw


def _value(value: Any) -> bytes:
    if isinstance(value, bool):
        raw = b"yes" if value else b"no"
    elif isinstance(value, (bytes, bytearray)):
        raw = bytes(value)
    else:
        raw = str(value).encode()
    if len(raw) > 0xFFFF:
        raise ProtocolError(f"VICI value of {len(raw)} octets is too long")
    return struct.pack("!H", len(raw)) + raw


def encode_message(msg: dict) -> bytes:
    """A dict (sections as dicts, lists as lists) as VICI message elements."""
    out = bytearray()
    for key, value in msg.items():
        if isinstance(value, dict):
            out += bytes([SECTION_START]) + _name(key) + encode_message(value)
            out.append(SECTION_END)
        elif isinstance(value, (list, tuple)):
            out += bytes([LIST_START]) + _name(key)
            for item in value:
                out += bytes([LIST_ITEM]) + _value(item)
            out.append(LIST_END)
        else:
            out += bytes([KEY_VALUE]) + _name(key) + _value(value)
    return bytes(out)


class _Reader:
    def __init__(self, data: bytes):
        self.data, self.pos = bytes(data), 0

    def take(self, n: int, what: str) -> bytes:
        if self.pos + n > len(self.data):
            raise ProtocolError(f"VICI {what} runs past the end ({len(self.data)} octets)")
        raw = self.data[self.pos:self.pos + n]
        self.pos += n
        return raw

    def name(self) -> str:
        n = self.take(1, "name length")[0]
        return self.take(n, "name").decode(errors="replace")

    def value(self) -> bytes:
        (n,) = struct.unpack("!H", self.take(2, "value length"))
        return self.take(n, "value")


def decode_message(data: bytes) -> dict:
    """VICI message elements as a dict of bytes values, lists and sections."""
    r = _Reader(data)
    root: dict = {}
    stack = [root]
    current_list: list | None = None
    while r.pos < len(r.data):
        kind = r.take(1, "element type")[0]
        if current_list is not None and kind not in (LIST_ITEM, LIST_END):
            raise ProtocolError(f"VICI element {kind} inside a list")
        if kind == SECTION_START:
            section: dict = {}
            stack[-1][r.name()] = section
            stack.append(section)
        elif kind == SECTION_END:
            if len(stack) == 1:
                raise ProtocolError("VICI SECTION_END without a section")
            stack.pop()
        elif kind == KEY_VALUE:
            key = r.name()
            stack[-1][key] = r.value()
        elif kind == LIST_START:
            current_list = []
            stack[-1][r.name()] = current_list
        elif kind == LIST_ITEM:
            if current_list is None:
                raise ProtocolError("VICI LIST_ITEM outside a list")
            current_list.append(r.value())
        elif kind == LIST_END:
            if current_list is None:
                raise ProtocolError("VICI LIST_END outside a list")
            current_list = None
        else:
            raise ProtocolError(f"unknown VICI element type {kind}")
    if len(stack) != 1 or current_list is not None:
        raise ProtocolError("VICI message ends inside a section or list")
    return root


def encode_packet(ptype: int, name: str | None = None, msg: dict | None = None) -> bytes:
    """One packet with its 32-bit length prefix."""
    body = bytes([ptype])
    if ptype in NAMED:
        if not name:
            raise ProtocolError(f"VICI packet type {ptype} needs a name")
        body += _name(name)
    body += encode_message(msg or {})
    return struct.pack("!I", len(body)) + body


def decode_packet(body: bytes) -> tuple[int, str | None, dict]:
    """(type, name or None, message) of one packet body (without the length prefix)."""
    if not body:
        raise ProtocolError("empty VICI packet")
    ptype = body[0]
    if ptype > EVENT:
        raise ProtocolError(f"unknown VICI packet type {ptype}")
    r = _Reader(body[1:])
    name = r.name() if ptype in NAMED else None
    return ptype, name, decode_message(body[1 + r.pos:])


def text(msg: Any) -> Any:
    """A decoded message with every bytes value as str (lists and sections recursively)."""
    if isinstance(msg, dict):
        return {k: text(v) for k, v in msg.items()}
    if isinstance(msg, list):
        return [text(v) for v in msg]
    if isinstance(msg, (bytes, bytearray)):
        return bytes(msg).decode(errors="replace")
    return msg
