"""Mobile IPv6 state (RFC 6275), pure: binding caches, the binding update list, return
routability on both ends. No sockets and no clocks: every method takes ``now`` (seconds on
any monotonic clock) and returns the messages to send; the agents do the I/O.

Who does what:

* `HomeAgentBindings` (s10.3): home registrations. A Binding Update with the H bit from a
  home address on a home prefix is accepted (status 0), with a lifetime no longer than the
  HA's maximum and the home prefix's valid lifetime; a new binding needs duplicate address
  detection of the home address on the home link first (`needs_dad`; DAD failure is status
  134); a deregistration (lifetime 0, or care-of address = home address) deletes it
  (s10.3.2; status 133 when there is nothing to delete).
* `CorrespondentRR` (s5.2, s9.4): the node key Kcn, nonces with 16-bit indices regenerated
  every `nonce_interval` and valid for MAX_NONCE_LIFETIME, the Home Test / Care-of Test
  answers, and Kbm for a Binding Update's Nonce Indices.
* `CorrespondentBindings` (s9.5): correspondent registrations authorized by return
  routability: Nonce Indices and Binding Authorization Data are required and the
  Authenticator must verify (else silently discarded), expired nonce indices give 136, 137
  or 138, the H bit gives 131, lifetimes are capped at MAX_RR_BINDING_LIFETIME; its Binding
  Acknowledgements carry their own Authenticator.
* Both caches: Sequence Numbers compared modulo 2^16 (s9.5.1, `seq_greater`), a BU whose
  number is not greater gets 135 with the last accepted number; a BU whose H bit differs
  from the existing binding's gets 139; entries expire with their lifetime.
* `BindingUpdateList` (s11.1, s11.7): the mobile node's side: numbering, the BUs to its HA
  and to CNs, retransmission with exponential backoff (InitialBindackTimeoutFirstReg 1.5 s
  for a first home registration, INITIAL_BINDACK_TIMEOUT 1 s otherwise, doubling up to
  MAX_BINDACK_TIMEOUT 32 s), and what a Binding Acknowledgement means (s11.7.3).
* `MobileRR` (s11.6): the mobile node's return routability with one CN: cookies, keygen
  tokens valid MAX_TOKEN_LIFETIME, Kbm and the Nonce Indices of the BU.

The RFC's constants (s12) are module constants; each class takes overrides for
experiments, and reports what it used (`constants()`).
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from ipaddress import IPv6Address, IPv6Network

from . import mipv6
from .errors import ProtocolError
from .ipv6 import address
from .mipv6 import (BaStatus, BindingAck, BindingRefreshAdvice, BindingUpdate, CareOfTest,
                    CareOfTestInit, HomeTest, HomeTestInit, NonceIndices)

__all__ = [
    "INITIAL_BINDACK_TIMEOUT", "INITIAL_BINDACK_TIMEOUT_FIRST_REG", "MAX_BINDACK_TIMEOUT",
    "MAX_NONCE_LIFETIME", "MAX_TOKEN_LIFETIME", "MAX_RR_BINDING_LIFETIME", "seq_greater",
    "BindingCacheEntry", "BuOutcome", "HomeAgentBindings", "CorrespondentRR",
    "CorrespondentBindings", "BindingUpdateListEntry", "BaOutcome", "BindingUpdateList",
    "MobileRR",
]

# s12 protocol constants, s13 (InitialBindackTimeoutFirstReg) configuration variable
INITIAL_BINDACK_TIMEOUT = 1.0
INITIAL_BINDACK_TIMEOUT_FIRST_REG = 1.5
MAX_BINDACK_TIMEOUT = 32.0
MAX_NONCE_LIFETIME = 240.0
MAX_TOKEN_LIFETIME = 210.0
MAX_RR_BINDING_LIFETIME = 420.0
DEFAULT_HA_MAX_LIFETIME = 3600.0         # an HA policy (s10.3.1 leaves it to the HA)
DEFAULT_NONCE_INTERVAL = 30.0            # how often a CN starts a new nonce (s5.2.7)
MAX_LIFETIME_UNITS = 0xFFFF


def seq_greater(a: int, b: int) -> bool:
    """Sequence Number ``a`` is greater than ``b`` modulo 2^16 (s9.5.1).

    The RFC's example fixes the window: after 15, the numbers 0..15 and 32784..65535 are
    "less than or equal", so ``a`` is greater when (a - b) mod 2^16 is in 1..32768.
    """
    return 1 <= (a - b) % (1 << 16) <= 1 << 15


def _units(seconds: float) -> int:
    """Seconds to the 4-second Lifetime units of a BU/BA, rounded down, capped at 16 bits."""
    return min(MAX_LIFETIME_UNITS, max(0, int(seconds // mipv6.LIFETIME_UNIT)))


@dataclass
class BindingCacheEntry:
    """s9.1: one binding of a home address to a care-of address."""
    home_address: IPv6Address
    care_of_address: IPv6Address
    sequence: int
    lifetime: float                          # granted, seconds
    registered_at: float
    home_registration: bool

    @property
    def expires_at(self) -> float:
        return self.registered_at + self.lifetime

    def remaining(self, now: float) -> float:
        return max(0.0, self.expires_at - now)


@dataclass(frozen=True)
class BuOutcome:
    """What a cache decided about one Binding Update.

    ``ack`` is the BA to send to the MN (None: send nothing, i.e. silently discarded or
    accepted without the A bit); ``entry`` the binding now in force for the home address
    (None after a deletion or a rejection of a new one); ``reason`` for the event log."""
    status: int | None
    ack: BindingAck | None
    entry: BindingCacheEntry | None
    reason: str
    dad_pending: bool = False            # HA: acceptable once DAD of the home address ends

    @property
    def discarded(self) -> bool:
        return self.status is None and not self.dad_pending


class _BindingCache:
    """The entries, their expiry and the checks both kinds of cache make (s9.5.1)."""

    def __init__(self) -> None:
        self.entries: dict[IPv6Address, BindingCacheEntry] = {}

    def lookup(self, home_address: IPv6Address | str, now: float) -> BindingCacheEntry | None:
        """The binding for ``home_address`` if it has not expired (expired ones are gone)."""
        home = address(home_address)
        entry = self.entries.get(home)
        if entry is not None and entry.remaining(now) <= 0:
            del self.entries[home]
            return None
        return entry

    def expire(self, now: float) -> list[BindingCacheEntry]:
        """Remove and return every entry whose lifetime ran out (s9.5.2)."""
        gone = [e for e in self.entries.values() if e.remaining(now) <= 0]
        for e in gone:
            del self.entries[e.home_address]
        return gone

    def _common_checks(self, bu: BindingUpdate, entry: BindingCacheEntry | None
                       ) -> tuple[int, str] | None:
        if entry is not None and entry.home_registration != bu.home_registration:
            return (BaStatus.REGISTRATION_TYPE_CHANGE_DISALLOWED,
                    "H bit differs from the existing binding's (s9.5.1)")
        if entry is not None and not seq_greater(bu.sequence, entry.sequence):
            return (BaStatus.SEQUENCE_NUMBER_OUT_OF_WINDOW,
                    f"Sequence {bu.sequence} is not greater than {entry.sequence} (s9.5.1)")
        return None


def _reject(status: int, bu: BindingUpdate, entry: BindingCacheEntry | None, reason: str,
            extra=None) -> BuOutcome:
    """s9.5.1 / s10.3.1: a rejection answers with the last accepted Sequence Number for 135
    (the BU's own otherwise) and Lifetime 0."""
    seq = entry.sequence if status == BaStatus.SEQUENCE_NUMBER_OUT_OF_WINDOW and entry \
        else bu.sequence
    ack = BindingAck(int(status), seq, 0)
    return BuOutcome(int(status), extra(ack) if extra else ack, entry, reason)


class HomeAgentBindings(_BindingCache):
    """A home agent's Binding Cache of home registrations (s10.3)."""

    def __init__(self, home_prefixes: list[IPv6Network | str], *,
                 max_lifetime: float = DEFAULT_HA_MAX_LIFETIME,
                 prefix_valid_lifetime: float | None = None,
                 serves: set[IPv6Address] | None = None,
                 refresh_interval: float | None = None) -> None:
        super().__init__()
        self.home_prefixes = [IPv6Network(p) for p in home_prefixes]
        self.max_lifetime = max_lifetime
        self.prefix_valid_lifetime = prefix_valid_lifetime
        self.serves = None if serves is None else {address(a) for a in serves}
        self.refresh_interval = refresh_interval

    def constants(self) -> dict:
        return {"ha_max_lifetime_s": self.max_lifetime,
                "prefix_valid_lifetime_s": self.prefix_valid_lifetime,
                "refresh_interval_s": self.refresh_interval}

    def needs_dad(self, home_address: IPv6Address | str, now: float) -> bool:
        """s10.3.1: a new home registration needs DAD of the home address on the home link
        (an existing binding already defends it)."""
        return self.lookup(home_address, now) is None

    def binding_update(self, bu: BindingUpdate, home_address: IPv6Address | str,
                       care_of_address: IPv6Address | str, now: float,
                       dad_succeeded: bool | None = True) -> BuOutcome:
        """Process a BU that arrived from ``care_of_address`` with a Home Address option
        holding ``home_address`` (an Alternate Care-of Address option overrides the
        source; s10.3.1 step 1-9, s10.3.2). ``dad_succeeded`` is the outcome of DAD for a
        new home address; None means "not run yet": a BU that would be accepted then
        returns ``dad_pending`` and changes nothing (call again when DAD has ended)."""
        home, coa = address(home_address), address(care_of_address)
        alt = bu.option(mipv6.AlternateCareOfAddress)
        if alt is not None:
            coa = alt.address
        entry = self.lookup(home, now)
        if not bu.home_registration:
            if entry is not None:
                return _reject(BaStatus.REGISTRATION_TYPE_CHANGE_DISALLOWED, bu, entry,
                               "H bit clear for a home registration (s9.5.1)")
            return BuOutcome(None, None, None, "correspondent registration at the HA: this "
                             "HA is no correspondent node (discarded)")
        if not any(home in p for p in self.home_prefixes):
            return _reject(BaStatus.NOT_HOME_SUBNET, bu, entry,
                           f"{home} is on no home prefix of this HA (s10.3.1)")
        if self.serves is not None and home not in self.serves:
            return _reject(BaStatus.NOT_HOME_AGENT_FOR_THIS_MOBILE_NODE, bu, entry,
                           f"{home} is not served by this HA (s10.3.1)")
        failed = self._common_checks(bu, entry)
        if failed:
            return _reject(failed[0], bu, entry, failed[1])
        if bu.lifetime == 0 or coa == home:
            if entry is None:
                return _reject(BaStatus.NOT_HOME_AGENT_FOR_THIS_MOBILE_NODE, bu, None,
                               "deregistration without a home registration (s10.3.2)")
            del self.entries[home]
            return BuOutcome(BaStatus.ACCEPTED,
                             BindingAck(BaStatus.ACCEPTED, bu.sequence, 0), None,
                             "home registration deleted (s10.3.2)")
        if entry is None and dad_succeeded is None:
            return BuOutcome(None, None, None, f"DAD for {home} needed first (s10.3.1)",
                             dad_pending=True)
        if entry is None and not dad_succeeded:
            return _reject(BaStatus.DUPLICATE_ADDRESS_DETECTION_FAILED, bu, None,
                           f"DAD for {home} failed on the home link (s10.3.1)")
        limit = self.max_lifetime
        if self.prefix_valid_lifetime is not None:
            limit = min(limit, self.prefix_valid_lifetime)
        units = min(bu.lifetime, _units(limit))
        new = BindingCacheEntry(home, coa, bu.sequence, units * mipv6.LIFETIME_UNIT, now, True)
        self.entries[home] = new
        options = ()
        if self.refresh_interval is not None:
            options = (BindingRefreshAdvice(min(units, _units(self.refresh_interval))),)
        ack = BindingAck(BaStatus.ACCEPTED, bu.sequence, units, options=options)
        return BuOutcome(BaStatus.ACCEPTED, ack, new,
                         f"home registration {home} -> {coa} for {units * 4} s")


@dataclass
class _Nonce:
    value: bytes
    created_at: float


class CorrespondentRR:
    """A correspondent node's half of return routability (s5.2.3-s5.2.5, s9.4)."""

    def __init__(self, kcn: bytes | None = None, *, rnd: random.Random | None = None,
                 nonce_length: int = 8, nonce_interval: float = DEFAULT_NONCE_INTERVAL,
                 max_nonce_lifetime: float = MAX_NONCE_LIFETIME) -> None:
        self.rnd = rnd or random.SystemRandom()
        self.kcn = bytes(kcn) if kcn is not None else self.rnd.randbytes(mipv6.KCN_LENGTH)
        if len(self.kcn) != mipv6.KCN_LENGTH:
            raise ProtocolError(f"Kcn of {len(self.kcn)} octets, expected 20 (s5.2.3)")
        self.nonce_length = nonce_length
        self.nonce_interval = nonce_interval
        self.max_nonce_lifetime = max_nonce_lifetime
        self.nonces: dict[int, _Nonce] = {}
        self.current_index: int | None = None

    def constants(self) -> dict:
        return {"nonce_interval_s": self.nonce_interval,
                "max_nonce_lifetime_s": self.max_nonce_lifetime,
                "nonce_octets": self.nonce_length}

    def current_nonce(self, now: float) -> tuple[int, bytes]:
        """(index, nonce) for new tokens; a new nonce every ``nonce_interval`` (s5.2.7)."""
        cur = self.nonces.get(self.current_index) if self.current_index is not None else None
        if cur is None or now - cur.created_at >= self.nonce_interval:
            index = 0 if self.current_index is None else (self.current_index + 1) % (1 << 16)
            self.nonces[index] = _Nonce(self.rnd.randbytes(self.nonce_length), now)
            self.current_index = index
            for i in [i for i, n in self.nonces.items()
                      if now - n.created_at > self.max_nonce_lifetime]:
                del self.nonces[i]
        return self.current_index, self.nonces[self.current_index].value

    def nonce(self, index: int, now: float) -> bytes | None:
        """The nonce of ``index`` if it is still valid (younger than MAX_NONCE_LIFETIME)."""
        n = self.nonces.get(index)
        if n is None or now - n.created_at > self.max_nonce_lifetime:
            return None
        return n.value

    def home_test(self, hoti: HomeTestInit, home_address: IPv6Address | str,
                  now: float) -> HomeTest:
        """s9.4.3: the HoT for a HoTI that came from ``home_address``."""
        index, nonce = self.current_nonce(now)
        return HomeTest(index, hoti.cookie, mipv6.home_keygen_token(self.kcn, home_address,
                                                                   nonce))

    def care_of_test(self, coti: CareOfTestInit, care_of_address: IPv6Address | str,
                     now: float) -> CareOfTest:
        """s9.4.4: the CoT for a CoTI that came from ``care_of_address``."""
        index, nonce = self.current_nonce(now)
        return CareOfTest(index, coti.cookie, mipv6.care_of_keygen_token(
            self.kcn, care_of_address, nonce))

    def binding_key(self, home_address: IPv6Address | str, care_of_address: IPv6Address | str,
                    indices: NonceIndices, now: float, deregistration: bool
                    ) -> bytes | BaStatus:
        """Kbm for a BU's Nonce Indices, or the status 136/137/138 when a nonce it names
        is no longer valid (s9.5.1); a deregistration needs only the home nonce."""
        home_nonce = self.nonce(indices.home_nonce_index, now)
        care_nonce = None if deregistration else self.nonce(indices.care_of_nonce_index, now)
        if home_nonce is None and (care_nonce is None and not deregistration):
            return BaStatus.EXPIRED_NONCES
        if home_nonce is None:
            return BaStatus.EXPIRED_HOME_NONCE_INDEX
        if care_nonce is None and not deregistration:
            return BaStatus.EXPIRED_CARE_OF_NONCE_INDEX
        home_token = mipv6.home_keygen_token(self.kcn, home_address, home_nonce)
        if deregistration:
            return mipv6.binding_management_key(home_token)
        return mipv6.binding_management_key(
            home_token, mipv6.care_of_keygen_token(self.kcn, care_of_address, care_nonce))


class CorrespondentBindings(_BindingCache):
    """A correspondent node's Binding Cache, filled by RR-authorized BUs (s9.5)."""

    def __init__(self, own_address: IPv6Address | str, rr: CorrespondentRR, *,
                 max_lifetime: float = MAX_RR_BINDING_LIFETIME) -> None:
        super().__init__()
        self.own_address = address(own_address)
        self.rr = rr
        self.max_lifetime = max_lifetime

    def constants(self) -> dict:
        return {"max_rr_binding_lifetime_s": self.max_lifetime, **self.rr.constants()}

    def binding_update(self, bu: BindingUpdate, mh: bytes, home_address: IPv6Address | str,
                       care_of_address: IPv6Address | str, now: float) -> BuOutcome:
        """Process a BU; ``mh`` is its Mobility Header as received (the Authenticator is
        verified over those octets), ``home_address`` from its Home Address option,
        ``care_of_address`` its IPv6 Source (or its Alternate Care-of Address)."""
        home, coa = address(home_address), address(care_of_address)
        alt = bu.option(mipv6.AlternateCareOfAddress)
        if alt is not None:
            coa = alt.address
        entry = self.lookup(home, now)
        if bu.home_registration:
            return _reject(BaStatus.HOME_REGISTRATION_NOT_SUPPORTED, bu, entry,
                           "H bit set at a correspondent node (s9.5.1)")
        indices = bu.option(NonceIndices)
        if indices is None or bu.option(mipv6.BindingAuthorizationData) is None:
            return BuOutcome(None, None, entry, "BU without Nonce Indices and Binding "
                             "Authorization Data (s9.5.1: silently discarded)")
        deregistration = bu.lifetime == 0 or coa == home
        key = self.rr.binding_key(home, coa, indices, now, deregistration)
        if isinstance(key, BaStatus):
            return _reject(key, bu, entry, f"{key.name.lower()} (s9.5.1)")
        try:
            valid = mipv6.verify_authorization(mh, key, coa, self.own_address)
        except ProtocolError as exc:
            return BuOutcome(None, None, entry, f"Authenticator unreadable: {exc.reason}")
        if not valid:
            return BuOutcome(None, None, entry, "Authenticator does not verify (s9.5.1: "
                             "silently discarded)")
        sign = lambda ack: mipv6.authorize(ack, key, coa, self.own_address)  # noqa: E731
        failed = self._common_checks(bu, entry)
        if failed:
            return _reject(failed[0], bu, entry, failed[1], extra=sign)
        if deregistration:
            self.entries.pop(home, None)
            ack = sign(BindingAck(BaStatus.ACCEPTED, bu.sequence, 0)) if bu.ack else None
            return BuOutcome(BaStatus.ACCEPTED, ack, None, "binding deleted (s9.5.3)")
        units = min(bu.lifetime, _units(self.max_lifetime))
        new = BindingCacheEntry(home, coa, bu.sequence, units * mipv6.LIFETIME_UNIT, now,
                                False)
        self.entries[home] = new
        ack = sign(BindingAck(BaStatus.ACCEPTED, bu.sequence, units)) if bu.ack else None
        return BuOutcome(BaStatus.ACCEPTED, ack, new,
                         f"binding {home} -> {coa} for {units * 4} s (route optimization)")


# ---- the mobile node --------------------------------------------------------------------


@dataclass
class MobileRR:
    """The mobile node's return routability state with one CN (s11.6)."""
    correspondent: IPv6Address
    rnd: random.Random = field(default_factory=random.SystemRandom, repr=False)
    max_token_lifetime: float = MAX_TOKEN_LIFETIME
    home_cookie: bytes | None = None
    care_of_cookie: bytes | None = None
    care_of_address: IPv6Address | None = None         # the CoA the CoTI was sent from
    home_token: tuple[int, bytes, float] | None = None  # (nonce index, token, received at)
    care_of_token: tuple[int, bytes, float, IPv6Address] | None = None

    def __post_init__(self) -> None:
        self.correspondent = address(self.correspondent)

    def home_test_init(self) -> HomeTestInit:
        """s11.6.1: a fresh Home Init Cookie; the HoTI goes through the HA tunnel."""
        self.home_cookie = self.rnd.randbytes(mipv6.COOKIE_LENGTH)
        return HomeTestInit(self.home_cookie)

    def care_of_test_init(self, care_of_address: IPv6Address | str) -> CareOfTestInit:
        """s11.6.1: a fresh Care-of Init Cookie; the CoTI goes directly from the CoA."""
        self.care_of_cookie = self.rnd.randbytes(mipv6.COOKIE_LENGTH)
        self.care_of_address = address(care_of_address)
        return CareOfTestInit(self.care_of_cookie)

    def home_test(self, hot: HomeTest, now: float) -> bool:
        """s11.6.2: accept a HoT whose cookie is the last HoTI's; False otherwise."""
        if not isinstance(hot, HomeTest) or self.home_cookie is None \
                or hot.cookie != self.home_cookie:
            return False
        self.home_token = (hot.nonce_index, hot.keygen_token, now)
        self.home_cookie = None
        return True

    def care_of_test(self, cot: CareOfTest, now: float) -> bool:
        if not isinstance(cot, CareOfTest) or self.care_of_cookie is None \
                or cot.cookie != self.care_of_cookie:
            return False
        self.care_of_token = (cot.nonce_index, cot.keygen_token, now, self.care_of_address)
        self.care_of_cookie = None
        return True

    def forget(self, status: int) -> None:
        """After a BA with 136/137/138: drop the tokens the CN no longer accepts (s11.7.3)."""
        if status in (BaStatus.EXPIRED_HOME_NONCE_INDEX, BaStatus.EXPIRED_NONCES):
            self.home_token = None
        if status in (BaStatus.EXPIRED_CARE_OF_NONCE_INDEX, BaStatus.EXPIRED_NONCES):
            self.care_of_token = None

    def ready(self, care_of_address: IPv6Address | str, now: float,
              deregistration: bool = False) -> bool:
        """Fresh tokens for a BU from ``care_of_address`` (s5.2.6, MAX_TOKEN_LIFETIME)."""
        fresh = lambda t: t is not None and now - t[2] <= self.max_token_lifetime  # noqa
        if not fresh(self.home_token):
            return False
        return deregistration or (fresh(self.care_of_token)
                                  and self.care_of_token[3] == address(care_of_address))

    def binding_key(self, care_of_address: IPv6Address | str, now: float,
                    deregistration: bool = False) -> tuple[bytes, NonceIndices]:
        """(Kbm, Nonce Indices) for a BU (s5.2.5); ProtocolError when tokens are missing."""
        if not self.ready(care_of_address, now, deregistration):
            raise ProtocolError("return routability is not complete for this care-of address")
        home_index, home_token, _ = self.home_token
        if deregistration:
            return mipv6.binding_management_key(home_token), NonceIndices(home_index, 0)
        care_index, care_token = self.care_of_token[0], self.care_of_token[1]
        return (mipv6.binding_management_key(home_token, care_token),
                NonceIndices(home_index, care_index))


@dataclass
class BindingUpdateListEntry:
    """s11.1: one binding the MN asked for, and its retransmission state (s11.8)."""
    destination: IPv6Address
    home_address: IPv6Address
    care_of_address: IPv6Address
    sequence: int
    requested_lifetime: int                # 4-second units
    sent_at: float
    home_registration: bool
    message: BindingUpdate
    timeout: float
    retransmit_at: float
    kbm: bytes | None = None
    acked_at: float | None = None
    granted_lifetime: float | None = None   # seconds, from the BA
    attempts: int = 1

    @property
    def expires_at(self) -> float | None:
        if self.acked_at is None or self.granted_lifetime is None:
            return None
        return self.sent_at + self.granted_lifetime    # s11.7.3: from when the BU was sent


@dataclass(frozen=True)
class BaOutcome:
    """What a BA means to the MN: ``registered`` (accepted), ``resend`` (a new BU to send:
    after 135 with a higher Sequence Number), ``rerun_rr`` (136-138: new HoTI/CoTI first),
    ``failed`` (any other rejection), ``ignored`` (no matching BU, or a bad Authenticator)."""
    action: str
    status: int | None
    entry: BindingUpdateListEntry | None
    resend: BindingUpdate | None = None
    reason: str = ""


class BindingUpdateList:
    """The mobile node's Binding Update List and Sequence Numbers (s11.1, s11.7, s11.8)."""

    def __init__(self, home_address: IPv6Address | str, home_agent: IPv6Address | str, *,
                 rnd: random.Random | None = None,
                 initial_bindack_timeout: float = INITIAL_BINDACK_TIMEOUT,
                 initial_bindack_timeout_first_reg: float = INITIAL_BINDACK_TIMEOUT_FIRST_REG,
                 max_bindack_timeout: float = MAX_BINDACK_TIMEOUT) -> None:
        self.home_address = address(home_address)
        self.home_agent = address(home_agent)
        self.rnd = rnd or random.SystemRandom()
        self.sequence = self.rnd.randrange(1 << 16)   # last number sent (s11.7.1: any start)
        self.entries: dict[IPv6Address, BindingUpdateListEntry] = {}
        self.initial_bindack_timeout = initial_bindack_timeout
        self.initial_bindack_timeout_first_reg = initial_bindack_timeout_first_reg
        self.max_bindack_timeout = max_bindack_timeout

    def constants(self) -> dict:
        return {"initial_bindack_timeout_s": self.initial_bindack_timeout,
                "initial_bindack_timeout_first_reg_s": self.initial_bindack_timeout_first_reg,
                "max_bindack_timeout_s": self.max_bindack_timeout}

    def _next_sequence(self) -> int:
        self.sequence = (self.sequence + 1) % (1 << 16)
        return self.sequence

    def _record(self, destination, coa, bu, now, home_registration, kbm, first) -> None:
        timeout = (self.initial_bindack_timeout_first_reg if first
                   else self.initial_bindack_timeout)
        self.entries[destination] = BindingUpdateListEntry(
            destination, self.home_address, coa, bu.sequence, bu.lifetime, now,
            home_registration, bu, timeout, now + timeout, kbm)

    def home_registration(self, care_of_address: IPv6Address | str, lifetime: float,
                          now: float) -> BindingUpdate:
        """s11.7.1: a BU to the HA (A and H set; lifetime 0 or care-of address = home
        address deregisters). Sent from the CoA with a Home Address option."""
        coa = address(care_of_address)
        previous = self.entries.get(self.home_agent)
        first = previous is None or previous.acked_at is None
        units = 0 if coa == self.home_address else _units(lifetime)
        bu = BindingUpdate(self._next_sequence(), units, ack=True, home_registration=True)
        self._record(self.home_agent, coa, bu, now, True, None, first)
        return bu

    def correspondent_registration(self, rr: MobileRR, care_of_address: IPv6Address | str,
                                   lifetime: float, now: float,
                                   ack: bool = True) -> BindingUpdate:
        """s11.7.2: a BU to a CN, authorized by return routability (Nonce Indices and
        Binding Authorization Data, last). Deregisters when lifetime is 0 or the CoA is
        the home address."""
        coa = address(care_of_address)
        dereg = lifetime <= 0 or coa == self.home_address
        kbm, indices = rr.binding_key(coa, now, dereg)
        units = 0 if dereg else _units(min(lifetime, MAX_RR_BINDING_LIFETIME))
        bu = BindingUpdate(self._next_sequence(), units, ack=ack, options=(indices,))
        bu = mipv6.authorize(bu, kbm, coa, rr.correspondent)
        self._record(rr.correspondent, coa, bu, now, False, kbm, False)
        return bu

    def binding_ack(self, ba: BindingAck, source: IPv6Address | str, now: float,
                    mh: bytes | None = None) -> BaOutcome:
        """s11.7.3: a BA from ``source``; ``mh`` (its Mobility Header as received) is
        needed to verify a CN's Authenticator."""
        entry = self.entries.get(address(source))
        if entry is None:
            return BaOutcome("ignored", ba.status, None, reason="no BU sent to this node")
        if entry.kbm is not None and (ba.status not in (BaStatus.EXPIRED_HOME_NONCE_INDEX,
                                                        BaStatus.EXPIRED_CARE_OF_NONCE_INDEX,
                                                        BaStatus.EXPIRED_NONCES)):
            try:
                ok = mh is not None and mipv6.verify_authorization(
                    mh, entry.kbm, entry.care_of_address, entry.destination)
            except ProtocolError:
                ok = False
            if not ok:
                return BaOutcome("ignored", ba.status, entry,
                                 reason="Authenticator of the BA does not verify (s11.7.3)")
        if ba.status == BaStatus.SEQUENCE_NUMBER_OUT_OF_WINDOW:
            self.sequence = ba.sequence               # then the next BU is greater
            resend = replace(entry.message, sequence=self._next_sequence())
            if entry.kbm is not None:
                resend = mipv6.authorize(resend, entry.kbm, entry.care_of_address,
                                         entry.destination)
            entry.message, entry.sequence, entry.sent_at = resend, resend.sequence, now
            entry.retransmit_at = now + entry.timeout
            return BaOutcome("resend", ba.status, entry, resend,
                             "sequence number out of window: resent above the HA/CN's")
        if ba.sequence != entry.sequence:
            return BaOutcome("ignored", ba.status, entry,
                             reason=f"BA Sequence {ba.sequence} is not the BU's {entry.sequence}")
        if ba.status in (BaStatus.EXPIRED_HOME_NONCE_INDEX,
                         BaStatus.EXPIRED_CARE_OF_NONCE_INDEX, BaStatus.EXPIRED_NONCES):
            del self.entries[entry.destination]
            return BaOutcome("rerun_rr", ba.status, entry, reason="nonce expired at the CN")
        if ba.status >= 128:
            del self.entries[entry.destination]
            return BaOutcome("failed", ba.status, entry,
                             reason=f"rejected: {_status_name(ba.status)}")
        entry.acked_at = now
        entry.granted_lifetime = float(ba.lifetime_seconds)
        if entry.requested_lifetime == 0:
            del self.entries[entry.destination]
        return BaOutcome("registered", ba.status, entry,
                         reason=f"{_status_name(ba.status)}, {ba.lifetime_seconds} s")

    def retransmissions(self, now: float) -> list[tuple[IPv6Address, BindingUpdate]]:
        """s11.8: BUs still unanswered at their timeout are sent again, the timeout doubled,
        each time with a greater Sequence Number (s11.8: "MUST use a Sequence Number value
        greater than that used for the previous transmission"); an entry whose timeout
        would exceed MAX_BINDACK_TIMEOUT is given up (removed)."""
        due = []
        for entry in list(self.entries.values()):
            if entry.acked_at is not None or now < entry.retransmit_at:
                continue
            entry.timeout *= 2
            if entry.timeout > self.max_bindack_timeout:
                del self.entries[entry.destination]
                continue
            entry.retransmit_at = now + entry.timeout
            entry.attempts += 1
            bu = replace(entry.message, sequence=self._next_sequence())
            if entry.kbm is not None:
                bu = mipv6.authorize(bu, entry.kbm, entry.care_of_address, entry.destination)
            entry.message, entry.sequence = bu, bu.sequence
            due.append((entry.destination, bu))
        return due

    def next_timer(self) -> float | None:
        """When `retransmissions` next has something to do."""
        times = [e.retransmit_at for e in self.entries.values() if e.acked_at is None]
        return min(times) if times else None


def _status_name(status: int) -> str:
    try:
        return BaStatus(status).name.lower()
    except ValueError:
        return f"status {status}"
