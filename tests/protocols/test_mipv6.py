"""Mobile IPv6 codec (RFC 6275 s6) and return routability (s5.2.5): vectors, and every
message cross-checked byte for byte against scapy's independent implementation
(scapy.layers.inet6: MIP6MH_*, MIP6Opt*, HAO, IPv6ExtHdrRouting)."""
from __future__ import annotations

import hashlib
import hmac
from ipaddress import IPv6Address

import pytest
from scapy.all import raw
from scapy.layers.inet import UDP
from scapy.layers.inet6 import (HAO, IPv6, IPv6ExtHdrDestOpt, IPv6ExtHdrRouting, MIP6MH_BA,
                                MIP6MH_BE, MIP6MH_BRR, MIP6MH_BU, MIP6MH_CoT, MIP6MH_CoTI,
                                MIP6MH_HoT, MIP6MH_HoTI, MIP6OptAltCoA,
                                MIP6OptBindingAuthData, MIP6OptBRAdvice, MIP6OptNonceIndices)

from orchestrator.protocols import ipv6, mipv6
from orchestrator.protocols.errors import ProtocolError
from orchestrator.protocols.mipv6 import (AlternateCareOfAddress, BaStatus, BindingAck,
                                          BindingAuthorizationData, BindingError,
                                          BindingRefreshAdvice, BindingRefreshRequest,
                                          BindingUpdate, CareOfTest, CareOfTestInit,
                                          HomeTest, HomeTestInit, NonceIndices)

HOA = "2001:db8:1::100"
COA = "2001:db8:2::100"
HA = "2001:db8:1::1"
CN = "2001:db8:3::1"
COOKIE = bytes.fromhex("a1a2a3a4a5a6a7a8")
TOKEN = bytes.fromhex("b1b2b3b4b5b6b7b8")

# ---- return routability vectors (s5.2.5, s6.2.7) ----------------------------------------
# Inputs chosen here; outputs computed with OpenSSL 3.0, independently of Python:
#   h() { echo -n "$2" | xxd -r -p | openssl dgst -sha1 -mac HMAC -macopt hexkey:$1; }
#   home token  = first 16 hex of h KCN  HOA|HOME_NONCE|00
#   care token  = first 16 hex of h KCN  COA|CARE_NONCE|01
#   Kbm         = echo -n HT|CT | xxd -r -p | openssl dgst -sha1   (dereg: HT alone)
#   Authenticator = first 24 hex of h KBM  COA|CN|MH_DATA
KCN = bytes(range(20))
HOME_NONCE = bytes.fromhex("0102030405060708")
CARE_NONCE = bytes.fromhex("1112131415161718")
HOME_TOKEN = bytes.fromhex("37ef3c8eb202a6f2")
CARE_TOKEN = bytes.fromhex("679d55df5ccf62c2")
KBM = bytes.fromhex("3ead17bc8a6576c9dbce5c84dcffb363810e4774")
KBM_DEREG = bytes.fromhex("6c3b94a5418044de64b5849ee76347b0578e11c6")
# BU: Sequence 8, A, Lifetime 100 units, Nonce Indices (3, 4), BAD type/len: Checksum zero
MH_DATA = bytes.fromhex("3b0305000000000880000064040400030004050c")
AUTHENTICATOR = bytes.fromhex("8e51634472be491069c35afe")


def test_keygen_tokens_and_kbm_vectors():
    assert mipv6.home_keygen_token(KCN, HOA, HOME_NONCE) == HOME_TOKEN
    assert mipv6.care_of_keygen_token(KCN, COA, CARE_NONCE) == CARE_TOKEN
    assert mipv6.binding_management_key(HOME_TOKEN, CARE_TOKEN) == KBM
    assert mipv6.binding_management_key(HOME_TOKEN) == KBM_DEREG  # deregistration, s5.2.5
    # the same definitions written out with hmac/hashlib
    own = hmac.new(KCN, IPv6Address(HOA).packed + HOME_NONCE + b"\0", hashlib.sha1)
    assert own.digest()[:8] == HOME_TOKEN
    assert hashlib.sha1(HOME_TOKEN + CARE_TOKEN).digest() == KBM


def test_home_and_care_of_tokens_differ_by_the_final_octet():
    # the same address and nonce give different tokens for home and care-of (s5.2.5)
    assert mipv6.home_keygen_token(KCN, HOA, HOME_NONCE) != \
        mipv6.care_of_keygen_token(KCN, HOA, HOME_NONCE)


