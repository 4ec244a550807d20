"""strongSwan VICI wire format (orchestrator.protocols.vici).

The first vector is the example of strongSwan's src/libcharon/plugins/vici/README.md
("Message encoding"), written out octet by octet from the element layout it describes.
"""
import struct

import pytest

from orchestrator.protocols import vici
from orchestrator.protocols.errors import ProtocolError


def kv(key: bytes, value: bytes) -> bytes:
    return bytes([3, len(key)]) + key + struct.pack("!H", len(value)) + value


README_EXAMPLE = (kv(b"key1", b"value1")
                  + bytes([1, 8]) + b"section1"
                  + bytes([1, 11]) + b"sub-section"
                  + kv(b"key2", b"value2")
                  + bytes([2])
                  + bytes([4, 5]) + b"list1"
                  + bytes([5]) + struct.pack("!H", 5) + b"item1"
                  + bytes([5]) + struct.pack("!H", 5) + b"item2"
                  + bytes([6])
                  + bytes([2]))
README_DICT = {"key1": "value1",
               "section1": {"sub-section": {"key2": "value2"}, "list1": ["item1", "item2"]}}


def test_readme_example_encodes_octet_for_octet():
    assert vici.encode_message(README_DICT) == README_EXAMPLE


def test_readme_example_decodes():
    assert vici.text(vici.decode_message(README_EXAMPLE)) == README_DICT
    assert vici.decode_message(README_EXAMPLE)["key1"] == b"value1"     # values are bytes


def test_packets_with_and_without_names():
    assert vici.encode_packet(vici.CMD_REQUEST, "version") == b"\x00\x00\x00\x09\x00\x07version"
    assert vici.encode_packet(vici.EVENT_CONFIRM) == b"\x00\x00\x00\x01\x05"
    body = vici.encode_packet(vici.EVENT, "child-updown", {"up": "yes"})[4:]
    assert vici.decode_packet(body) == (vici.EVENT, "child-updown", {"up": b"yes"})
    assert vici.decode_packet(b"\x01" + kv(b"success", b"yes")) == (
        vici.CMD_RESPONSE, None, {"success": b"yes"})


def test_binary_values_bools_and_ints():
    key = bytes(range(32))
    msg = {"id": "mn-ar-1", "type": "IKE", "data": key, "owners": ["a.sta.mpa"], "n": 7,
           "flag": True}
    back = vici.decode_message(vici.encode_message(msg))
    assert back["data"] == key and back["n"] == b"7" and back["flag"] == b"yes"
    assert back["owners"] == [b"a.sta.mpa"]


@pytest.mark.parametrize("data,reason", [
    (b"\x03\x04key1\x00", "runs past the end"),
    (b"\x09", "unknown VICI element type 9"),
    (b"\x05\x00\x01a", "LIST_ITEM outside a list"),
    (b"\x06", "LIST_END outside a list"),
    (b"\x02", "SECTION_END without a section"),
    (b"\x01\x01s", "ends inside a section or list"),
    (b"\x04\x01l\x03\x01k\x00\x00", "inside a list"),
])
def test_malformed_messages(data, reason):
    with pytest.raises(ProtocolError, match=reason):
        vici.decode_message(data)


def test_malformed_packets_and_names():
    with pytest.raises(ProtocolError, match="empty"):
        vici.decode_packet(b"")
    with pytest.raises(ProtocolError, match="unknown VICI packet type 8"):
        vici.decode_packet(b"\x08")
    with pytest.raises(ProtocolError, match="needs a name"):
        vici.encode_packet(vici.CMD_REQUEST)
    with pytest.raises(ProtocolError, match="1..255"):
        vici.encode_message({"x" * 256: "v"})
