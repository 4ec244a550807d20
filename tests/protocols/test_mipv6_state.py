"""Mobile IPv6 state (RFC 6275 s9-s11): binding caches at the HA and the CN, return
routability end to end through the codec, the MN's Binding Update List."""
from __future__ import annotations

import random
from dataclasses import replace
from ipaddress import IPv6Address

import pytest

from orchestrator.protocols import mipv6
from orchestrator.protocols.errors import ProtocolError
from orchestrator.protocols.mipv6 import BaStatus, BindingUpdate, NonceIndices
from orchestrator.protocols.mipv6_state import (BindingUpdateList, CorrespondentBindings,
                                                CorrespondentRR, HomeAgentBindings,
                                                MobileRR, seq_greater)

HOA, HA = IPv6Address("2001:db8:1::100"), IPv6Address("2001:db8:1::1")
COA, COA2 = IPv6Address("2001:db8:2::100"), IPv6Address("2001:db8:4::100")
CN = IPv6Address("2001:db8:3::1")


def test_sequence_comparison_follows_the_rfc_example():
    # s9.5.1: after 15, 0..15 and 32784..65535 are "less than or equal"
    assert not any(seq_greater(s, 15) for s in [*range(0, 16), *range(32784, 65536)])
    assert all(seq_greater(s, 15) for s in range(16, 32784))
    assert seq_greater(0, 65535) and not seq_greater(65535, 0)


# ---- home agent (s10.3) -----------------------------------------------------------------


def ha(**kw) -> HomeAgentBindings:
    return HomeAgentBindings(["2001:db8:1::/64"], **kw)


def test_home_registration_accepted_capped_and_expiring():
    cache = ha(max_lifetime=600, refresh_interval=300)
    assert cache.needs_dad(HOA, 0.0)
    out = cache.binding_update(BindingUpdate(10, 1000, ack=True, home_registration=True),
                               HOA, COA, now=0.0)
    assert out.status == BaStatus.ACCEPTED and out.ack.sequence == 10
    assert out.ack.lifetime == 150 and out.entry.care_of_address == COA   # 600 s cap
    assert out.ack.option(mipv6.BindingRefreshAdvice).refresh_interval == 75
    assert not cache.needs_dad(HOA, 1.0)
    assert cache.lookup(HOA, 599.0).care_of_address == COA
    assert cache.lookup(HOA, 600.0) is None                  # lifetime ran out


def test_home_registration_rejections():
    cache = ha(serves={HOA})
    hbu = lambda seq, life=100: BindingUpdate(seq, life, ack=True, home_registration=True)
    out = cache.binding_update(hbu(1), "2001:db8:9::1", COA, 0.0)
    assert out.status == BaStatus.NOT_HOME_SUBNET and out.ack.lifetime == 0
    out = cache.binding_update(hbu(1), "2001:db8:1::200", COA, 0.0)
    assert out.status == BaStatus.NOT_HOME_AGENT_FOR_THIS_MOBILE_NODE
    out = cache.binding_update(hbu(1), HOA, COA, 0.0, dad_succeeded=False)
    assert out.status == BaStatus.DUPLICATE_ADDRESS_DETECTION_FAILED and out.entry is None
    assert cache.binding_update(hbu(65535), HOA, COA, 0.0).status == BaStatus.ACCEPTED
    out = cache.binding_update(hbu(65535), HOA, COA2, 1.0)   # replay
    assert out.status == BaStatus.SEQUENCE_NUMBER_OUT_OF_WINDOW
    assert out.ack.sequence == 65535                          # the last accepted number
    assert cache.lookup(HOA, 1.0).care_of_address == COA      # unchanged
    out = cache.binding_update(hbu(0), HOA, COA2, 2.0)        # wraps: 0 > 65535
    assert out.status == BaStatus.ACCEPTED and out.entry.care_of_address == COA2
    out = cache.binding_update(BindingUpdate(1, 100, ack=True), HOA, COA, 3.0)
    assert out.status == BaStatus.REGISTRATION_TYPE_CHANGE_DISALLOWED