def test_binding_update_authenticator_vector():
    bu = mipv6.authorize(BindingUpdate(8, 100, ack=True, options=(NonceIndices(3, 4),)),
                         KBM, COA, CN)
    assert bu.option(BindingAuthorizationData).authenticator == AUTHENTICATOR
    assert mipv6.authenticator(KBM, COA, CN, MH_DATA) == AUTHENTICATOR
    mh = mipv6.encode(bu, HOA, CN)
    assert mh[:4] + b"\0\0" + mh[6:-12] == MH_DATA and mh[-12:] == AUTHENTICATOR
    assert mipv6.verify_authorization(mh, KBM, COA, CN)
    # a different care-of address, correspondent, key or one changed octet fails
    assert not mipv6.verify_authorization(mh, KBM, HOA, CN)
    assert not mipv6.verify_authorization(mh, KBM, COA, HA)
    assert not mipv6.verify_authorization(mh, KBM_DEREG, COA, CN)
    tampered = bytearray(mh)
    tampered[11] ^= 1                                   # Lifetime
    assert not mipv6.verify_authorization(bytes(tampered), KBM, COA, CN)
    # the Checksum is not covered (s6.2.7: computed as if it were zero)
    assert mipv6.verify_authorization(mh[:4] + b"\x12\x34" + mh[6:], KBM, COA, CN)


def test_verify_authorization_needs_the_option():
    with pytest.raises(ProtocolError, match="no Binding Authorization Data"):
        mipv6.verify_authorization(mipv6.encode(BindingUpdate(1, 1), HOA, CN), KBM, COA, CN)
    with pytest.raises(ProtocolError):
        mipv6.home_keygen_token(KCN[:16], HOA, HOME_NONCE)


# ---- every message against scapy --------------------------------------------------------

SCAPY_CASES = [
    (BindingRefreshRequest(), MIP6MH_BRR()),
    (HomeTestInit(COOKIE), MIP6MH_HoTI(cookie=COOKIE)),
    (CareOfTestInit(COOKIE), MIP6MH_CoTI(cookie=COOKIE)),
    (HomeTest(0x1234, COOKIE, TOKEN), MIP6MH_HoT(index=0x1234, cookie=COOKIE, token=TOKEN)),
    (CareOfTest(7, COOKIE, TOKEN), MIP6MH_CoT(index=7, cookie=COOKIE, token=TOKEN)),
    (BindingUpdate(0xFFFF, 0, ack=True, home_registration=True, link_local=True,
                   key_management=True),
     MIP6MH_BU(seq=0xFFFF, flags="AHLK", mhtime=0)),
    (BindingUpdate(9, 105, ack=True, options=(NonceIndices(3, 4),
                                              BindingAuthorizationData(AUTHENTICATOR))),
     MIP6MH_BU(seq=9, flags="A", mhtime=105, options=[
         MIP6OptNonceIndices(olen=4, hni=3, coni=4),
         MIP6OptBindingAuthData(olen=12, authenticator=int.from_bytes(AUTHENTICATOR, "big"))])),
    (BindingUpdate(10, 300, ack=True, home_registration=True,
                   options=(AlternateCareOfAddress(COA),)),
     MIP6MH_BU(seq=10, flags="AH", mhtime=300, options=[MIP6OptAltCoA(acoa=COA)])),
    (BindingAck(0, 9, 105, options=(BindingRefreshAdvice(100),
                                    BindingAuthorizationData(AUTHENTICATOR))),
     MIP6MH_BA(status=0, flags=0, seq=9, mhtime=105, options=[
         MIP6OptBRAdvice(rinter=100),
         MIP6OptBindingAuthData(olen=12, authenticator=int.from_bytes(AUTHENTICATOR, "big"))])),
    (BindingAck(BaStatus.SEQUENCE_NUMBER_OUT_OF_WINDOW, 8, 0, key_management=True),
     MIP6MH_BA(status=135, flags="K", seq=8, mhtime=0)),
    (BindingError(1, HOA), MIP6MH_BE(status=1, ha=HOA)),
]


@pytest.mark.parametrize("ours, theirs", SCAPY_CASES,
                         ids=[type(o).__name__ for o, _ in SCAPY_CASES])
