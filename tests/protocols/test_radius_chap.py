"""The standard-library RADIUS codec of the cellular gateway (orchestrator/protocols/radius.py),
cross-checked with pyrad (an independent implementation): pyrad verifies our Access-Request's
Message-Authenticator and CHAP-Password, and builds the answers our verifier must accept or
refuse. FreeRADIUS itself answers it in tests/integration/test_cellular_session.py."""
from __future__ import annotations

import io
import random
from ipaddress import IPv4Address

import pyrad.packet
import pytest
from pyrad.dictionary import Dictionary

from orchestrator.protocols import radius
from orchestrator.protocols.errors import ProtocolError
from orchestrator.protocols.ppp import chap_md5_response
from orchestrator.protocols.radius_dict import TEXT

DICT = TEXT + """\
ATTRIBUTE	CHAP-Password		3	octets
ATTRIBUTE	Framed-Protocol		7	integer
ATTRIBUTE	Framed-IP-Address	8	ipaddr
ATTRIBUTE	CHAP-Challenge		60	octets
"""
SECRET = b"cellular-nas-secret"
CHALLENGE = bytes(range(16, 32))


def dictionary() -> Dictionary:
    return Dictionary(io.StringIO(DICT))


def our_request(password: bytes = b"mn1-secret", identifier: int = 42):
    rnd = random.Random(7)
    authenticator = rnd.randbytes(16)
    chap_id = 0x33
    attrs = [(radius.Attr.USER_NAME, b"mn1"),
             *radius.chap_attributes(chap_id, chap_md5_response(chap_id, password, CHALLENGE),
                                     CHALLENGE),
             (radius.Attr.NAS_IDENTIFIER, b"bs"),
             (radius.Attr.NAS_PORT_TYPE, radius.NAS_PORT_TYPE_WIRELESS_CDMA2000.to_bytes(4, "big"))]
    return radius.access_request(identifier, authenticator, attrs, SECRET), authenticator


def test_pyrad_verifies_our_access_request():
    raw, authenticator = our_request()
    pkt = pyrad.packet.AuthPacket(packet=raw, secret=SECRET, dict=dictionary())
    assert pkt.code == pyrad.packet.AccessRequest and pkt.id == 42
    assert pkt.authenticator == authenticator
    assert pkt["User-Name"] == ["mn1"]
    assert pkt.verify_message_authenticator()
    assert pkt.VerifyChapPasswd(b"mn1-secret")            # RFC 2865 s5.3 with CHAP-Challenge
    assert not pkt.VerifyChapPasswd(b"other")
    # the layout of s5.3: CHAP Ident, then the 16-octet Response
    decoded = radius.RadiusPacket.decode(raw)
    assert decoded.get(radius.Attr.CHAP_PASSWORD)[0] == 0x33
    assert decoded.get(radius.Attr.CHAP_CHALLENGE) == CHALLENGE
    tampered = bytearray(raw)
    tampered[-20] ^= 1
    forged = pyrad.packet.AuthPacket(packet=bytes(tampered), secret=SECRET, dict=dictionary())
    assert not forged.verify_message_authenticator()


def pyrad_answer(raw: bytes, code: int, secret: bytes = SECRET, framed: str | None = None,
                 message_authenticator: bool = True) -> bytes:
    req = pyrad.packet.AuthPacket(packet=raw, secret=secret, dict=dictionary())
    reply = req.CreateReply()
    reply.code = code
    if framed:
        reply["Framed-IP-Address"] = framed
    if message_authenticator:
        reply.add_message_authenticator()
    return reply.ReplyPacket()


def test_our_verifier_accepts_pyrad_answers():
    raw, authenticator = our_request()
    accept = radius.verify_answer(pyrad_answer(raw, pyrad.packet.AccessAccept,
                                               framed="10.20.0.77"), 42, authenticator, SECRET)
    assert accept.code == radius.ACCESS_ACCEPT
    assert radius.framed_ip_address(accept) == IPv4Address("10.20.0.77")
    reject = radius.verify_answer(pyrad_answer(raw, pyrad.packet.AccessReject,
                                               message_authenticator=False), 42, authenticator,
                                  SECRET)
    assert reject.code == radius.ACCESS_REJECT and radius.framed_ip_address(reject) is None


def test_our_verifier_refuses_forged_or_foreign_answers():
    raw, authenticator = our_request()
    good = pyrad_answer(raw, pyrad.packet.AccessAccept)
    with pytest.raises(ProtocolError, match="Response Authenticator"):
        radius.verify_answer(pyrad_answer(raw, pyrad.packet.AccessAccept, secret=b"other"),
                             42, authenticator, SECRET)
    with pytest.raises(ProtocolError, match="Identifier"):
        radius.verify_answer(good, 43, authenticator, SECRET)
    with pytest.raises(ProtocolError, match="Response Authenticator"):
        radius.verify_answer(good, 42, bytes(16), SECRET)
    flipped = bytearray(good)
    flipped[-1] ^= 0x80                           # inside the Message-Authenticator
    with pytest.raises(ProtocolError):
        radius.verify_answer(bytes(flipped), 42, authenticator, SECRET)
    with pytest.raises(ProtocolError, match="not an answer"):
        radius.verify_answer(raw, 42, authenticator, SECRET)


@pytest.mark.parametrize("data", [bytes(19), bytes.fromhex("0201000f") + bytes(16),
                                  bytes.fromhex("02010017") + bytes(16) + bytes.fromhex("0101ff"),
                                  bytes.fromhex("02010016") + bytes(16) + bytes.fromhex("0105")])
def test_malformed_packets(data):
    with pytest.raises(ProtocolError):
        radius.RadiusPacket.decode(data)


def test_chap_attribute_limits():
    with pytest.raises(ProtocolError):
        radius.chap_attributes(1, bytes(15), CHALLENGE)
    with pytest.raises(ProtocolError):
        radius.chap_attributes(1, bytes(16), b"")