def test_home_deregistration():
    cache = ha()
    out = cache.binding_update(BindingUpdate(1, 0, ack=True, home_registration=True),
                               HOA, HOA, 0.0)
    assert out.status == BaStatus.NOT_HOME_AGENT_FOR_THIS_MOBILE_NODE     # nothing to delete
    cache.binding_update(BindingUpdate(2, 100, ack=True, home_registration=True), HOA, COA, 0)
    out = cache.binding_update(BindingUpdate(3, 100, ack=True, home_registration=True),
                               HOA, HOA, 1.0)                  # back home: CoA = HoA
    assert out.status == BaStatus.ACCEPTED and out.ack.lifetime == 0 and out.entry is None
    assert cache.lookup(HOA, 1.0) is None


def test_alternate_care_of_address_is_registered():
    cache = ha()
    bu = BindingUpdate(1, 10, ack=True, home_registration=True,
                       options=(mipv6.AlternateCareOfAddress(COA2),))
    assert cache.binding_update(bu, HOA, COA, 0.0).entry.care_of_address == COA2


# ---- return routability and the CN's cache (s5.2, s9.4, s9.5) ----------------------------


class Rr:
    """The MN and a CN running return routability through the real codec."""

    def __init__(self, now=0.0):
        self.cn_rr = CorrespondentRR(bytes(range(20)), rnd=random.Random(1))
        self.cn = CorrespondentBindings(CN, self.cn_rr)
        self.bul = BindingUpdateList(HOA, HA, rnd=random.Random(2))
        self.mn_rr = MobileRR(CN, rnd=random.Random(3))

    def run(self, now, coa=COA):
        hoti = mipv6.decode(mipv6.encode(self.mn_rr.home_test_init(), HOA, CN), HOA, CN)
        coti = mipv6.decode(mipv6.encode(self.mn_rr.care_of_test_init(coa), coa, CN), coa, CN)
        hot = self.cn_rr.home_test(hoti, HOA, now)
        cot = self.cn_rr.care_of_test(coti, coa, now)
        assert self.mn_rr.home_test(mipv6.decode(mipv6.encode(hot, CN, HOA)), now)
        assert self.mn_rr.care_of_test(mipv6.decode(mipv6.encode(cot, CN, coa)), now)

    def bu(self, now, coa=COA, lifetime=1000.0):
        bu = self.bul.correspondent_registration(self.mn_rr, coa, lifetime, now)
        pkt = mipv6.parse_mobility_packet(mipv6.mobility_packet(coa, CN, bu, home_address=HOA))
        return self.cn.binding_update(pkt.message, pkt.mh, pkt.home_address, pkt.src, now)

    def ack(self, out, now, coa=COA):
        wire = mipv6.mobility_packet(CN, coa, out.ack, routed_home_address=HOA)
        pkt = mipv6.parse_mobility_packet(wire)
        return self.bul.binding_ack(pkt.message, pkt.src, now, pkt.mh)


def test_route_optimization_registration_end_to_end():
    rr = Rr()
    rr.run(0.0)
    out = rr.bu(1.0)
    assert out.status == BaStatus.ACCEPTED, out.reason
    assert out.entry.care_of_address == COA and out.entry.lifetime == 420  # MAX_RR_BINDING
    assert out.ack.option(mipv6.BindingAuthorizationData) is not None
    result = rr.ack(out, 1.1)
    assert result.action == "registered" and result.entry.granted_lifetime == 420
    # the MN refuses a BA whose Authenticator is not the CN's
    forged = mipv6.BindingAck(0, out.ack.sequence, 105,
                              options=(mipv6.BindingAuthorizationData(bytes(12)),))
    wire = mipv6.encode(forged, CN, HOA)
    assert rr.bul.binding_ack(forged, CN, 1.2, wire).action == "ignored"