def test_plain_messages_match_scapy(ours, theirs):
    expected = raw(IPv6(src=CN, dst=HOA) / theirs)
    got = ipv6.encode(ipv6.Ipv6Packet(CN, HOA, ipv6.NH_MH, mipv6.encode(ours, CN, HOA)))
    assert got == expected
    assert mipv6.decode(got[40:], CN, HOA) == ours
    parsed = mipv6.parse_mobility_packet(expected)
    assert parsed.message == ours and parsed.home_address is None


@pytest.mark.parametrize("ours, theirs", SCAPY_CASES,
                         ids=[type(o).__name__ for o, _ in SCAPY_CASES])
def test_messages_with_home_address_option_match_scapy(ours, theirs):
    # MN -> CN/HA from the care-of address: the checksum's source is the home address
    expected = raw(IPv6(src=COA, dst=CN) / IPv6ExtHdrDestOpt(options=[HAO(hoa=HOA)]) / theirs)
    assert mipv6.mobility_packet(COA, CN, ours, home_address=HOA) == expected
    parsed = mipv6.parse_mobility_packet(expected)
    assert (parsed.src, parsed.home_address, parsed.upper_src) == \
        (IPv6Address(COA), IPv6Address(HOA), IPv6Address(HOA))
    assert parsed.message == ours


@pytest.mark.parametrize("ours, theirs", SCAPY_CASES,
                         ids=[type(o).__name__ for o, _ in SCAPY_CASES])
def test_messages_with_type2_routing_header_match_scapy(ours, theirs):
    # HA/CN -> MN at its care-of address: the checksum's destination is the home address
    expected = raw(IPv6(src=HA, dst=COA)
                   / IPv6ExtHdrRouting(type=2, segleft=1, addresses=[HOA]) / theirs)
    assert mipv6.mobility_packet(HA, COA, ours, routed_home_address=HOA) == expected
    parsed = mipv6.parse_mobility_packet(expected)
    assert parsed.routed_home_address == IPv6Address(HOA)
    assert parsed.upper_dst == IPv6Address(HOA) and parsed.message == ours


def test_option_alignment_matches_the_rfc():
    # BU + Nonce Indices (2n at 12) + BAD (8n+2 at 18): no padding, 32 octets (s6.2.7)
    mh = mipv6.encode(BindingUpdate(1, 1, options=(NonceIndices(1, 2),
                                                   BindingAuthorizationData())), HOA, CN)
    assert len(mh) == 32 and mh[12] == 4 and mh[18] == 5 and mh[1] == 3
    # BA + BAD alone: PadN of 6 octets first (at 12), the option at 18
    mh = mipv6.encode(BindingAck(0, 1, 1, options=(BindingAuthorizationData(),)), HA, HOA)
    assert mh[12:18] == bytes([1, 4, 0, 0, 0, 0]) and mh[18] == 5 and len(mh) == 32
    # Alternate CoA at 8n+6: BU fixed part ends at 12, so PadN(2) then the option at 14
    mh = mipv6.encode(BindingUpdate(1, 1, options=(AlternateCareOfAddress(COA),)), HOA, HA)
    assert mh[12:14] == bytes([1, 0]) and mh[14] == 3 and len(mh) % 8 == 0
    with pytest.raises(ProtocolError, match="last"):
        mipv6.encode(BindingUpdate(1, 1, options=(BindingAuthorizationData(),
                                                  NonceIndices(1, 2))), HOA, CN)


def test_home_address_option_and_routing_header_layouts():
    hao = mipv6.home_address_option(HOA)
    assert hao.data == bytes([0, 2, 1, 2, 0, 0, 201, 16]) + IPv6Address(HOA).packed
    assert mipv6.find_home_address(hao) == IPv6Address(HOA)
    rh2 = mipv6.type2_routing_header(HOA)
    assert rh2.data == bytes([0, 2, 2, 1, 0, 0, 0, 0]) + IPv6Address(HOA).packed
    assert mipv6.parse_type2_routing_header(rh2) == (IPv6Address(HOA), 1)
    with pytest.raises(ProtocolError, match="Segments Left 2"):
        mipv6.parse_type2_routing_header(ipv6.ExtensionHeader(43, rh2.data[:3] + b"\2"
                                                              + rh2.data[4:]))