def test_tampered_or_unauthorized_binding_updates_are_discarded():
    rr = Rr()
    rr.run(0.0)
    bu = rr.bul.correspondent_registration(rr.mn_rr, COA, 100, 1.0)
    mh = bytearray(mipv6.encode(bu, HOA, CN))
    mh[10] ^= 0x01                                            # Lifetime changed in flight
    out = rr.cn.binding_update(mipv6.decode(bytes(mh)), bytes(mh), HOA, COA, 1.0)
    assert out.discarded and rr.cn.lookup(HOA, 1.0) is None
    # the right BU from another care-of address than the tokens were made for
    out = rr.cn.binding_update(bu, mipv6.encode(bu, HOA, CN), HOA, COA2, 1.0)
    assert out.discarded
    plain = BindingUpdate(5, 10, ack=True)
    assert rr.cn.binding_update(plain, mipv6.encode(plain, HOA, CN), HOA, COA, 1.0).discarded
    home = BindingUpdate(5, 10, ack=True, home_registration=True)
    out = rr.cn.binding_update(home, mipv6.encode(home, HOA, CN), HOA, COA, 1.0)
    assert out.status == BaStatus.HOME_REGISTRATION_NOT_SUPPORTED


@pytest.mark.parametrize("home_age, care_age, status", [
    (250.0, 10.0, BaStatus.EXPIRED_HOME_NONCE_INDEX),
    (10.0, 250.0, BaStatus.EXPIRED_CARE_OF_NONCE_INDEX),
    (250.0, 250.0, BaStatus.EXPIRED_NONCES),
])
def test_expired_nonce_indices(home_age, care_age, status):
    # tokens made at different times: the nonce of each index ages separately
    rr = Rr()
    now = 300.0
    rr.cn_rr.nonce_interval = 1.0
    rr.mn_rr.max_token_lifetime = 1000.0                      # the MN still thinks they're fine
    hoti, coti = rr.mn_rr.home_test_init(), rr.mn_rr.care_of_test_init(COA)
    first, second = sorted([("h", now - home_age), ("c", now - care_age)], key=lambda x: x[1])
    for which, t in (first, second):
        if which == "h":
            rr.mn_rr.home_test(rr.cn_rr.home_test(hoti, HOA, t), t)
        else:
            rr.mn_rr.care_of_test(rr.cn_rr.care_of_test(coti, COA, t), t)
    out = rr.bu(now)
    assert out.status == status and out.ack.option(mipv6.BindingAuthorizationData) is None
    result = rr.bul.binding_ack(out.ack, CN, now, mipv6.encode(out.ack, CN, HOA))
    assert result.action == "rerun_rr"
    rr.mn_rr.forget(status)
    assert not rr.mn_rr.ready(COA, now)


def test_sequence_out_of_window_at_the_cn_then_resend():
    rr = Rr()
    rr.run(0.0)
    assert rr.ack(rr.bu(1.0), 1.0).action == "registered"
    rr.bul.sequence = (rr.bul.sequence - 10) % 65536          # an MN that lost its numbering
    out = rr.bu(2.0)
    assert out.status == BaStatus.SEQUENCE_NUMBER_OUT_OF_WINDOW
    result = rr.ack(out, 2.0)                                 # signed BA: accepted by the MN
    assert result.action == "resend" and seq_greater(result.resend.sequence, out.ack.sequence)
    pkt = mipv6.parse_mobility_packet(mipv6.mobility_packet(COA, CN, result.resend,
                                                            home_address=HOA))
    again = rr.cn.binding_update(pkt.message, pkt.mh, HOA, COA, 2.1)
    assert again.status == BaStatus.ACCEPTED


def test_deregistration_needs_only_the_home_token():
    rr = Rr()
    rr.run(0.0)
    assert rr.ack(rr.bu(1.0), 1.0).action == "registered"
    rr.mn_rr.care_of_token = None
    hoti = rr.mn_rr.home_test_init()
    rr.mn_rr.home_test(rr.cn_rr.home_test(hoti, HOA, 2.0), 2.0)
    assert rr.mn_rr.ready(HOA, 2.0, deregistration=True)
    kbm, indices = rr.mn_rr.binding_key(HOA, 2.0, deregistration=True)
    assert kbm == mipv6.binding_management_key(rr.mn_rr.home_token[1])
    out = rr.bu(2.0, coa=HOA)
    assert out.status == BaStatus.ACCEPTED and rr.cn.lookup(HOA, 2.0) is None
    assert rr.ack(out, 2.0, coa=HOA).action == "registered"
    assert CN not in rr.bul.entries


def test_tokens_age_out_and_cookies_must_match():
    rr = Rr()
    rr.run(0.0)
    assert rr.mn_rr.ready(COA, 210.0) and not rr.mn_rr.ready(COA, 211.0)
    assert not rr.mn_rr.ready(COA2, 1.0)                      # care-of token is per CoA
    with pytest.raises(ProtocolError):
        rr.mn_rr.binding_key(COA, 211.0)
    rr.mn_rr.home_test_init()
    assert not rr.mn_rr.home_test(mipv6.HomeTest(0, bytes(8), bytes(8)), 1.0)


def test_nonces_rotate_and_expire():
    cn_rr = CorrespondentRR(rnd=random.Random(5), nonce_interval=30)
    i0, n0 = cn_rr.current_nonce(0.0)
    assert cn_rr.current_nonce(29.0) == (i0, n0)
    i1, n1 = cn_rr.current_nonce(30.0)
    assert i1 == i0 + 1 and n1 != n0
    assert cn_rr.nonce(i0, 240.0) == n0 and cn_rr.nonce(i0, 240.5) is None
    assert cn_rr.nonce(999, 0.0) is None


# ---- the MN's Binding Update List (s11.7, s11.8) ----------------------------------------


def test_home_registration_numbering_backoff_and_ack():
    bul = BindingUpdateList(HOA, HA, rnd=random.Random(7))
    bu = bul.home_registration(COA, 3600, now=0.0)
    assert bu.ack and bu.home_registration and bu.lifetime == 900
    times, now = [], 0.0
    while bul.next_timer() is not None:
        now = bul.next_timer()
        for dest, again in bul.retransmissions(now):
            assert dest == HA and seq_greater(again.sequence, bu.sequence)
            assert again == replace(bu, sequence=again.sequence)
            bu = again
            times.append(now)
    # 1.5 s first (InitialBindackTimeoutFirstReg), doubling, given up past 32 s
    assert times == [1.5, 4.5, 10.5, 22.5]
    assert HA not in bul.entries
    bu2 = bul.home_registration(COA, 3600, now=100.0)
    assert seq_greater(bu2.sequence, bu.sequence)
    assert bul.binding_ack(mipv6.BindingAck(0, bu2.sequence ^ 1, 10), HA, 100.1).action \
        == "ignored"
    result = bul.binding_ack(mipv6.BindingAck(0, bu2.sequence, 10), HA, 100.2)
    assert result.action == "registered" and result.entry.expires_at == 140.0
    assert bul.retransmissions(1000.0) == []
    assert bul.binding_ack(mipv6.BindingAck(0, 1, 1), CN, 1.0).action == "ignored"
    bu3 = bul.home_registration(COA2, 3600, now=200.0)        # a refresh: 1 s timeout
    assert bul.next_timer() == 201.0
    result = bul.binding_ack(mipv6.BindingAck(BaStatus.NOT_HOME_SUBNET, bu3.sequence, 0),
                             HA, 200.5)
    assert result.action == "failed" and "not_home_subnet" in result.reason


def test_home_agent_out_of_window_resend():
    bul = BindingUpdateList(HOA, HA, rnd=random.Random(7))
    cache = ha()
    cache.binding_update(BindingUpdate(20, 10, ack=True, home_registration=True),
                         HOA, COA, 0.0)
    bul.sequence = 5
    bu = bul.home_registration(COA2, 100, 1.0)
    out = cache.binding_update(bu, HOA, COA2, 1.0)
    assert out.status == BaStatus.SEQUENCE_NUMBER_OUT_OF_WINDOW and out.ack.sequence == 20
    result = bul.binding_ack(out.ack, HA, 1.1)
    assert result.action == "resend" and result.resend.sequence == 21
    assert cache.binding_update(result.resend, HOA, COA2, 1.2).status == BaStatus.ACCEPTED
    assert NonceIndices(1, 2).data() == b"\0\1\0\2"