@pytest.mark.parametrize("mh, reason", [
    (bytes(7), "shorter than 8"),
    (bytes.fromhex("3b02010000000000"), "exceeds the 8 octets"),
    (bytes.fromhex("3a01010000000000" "0000000000000000"), "Payload Proto 58"),
    (bytes.fromhex("3b00030000000000"), "HomeTest needs 24 octets"),
    (bytes.fromhex("3b01060000000000" "0000000005090000"), "runs past"),
    (bytes.fromhex("3b03050000000000" "0000000005" "0c" + "00" * 12 + "040400010002"),
     "not the last"),
    (bytes.fromhex("3b01000000000000" "0000020300000000"), "Refresh Advice of length 3"),
])
def test_malformed_mobility_headers_are_rejected(mh, reason):
    with pytest.raises(ProtocolError, match=reason):
        mipv6.decode(mh)


def test_checksum_is_verified_and_unknown_types_are_reported():
    mh = bytearray(mipv6.encode(HomeTestInit(COOKIE), HOA, CN))
    assert mipv6.decode(bytes(mh), HOA, CN) == HomeTestInit(COOKIE)
    with pytest.raises(ProtocolError, match="checksum"):
        mipv6.decode(bytes(mh), COA, CN)                 # wrong pseudo-header
    mh[2] = 42                                           # unknown MH Type: s9.2 answers BE 2
    msg = mipv6.decode(bytes(mh))
    assert isinstance(msg, mipv6.UnknownMessage) and msg.mh_type == 42
    # unknown options are skipped (s6.2.1), Pad1 and PadN vanish
    mh = bytes.fromhex("3b0200000000" "0000" "00" "0102cafe" "ff03010203" "010400000000")
    mh = mh[:4] + ipv6.upper_layer_checksum(HOA, CN, 135, mh).to_bytes(2, "big") + mh[6:]
    brr = mipv6.decode(mh, HOA, CN)
    assert brr == BindingRefreshRequest(options=(mipv6.UnknownOption(255, bytes([1, 2, 3])),))


# ---- the data plane's rewrites (s9.3.1, s9.3.2, s11.3.1, s11.3.3) ------------------------


def test_route_optimized_packets_match_scapy_and_round_trip():
    udp = raw(IPv6(src=HOA, dst=CN) / UDP(sport=5000, dport=6000) / b"payload")
    with_hao = mipv6.add_home_address_option(udp, COA)
    expected = raw(IPv6(src=COA, dst=CN) / IPv6ExtHdrDestOpt(options=[HAO(hoa=HOA)])
                   / UDP(sport=5000, dport=6000) / b"payload")
    assert with_hao == expected                   # scapy's UDP checksum uses the HoA too
    back, home, coa = mipv6.apply_home_address_option(with_hao)
    assert (back, home, coa) == (udp, IPv6Address(HOA), IPv6Address(COA))

    reply = raw(IPv6(src=CN, dst=HOA) / UDP(sport=6000, dport=5000) / b"reply")
    with_rh2 = mipv6.add_type2_routing_header(reply, COA)
    expected = raw(IPv6(src=CN, dst=COA) / IPv6ExtHdrRouting(type=2, segleft=1,
                                                             addresses=[HOA])
                   / UDP(sport=6000, dport=5000) / b"reply")
    assert with_rh2 == expected
    back, home, coa = mipv6.apply_type2_routing_header(with_rh2)
    assert (back, home, coa) == (reply, IPv6Address(HOA), IPv6Address(COA))


def test_rewrites_refuse_packets_without_the_header():
    udp = raw(IPv6(src=HOA, dst=CN) / UDP() / b"x")
    with pytest.raises(ProtocolError, match="no Home Address option"):
        mipv6.apply_home_address_option(udp)
    with pytest.raises(ProtocolError, match="no type 2 routing header"):
        mipv6.apply_type2_routing_header(udp)
    with pytest.raises(ProtocolError, match="already"):
        mipv6.add_home_address_option(mipv6.add_home_address_option(udp, COA), COA)


def test_other_destination_options_survive_the_home_address_swap():
    dst = ipv6.ExtensionHeader(60, ipv6.options_header([(0x1E, b"\x01\x02", (1, 0)),
                                                        (201, IPv6Address(HOA).packed,
                                                         (8, 6))]))
    nh, payload = ipv6.join([dst], ipv6.NH_NONE, b"")
    pkt = ipv6.encode(ipv6.Ipv6Packet(COA, CN, nh, payload))
    out, home, _ = mipv6.apply_home_address_option(pkt)
    chain = ipv6.split(ipv6.decode(out))
    assert home == IPv6Address(HOA) and ipv6.decode(out).src == IPv6Address(HOA)
    assert [(k, d) for k, d, _ in ipv6.parse_options(chain.headers[0])] == [(0x1E, b"\1\2")]
