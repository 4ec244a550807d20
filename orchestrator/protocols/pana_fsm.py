"""PANA state machines of the PaC and the PAA (RFC 5191 s4, RFC 5873 pre-authentication), pure.

Who does what:
- `RetransmissionTimer` is RFC 5191 s9 (the RFC 3315 s14 algorithm): RT = IRT + RAND*IRT,
  then RT = 2*RTprev + RAND*RTprev, capped at MRT + RAND*MRT, RAND uniform in [-0.1, +0.1],
  at most MRC retransmissions (0: no limit). Clock and randomness are injected.
- `PacSession` (the PaC) and `PaaSession` (one session at the PAA) take datagrams in
  (`receive`), time in (`poll`) and commands in (`start`, `reauthenticate`, `ping`,
  `terminate`, ...) and return ``(datagrams to send to the peer, events)``. They never do
  I/O and never raise on bad input: a dropped message is an ``Event("dropped", reason)``.
- The PAA does not talk to the AAA server: a PAN carrying an EAP Response yields
  ``Event("eap_response", payload=...)``, the caller relays it (RADIUS, a fake in tests) and
  hands the outcome back with `PaaSession.backend_result` (a `BackendResult`).

The exchange (RFC 5191 s4.1, without the optional optimisations; EAP Responses always ride
in the PAN that answers the PAR, which s4.1 allows):

    PaC                                        PAA
    PCI [E]                      ----->
                                 <-----        PAR [S,E] PRF-Algorithm*, Integrity-Algorithm
    PAN [S,E] PRF-Algorithm, Integrity-Algorithm ----->
                                 <-----        PAR [E] Nonce, EAP-Payload (Request/Identity)
    PAN [E] Nonce, EAP-Payload (Response) ----->   (PAA relays to AAA, gets the next Request)
                                 <-----        PAR [E] EAP-Payload ...       (repeated)
                                 <-----        PAR [C,E] Result-Code, EAP-Payload (Success),
                                               Key-Id, Session-Lifetime, AUTH
    PAN [C,E] Key-Id, AUTH       ----->

PANA_AUTH_KEY (RFC 5191 s5.3) is derived on both sides from the MSK, the initial PAR and PAN
as sent, the two Nonce values and the Key-Id; from then on every message carries an AUTH
AVP (s5.4) and one whose AUTH is missing or wrong is dropped.

Sequence numbers (s5.2): a request is processed only if its number is one more than the
last one received; the same number again is a retransmission and gets the cached answer
(after its AUTH was checked); any other number is dropped ("replayed sequence number" when
it lies behind, "out-of-window" otherwise). An answer must carry the number of the
outstanding request. AUTH is checked before the sequence state moves, so a forged message
cannot push the window.

Re-authentication (s4.2): the PaC sends PNR [A]; the PAA answers PNA [A] and runs EAP again
in PARs without the S flag, with new nonces; the final PAR [C] carries a new Key-Id and is
protected with the new PANA_AUTH_KEY (I_PAR and I_PAN stay those of the session start).
Ping: PNR [P] / PNA [P] (s4.3). Termination: PTR (Termination-Cause) / PTA (s4.4).

Pre-authentication (RFC 5873 s3): the PaC sets E in its PCI; a PAA that supports it sets E in
every PAR and PAN of the session while it is a pre-authentication session, and so does the
PaC; a PAA that does not drops the PCI. After EAP success the session is
``pre-authenticated``: keys exist on both sides but the PaC is not yet attached. When the
PaC has moved to the PAA's network it sends an authenticated PNR [P] from its new address
(RFC 5191 s5.6 address update; `PacSession.attach`); both sides then hold an ``open``
(active) session. That last step is our reading: RFC 5873 leaves how the PAA learns of the
move to the PANA mobility rules of RFC 5191 s5.6.

The MPA-SA after the MN leaves (RFC 6252 C.2, s6.3: "the MPA-SA ... is kept"): the PAA
keeps the session when the PaC leaves its network (`PaaSession.detach`): it moves from
``open`` (authorized) to ``unauthorized``, keys kept, for at most `keep` seconds (then it
expires). When the PaC comes back it attaches again (`PacSession.detach` on leaving, then
`attach`): its PNR [P] carries an AUTH made with the session's PANA_AUTH_KEY, the proof of
possession, and the PAA returns to ``open`` (``authorized``) without any EAP. A PNR whose
AUTH does not verify (another key, a forged one) is dropped, and a replayed one gets the
cached answer without changing the state: only a fresh, authenticated request authorizes.

Simplified: one EAP conversation per PAR/PAN round trip (no PaC-initiated PAR), no
optimised initial exchange (EAP in the PAR [S]), the PAA never initiates re-authentication,
and a session whose requests go unanswered after MRC retransmissions is closed.
"""

from __future__ import annotations

import os
import random
import time
from dataclasses import dataclass
from enum import Enum
from typing import Callable, Protocol

from orchestrator.protocols import eap
from orchestrator.protocols.errors import ProtocolError
from orchestrator.protocols.pana import (
    AUTH_HMAC_SHA1_160,
    FLAG_A,
    FLAG_C,
    FLAG_E,
    FLAG_P,
    FLAG_R,
    FLAG_S,
    PRF_HMAC_SHA1,
    PRF_HMAC_SHA2_256,
    Avp,
    AvpCode,
    MessageType,
    PanaMessage,
    RequestVerdict,
    ResultCode,
    SequenceNumbers,
    TerminationCause,
    derive_pana_auth_key,
    sign,
    verify_auth,
)

__all__ = [
    "TimerParams",
    "PCI_TIMER",
    "REQ_TIMER",
    "RetransmissionTimer",
    "Event",
    "Output",
    "BackendResult",
    "PacState",
    "PaaState",
    "PacSession",
    "PaaSession",
    "NONCE_LENGTH",
    "DEFAULT_SESSION_LIFETIME",
]

NONCE_LENGTH = 20  # octets we send; RFC 5191 s8.5 accepts 8..256
MIN_NONCE, MAX_NONCE = 8, 256
DEFAULT_SESSION_LIFETIME = 3600  # seconds, when the AAA server sends no Session-Timeout
_U32 = 1 << 32

Clock = Callable[[], float]
Jitter = Callable[[], float]  # uniform in [0, 1)
Rng = Callable[[int], bytes]


# --- retransmission timers (RFC 5191 s9) -------------------------------------------------


@dataclass(frozen=True)
class TimerParams:
    """IRT, MRT (seconds), MRC (0 = no limit) and MRD (seconds, 0 = no limit)."""

    irt: float
    mrt: float
    mrc: int
    mrd: float = 0.0


PCI_TIMER = TimerParams(irt=1.0, mrt=120.0, mrc=0)  # RFC 5191 s9 PCI_IRT/MRT/MRC/MRD
REQ_TIMER = TimerParams(irt=1.0, mrt=30.0, mrc=10)  # RFC 5191 s9 REQ_IRT/MRT/MRC/MRD


class RetransmissionTimer:
    """One request's retransmission timer: `start` when it is first sent; when `expired`,
    `backoff` says whether to send it again (and re-arms) or to give up."""

    def __init__(self, params: TimerParams, clock: Clock, jitter: Jitter = random.random):
        self.params = params
        self._clock, self._jitter = clock, jitter
        self.rt: float | None = None
        self.deadline: float | None = None
        self.count = 0  # retransmissions so far
        self.started: float | None = None

    def _rand(self) -> float:
        return (self._jitter() * 2.0 - 1.0) * 0.1

    def start(self) -> float:
        now = self._clock()
        self.count, self.started = 0, now
        self.rt = self.params.irt + self._rand() * self.params.irt
        self.deadline = now + self.rt
        return self.rt

    def stop(self) -> None:
        self.deadline = None

    @property
    def running(self) -> bool:
        return self.deadline is not None

    def expired(self) -> bool:
        return self.deadline is not None and self._clock() >= self.deadline

    def backoff(self) -> bool:
        """After an expiry: True = retransmit now (timer re-armed), False = give up."""
        p, now = self.params, self._clock()
        if self.rt is None or (p.mrc and self.count >= p.mrc) or (
                p.mrd and now - self.started >= p.mrd):
            self.deadline = None
            return False
        self.count += 1
        rt = 2.0 * self.rt + self._rand() * self.rt
        if p.mrt and rt > p.mrt:
            rt = p.mrt + self._rand() * p.mrt
        self.rt, self.deadline = rt, now + rt
        return True


# --- what the machines return ------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    """Something a session reports. ``reason`` explains failures and drops; ``payload`` is
    the EAP packet of an ``eap_response`` (PAA: relay it to the EAP server)."""

    name: str
    reason: str = ""
    payload: bytes = b""


Output = tuple[list[bytes], list[Event]]


@dataclass(frozen=True)
class BackendResult:
    """The EAP server's answer to one relayed EAP Response (RFC 3579 terms)."""

    code: str  # "challenge" | "accept" | "reject" | "timeout"
    eap: bytes = b""
    msk: bytes | None = None
    session_lifetime: int | None = None
    reason: str = ""


class EapPeerLike(Protocol):
    """What the PaC needs from its EAP peer (`orchestrator.protocols.eap_tls.EapPeer`)."""

    def handle(self, eap_request: bytes) -> bytes | None: ...

    @property
    def msk(self) -> bytes | None: ...

    @property
    def failure_reason(self) -> str | None: ...


def _drop(reason: str) -> Output:
    return [], [Event("dropped", reason)]


def _u32(rng: Rng) -> int:
    return int.from_bytes(rng(4), "big")


def _peek(seqs: SequenceNumbers, seq: int) -> RequestVerdict:
    """`SequenceNumbers.check_request` without moving the window."""
    last = seqs.last_received_request
    if last is None or seq == (last + 1) % _U32:
        return RequestVerdict.NEW
    return RequestVerdict.RETRANSMISSION if seq == last else RequestVerdict.INVALID


def _seq_reason(seqs: SequenceNumbers, seq: int) -> str:
    last = seqs.last_received_request
    if 0 < (last - seq) % _U32 < _U32 // 2:
        return f"replayed sequence number {seq} (last received {last})"
    return f"out-of-window sequence number {seq} (expected {(last + 1) % _U32})"


def _all(msg: PanaMessage, code: int) -> list[Avp]:
    return [a for a in msg.avps if a.code == code and a.vendor_id is None]


def _unsigned(msg: PanaMessage, code: int) -> int | None:
    avp = msg.find(code)
    if avp is None:
        return None
    try:
        return avp.as_unsigned32()
    except ProtocolError:
        return None


def _nonce_ok(avp: Avp | None) -> bool:
    return avp is not None and MIN_NONCE <= len(avp.value) <= MAX_NONCE


@dataclass
class _Pending:
    raw: bytes
    msg: PanaMessage
    timer: RetransmissionTimer


class _Endpoint:
    """What both PANA entities share: session identity, sequence numbers, keys, the one
    outstanding request with its timer, the cached last answer, AUTH handling."""

    role = ""

    def __init__(self, *, clock: Clock, rng: Rng, jitter: Jitter, req_timer: TimerParams):
        self._clock, self._rng, self._jitter = clock, rng, jitter
        self._req_timer = req_timer
        self.session_id = 0
        self.seqs = SequenceNumbers(_u32(rng))
        self.preauth = False  # RFC 5873 session
        self.active = False  # attached (always true for a session that is not pre-auth)
        self.prf = PRF_HMAC_SHA1
        self.integrity = AUTH_HMAC_SHA1_160
        self.i_par: bytes | None = None
        self.i_pan: bytes | None = None
        self.pac_nonce: bytes | None = None
        self.paa_nonce: bytes | None = None
        self.msk: bytes | None = None
        self.key_id: int | None = None
        self.pana_auth_key: bytes | None = None
        self.session_lifetime: int | None = None
        self.expires_at: float | None = None
        self.rounds = 0  # PAR/PAN exchanges of the current EAP run
        self.failure_reason: str | None = None
        self._pending: _Pending | None = None
        self._last_answer: bytes | None = None

    # -- sending ------------------------------------------------------------------------

    def _encode(self, msg: PanaMessage, key: bytes | None = None) -> bytes:
        key = key if key is not None else self.pana_auth_key
        return sign(msg, key) if key is not None else msg.encode()

    def _e_flag(self) -> int:
        return FLAG_E if self.preauth and not self.active else 0

    def _request(self, msg_type: int, flags: int, avps: tuple[Avp, ...],
                 key: bytes | None = None) -> bytes:
        msg = PanaMessage(msg_type, flags | FLAG_R, self.session_id, self.seqs.next_request(),
                          avps)
        raw = self._encode(msg, key)
        timer = RetransmissionTimer(self._req_timer, self._clock, self._jitter)
        timer.start()
        self._pending = _Pending(raw, msg, timer)
        return raw

    def _answer(self, request: PanaMessage, flags: int, avps: tuple[Avp, ...] = (),
                key: bytes | None = None) -> bytes:
        msg = PanaMessage(request.msg_type, flags & ~FLAG_R, self.session_id, request.seq, avps)
        self._last_answer = self._encode(msg, key)
        return self._last_answer

    @property
    def busy(self) -> bool:
        """A request of ours is waiting for its answer (only one may be outstanding)."""
        return self._pending is not None

    # -- time ---------------------------------------------------------------------------

    def next_deadline(self) -> float | None:
        """When `poll` has something to do next (clock units), or None."""
        times = [t for t in (self._pending.timer.deadline if self._pending else None,
                             self.expires_at) if t is not None]
        return min(times) if times else None

    def poll(self) -> Output:
        """Retransmit an unanswered request, give up on it, or expire the session."""
        out: list[bytes] = []
        events: list[Event] = []
        pending = self._pending
        if pending is not None and pending.timer.expired():
            if pending.timer.backoff():
                out.append(pending.raw)
                events.append(Event("retransmitted", pending.msg.name))
            else:
                self._pending = None
                reason = (f"no answer to {pending.msg.name} after {pending.timer.count} "
                          "retransmissions")
                events += self._give_up(reason)
        if self.expires_at is not None and self._clock() >= self.expires_at and self.is_open:
            self._close()
            events.append(Event("expired", f"Session-Lifetime {self.session_lifetime} s over"))
        return out, events

    # -- receiving ----------------------------------------------------------------------

    def receive(self, data: bytes) -> Output:
        try:
            msg = PanaMessage.decode(data)
        except ProtocolError as exc:
            return _drop(f"malformed: {exc.reason}")
        raw = bytes(data)
        if msg.msg_type == MessageType.CLIENT_INITIATION:
            return _drop("PCI for an existing session")
        if not self._session_matches(msg):
            return _drop(f"unknown Session Identifier {msg.session_id}")
        if msg.is_request:
            return self._receive_request(msg, raw)
        return self._receive_answer(msg, raw)

    def _receive_request(self, msg: PanaMessage, raw: bytes) -> Output:
        verdict = _peek(self.seqs, msg.seq)
        if verdict == RequestVerdict.INVALID:
            return _drop(_seq_reason(self.seqs, msg.seq))
        deferred = verdict == RequestVerdict.NEW and self._defers_auth(msg)
        if not deferred and (reason := self._auth_problem(raw)):
            return _drop(reason)
        if verdict == RequestVerdict.RETRANSMISSION:
            out = [self._last_answer] if self._last_answer is not None else []
            return out, [Event("duplicate_answered", msg.name)]
        if not deferred and (reason := self._request_problem(msg)):
            return _drop(reason)
        if not deferred:
            self.seqs.check_request(msg.seq)
        return self._on_request(msg, raw)

    def _receive_answer(self, msg: PanaMessage, raw: bytes) -> Output:
        pending = self._pending
        if (pending is None or msg.msg_type != pending.msg.msg_type
                or not self.seqs.check_answer(msg.seq)):
            return _drop(f"unexpected {msg.name} (sequence number {msg.seq})")
        if reason := self._auth_problem(raw):
            return _drop(reason)
        if reason := self._answer_problem(msg, pending.msg):
            return _drop(reason)
        pending.timer.stop()
        self._pending = None
        return self._on_answer(msg, raw, pending.msg)

    def _auth_problem(self, raw: bytes, key: bytes | None = None) -> str | None:
        """None if the AUTH AVP is right (or no key exists yet), else why it is not."""
        key = key if key is not None else self.pana_auth_key
        if key is None:
            return None
        try:
            return None if verify_auth(key, raw) else "bad AUTH"
        except ProtocolError as exc:
            return f"bad AUTH: {exc.reason}"

    def _derive_key(self, msk: bytes, pac_nonce: bytes, paa_nonce: bytes, key_id: int) -> bytes:
        return derive_pana_auth_key(msk, self.i_par, self.i_pan, pac_nonce, paa_nonce, key_id,
                                    prf=self.prf, integrity_algorithm=self.integrity)

    def _established(self, lifetime: int) -> None:
        self.session_lifetime = lifetime
        self.expires_at = self._clock() + lifetime

    # -- hooks --------------------------------------------------------------------------

    @property
    def is_open(self) -> bool:  # overridden
        return False

    def _session_matches(self, msg: PanaMessage) -> bool:
        return msg.session_id == self.session_id and self.session_id != 0

    def _defers_auth(self, msg: PanaMessage) -> bool:
        return False

    def _request_problem(self, msg: PanaMessage) -> str | None:
        return None

    def _answer_problem(self, msg: PanaMessage, request: PanaMessage) -> str | None:
        return None

    def _on_request(self, msg: PanaMessage, raw: bytes) -> Output:
        raise NotImplementedError

    def _on_answer(self, msg: PanaMessage, raw: bytes, request: PanaMessage) -> Output:
        raise NotImplementedError

    def _give_up(self, reason: str) -> list[Event]:
        raise NotImplementedError

    def _close(self) -> None:
        raise NotImplementedError

    # -- PNR / PTR, either side (RFC 5191 s4.3, s4.4) -------------------------------------

    def ping(self) -> Output:
        if not self.is_open:
            return [], [Event("refused", "ping needs an established session")]
        if self.busy:
            return [], [Event("refused", "a request is outstanding")]
        return [self._request(MessageType.NOTIFICATION, FLAG_P, ())], []

    def terminate(self, cause: int = TerminationCause.LOGOUT) -> Output:
        if not self.is_open:
            return [], [Event("refused", "terminate needs an established session")]
        if self.busy:  # a request is outstanding: termination takes precedence
            self._pending = None
        avps = (Avp.unsigned32(AvpCode.TERMINATION_CAUSE, int(cause)),)
        return [self._request(MessageType.TERMINATION, 0, avps)], []

    def _on_ptr(self, msg: PanaMessage) -> Output:
        cause = _unsigned(msg, AvpCode.TERMINATION_CAUSE)
        answer = self._answer(msg, 0)
        self._close()
        return [answer], [Event("terminated", _cause_name(cause))]


def _cause_name(cause: int | None) -> str:
    try:
        return TerminationCause(cause).name
    except ValueError:
        return f"Termination-Cause {cause}"


def _result_name(code: int | None) -> str:
    try:
        return ResultCode(code).name
    except ValueError:
        return f"Result-Code {code}"


# --- the PaC -----------------------------------------------------------------------------


class PacState(str, Enum):
    INITIAL = "initial"
    WAIT_PAA = "wait-paa"  # PCI sent, waiting for PAR [S]
    AUTHENTICATING = "authenticating"
    PREAUTHENTICATED = "pre-authenticated"  # RFC 5873: keys, not yet attached
    OPEN = "open"
    REAUTHENTICATING = "reauthenticating"
    TERMINATING = "terminating"
    CLOSED = "closed"


class PacSession(_Endpoint):
    """The PaC's side of one PANA session (RFC 5191 s4; RFC 5873 when ``preauth``).

    ``eap_peer_factory`` makes a fresh EAP peer for each EAP run (first authentication and
    each re-authentication). Keys (`msk`, `pana_auth_key`, `key_id`) are set only after a
    PAR [C] with PANA_SUCCESS whose AUTH verified.
    """

    role = "PaC"

    def __init__(self, eap_peer_factory: Callable[[], EapPeerLike], *, preauth: bool = False,
                 clock: Clock = time.monotonic, rng: Rng = os.urandom,
                 jitter: Jitter = random.random, pci_timer: TimerParams = PCI_TIMER,
                 req_timer: TimerParams = REQ_TIMER,
                 prf_algorithms: tuple[int, ...] = (PRF_HMAC_SHA1, PRF_HMAC_SHA2_256)):
        super().__init__(clock=clock, rng=rng, jitter=jitter, req_timer=req_timer)
        self._new_peer = eap_peer_factory
        self.preauth = preauth
        self.active = not preauth
        self.state = PacState.INITIAL
        self.eap_peer: EapPeerLike | None = None
        self.result_code: int | None = None
        self._pci_timer = pci_timer
        self._prfs = prf_algorithms
        self._run_paa_nonce: bytes | None = None
        self._run_pac_nonce: bytes | None = None
        self._final_eap: tuple[int, bytes] | None = None  # (seq, payload) handed to the peer
        self._attaching = False

    @property
    def is_open(self) -> bool:
        return self.state in (PacState.OPEN, PacState.PREAUTHENTICATED,
                              PacState.REAUTHENTICATING)

    @property
    def established(self) -> bool:
        return self.state in (PacState.OPEN, PacState.PREAUTHENTICATED)

    def start(self) -> Output:
        """Send the PCI (E set for pre-authentication, RFC 5873 s3)."""
        if self.state != PacState.INITIAL:
            return [], [Event("refused", f"start in state {self.state.value}")]
        msg = PanaMessage(MessageType.CLIENT_INITIATION, FLAG_E if self.preauth else 0)
        raw = msg.encode()
        timer = RetransmissionTimer(self._pci_timer, self._clock, self._jitter)
        timer.start()
        self._pending = _Pending(raw, msg, timer)
        self.state = PacState.WAIT_PAA
        return [raw], []

    def reauthenticate(self) -> Output:
        """PNR [A] (RFC 5191 s4.2): ask the PAA to run EAP again."""
        if not self.established:
            return [], [Event("refused", f"re-authentication in state {self.state.value}")]
        if self.busy:
            return [], [Event("refused", "a request is outstanding")]
        self._begin_eap_run()
        self.state = PacState.REAUTHENTICATING
        return [self._request(MessageType.NOTIFICATION, FLAG_A, ())], []

    def attach(self) -> Output:
        """After the move (RFC 5873): authenticated PNR [P] from the new address."""
        if self.state != PacState.PREAUTHENTICATED:
            return [], [Event("refused", f"attach in state {self.state.value}")]
        out, events = self.ping()
        self._attaching = bool(out)
        return out, events

    def detach(self) -> Output:
        """The MN has left the PAA's network and keeps the MPA-SA (RFC 6252 C.2): back to
        ``pre-authenticated``, so that `attach` proves possession of the keys on return.
        Local: PANA has no message for it; the PAA learns it from the network (detach)."""
        if self.state != PacState.OPEN:
            return [], [Event("refused", f"detach in state {self.state.value}")]
        self._pending = None
        self._attaching = False
        self.state = PacState.PREAUTHENTICATED
        return [], [Event("detached", "the MN left the PAA's network; MPA-SA kept")]

    def terminate(self, cause: int = TerminationCause.LOGOUT) -> Output:
        out, events = super().terminate(cause)
        if out:
            self.state = PacState.TERMINATING
        return out, events

    def _begin_eap_run(self) -> None:
        self.eap_peer = self._new_peer()
        self._run_paa_nonce = self._run_pac_nonce = None
        self._final_eap = None
        self.rounds = 0

    def _close(self) -> None:
        self.state = PacState.CLOSED
        self._pending = None
        self.expires_at = None

    def _give_up(self, reason: str) -> list[Event]:
        failed_auth = self.state in (PacState.WAIT_PAA, PacState.AUTHENTICATING)
        self.failure_reason = reason
        self._close()
        return [Event("auth_failed" if failed_auth else "timeout", reason)]

    def _session_matches(self, msg: PanaMessage) -> bool:
        if self.state == PacState.WAIT_PAA:
            return msg.msg_type == MessageType.AUTH and bool(msg.flags & FLAG_S)
        return super()._session_matches(msg)

    def _defers_auth(self, msg: PanaMessage) -> bool:
        # The final PAR is protected with the key its own EAP-Success makes (s5.3).
        return msg.msg_type == MessageType.AUTH and bool(msg.flags & FLAG_C)

    def _request_problem(self, msg: PanaMessage) -> str | None:
        if msg.msg_type == MessageType.AUTH:
            if bool(msg.flags & FLAG_E) != bool(self._e_flag()):
                return "E flag does not match the session (RFC 5873 s3)"
            if msg.flags & FLAG_S and self.state != PacState.WAIT_PAA:
                return f"PAR [S] in state {self.state.value}"
            if not msg.flags & FLAG_S and self.state not in (PacState.AUTHENTICATING,
                                                              PacState.REAUTHENTICATING):
                return f"PAR in state {self.state.value}"
            if (not msg.flags & (FLAG_S | FLAG_C) and self._run_paa_nonce is None
                    and not _nonce_ok(msg.find(AvpCode.NONCE))):
                return "first PAR of an EAP run without a valid Nonce (RFC 5191 s4.1)"
        return None

    def _on_request(self, msg: PanaMessage, raw: bytes) -> Output:
        if msg.msg_type == MessageType.AUTH:
            if msg.flags & FLAG_S:
                return self._on_initial_par(msg, raw)
            if msg.flags & FLAG_C:
                return self._on_final_par(msg, raw)
            return self._on_par(msg)
        if msg.msg_type == MessageType.NOTIFICATION:
            return [self._answer(msg, msg.flags & (FLAG_P | FLAG_A))], [Event("ping_received")]
        if msg.msg_type == MessageType.TERMINATION:
            return self._on_ptr(msg)
        return _drop(f"unexpected {msg.name}")

    def _on_initial_par(self, msg: PanaMessage, raw: bytes) -> Output:
        offered_prf = [a.as_unsigned32() for a in _all(msg, AvpCode.PRF_ALGORITHM)
                       if len(a.value) == 4]
        offered_int = [a.as_unsigned32() for a in _all(msg, AvpCode.INTEGRITY_ALGORITHM)
                       if len(a.value) == 4]
        prf = next((p for p in offered_prf if p in self._prfs), None)
        if prf is None or AUTH_HMAC_SHA1_160 not in offered_int:
            self._close()
            self.failure_reason = (f"no common algorithm: PRF {offered_prf}, "
                                   f"integrity {offered_int}")
            return [], [Event("auth_failed", self.failure_reason)]
        self._pending = None  # stops the PCI timer
        self.session_id, self.prf, self.integrity = msg.session_id, prf, AUTH_HMAC_SHA1_160
        self.i_par = raw
        avps = (Avp.unsigned32(AvpCode.PRF_ALGORITHM, prf),
                Avp.unsigned32(AvpCode.INTEGRITY_ALGORITHM, AUTH_HMAC_SHA1_160))
        self.i_pan = self._answer(msg, FLAG_S | self._e_flag(), avps)
        self.state = PacState.AUTHENTICATING
        self._begin_eap_run()
        self.rounds = 1
        return [self.i_pan], []

    def _take_nonce(self, msg: PanaMessage) -> tuple[Avp, ...]:
        """The first PAR of an EAP run carries the PAA's Nonce; our PAN returns ours."""
        if self._run_paa_nonce is not None:
            return ()
        nonce = msg.find(AvpCode.NONCE)
        if not _nonce_ok(nonce):
            return ()
        self._run_paa_nonce = nonce.value
        self._run_pac_nonce = self._rng(NONCE_LENGTH)
        return (Avp(AvpCode.NONCE, self._run_pac_nonce),)

    def _on_par(self, msg: PanaMessage) -> Output:
        self.rounds += 1
        avps = self._take_nonce(msg)
        events: list[Event] = []
        payload = msg.find(AvpCode.EAP_PAYLOAD)
        if payload is not None:
            try:
                response = self.eap_peer.handle(payload.value)
            except ProtocolError as exc:
                response = None
                events.append(Event("eap_discarded", exc.reason))
            if response:
                avps += (Avp(AvpCode.EAP_PAYLOAD, response),)
        return [self._answer(msg, self._e_flag(), avps)], events

    def _on_final_par(self, msg: PanaMessage, raw: bytes) -> Output:
        result = _unsigned(msg, AvpCode.RESULT_CODE)
        if result is None:
            return _drop("PAR [C] without Result-Code")
        if reason := self._request_problem(msg):
            return _drop(reason)
        payload = msg.find(AvpCode.EAP_PAYLOAD)
        if payload is not None and self._final_eap != (msg.seq, payload.value):
            self._final_eap = (msg.seq, payload.value)
            try:
                self.eap_peer.handle(payload.value)
            except ProtocolError:
                pass  # RFC 3748 s4.1: discarded; the outcome below decides
        reauth = self.state == PacState.REAUTHENTICATING
        msk = self.eap_peer.msk if self.eap_peer is not None else None
        key_id = _unsigned(msg, AvpCode.KEY_ID)
        if result == ResultCode.PANA_SUCCESS and msk is not None:
            if key_id is None or self._run_paa_nonce is None:
                return _drop("PAR [C] with PANA_SUCCESS lacks Key-Id or no nonces exchanged")
            key = self._derive_key(msk, self._run_pac_nonce, self._run_paa_nonce, key_id)
            if reason := self._auth_problem(raw, key):
                return _drop(reason)
            self.seqs.check_request(msg.seq)
            self.result_code = result
            self.msk, self.key_id, self.pana_auth_key = msk, key_id, key
            self.pac_nonce, self.paa_nonce = self._run_pac_nonce, self._run_paa_nonce
            self._established(_unsigned(msg, AvpCode.SESSION_LIFETIME)
                              or DEFAULT_SESSION_LIFETIME)
            self.state = PacState.OPEN if self.active else PacState.PREAUTHENTICATED
            self.rounds += 1
            answer = self._answer(msg, FLAG_C | self._e_flag(),
                                  (Avp.unsigned32(AvpCode.KEY_ID, key_id),))
            return [answer], [Event("reauthenticated" if reauth else "established")]
        # failure: protected with the key of the session, if there is one (re-authentication)
        if reason := self._auth_problem(raw):
            return _drop(reason)
        self.seqs.check_request(msg.seq)
        self.result_code = result
        if result == ResultCode.PANA_SUCCESS:
            reason = "PAR [C] says PANA_SUCCESS but EAP gave no MSK"
        else:
            peer_reason = self.eap_peer.failure_reason if self.eap_peer else None
            reason = f"{_result_name(result)}" + (f": {peer_reason}" if peer_reason else "")
        answer = self._answer(msg, FLAG_C | self._e_flag())
        self.failure_reason = reason
        self.msk = self.pana_auth_key = self.key_id = None
        self._close()
        return [answer], [Event("auth_failed", reason)]

    def _on_answer(self, msg: PanaMessage, raw: bytes, request: PanaMessage) -> Output:
        if msg.msg_type == MessageType.TERMINATION:
            self._close()
            return [], [Event("terminated", "answered")]
        if msg.msg_type == MessageType.NOTIFICATION:
            if request.flags & FLAG_A:
                return [], [Event("reauth_accepted")]
            if self._attaching:
                self._attaching = False
                self.active = True
                self.state = PacState.OPEN
                return [], [Event("activated")]
            return [], [Event("ping_answered")]
        return _drop(f"unexpected {msg.name}")


# --- the PAA -----------------------------------------------------------------------------


class PaaState(str, Enum):
    INITIAL = "initial"
    WAIT_PAN_S = "wait-pan-s"  # PAR [S] sent
    WAIT_PAN = "wait-pan"  # PAR with EAP sent
    WAIT_BACKEND = "wait-backend"  # EAP Response relayed, waiting for the EAP server
    WAIT_PAN_C = "wait-pan-c"  # PAR [C] sent
    PREAUTHENTICATED = "pre-authenticated"
    OPEN = "open"                  # authorized: the PaC is attached to the PAA's network
    UNAUTHORIZED = "unauthorized"  # RFC 6252 C.2: the PaC left; the MPA-SA is kept
    CLOSED = "closed"


class PaaSession(_Endpoint):
    """The PAA's side of one PANA session, created by a PCI (`start`).

    ``session_id`` must be unique at this PAA (the caller's table decides). EAP goes out as
    ``Event("eap_response", payload=...)`` and comes back through `backend_result`.
    """

    role = "PAA"

    def __init__(self, session_id: int | None = None, *, supports_preauth: bool = True,
                 session_lifetime: int = DEFAULT_SESSION_LIFETIME,
                 clock: Clock = time.monotonic, rng: Rng = os.urandom,
                 jitter: Jitter = random.random, req_timer: TimerParams = REQ_TIMER,
                 prf_algorithms: tuple[int, ...] = (PRF_HMAC_SHA1, PRF_HMAC_SHA2_256)):
        super().__init__(clock=clock, rng=rng, jitter=jitter, req_timer=req_timer)
        self.session_id = session_id or (_u32(rng) or 1)
        self.supports_preauth = supports_preauth
        self.default_lifetime = session_lifetime
        self.state = PaaState.INITIAL
        self.identity = ""
        self.reauthenticating = False
        self._prfs = prf_algorithms
        self._next_key_id = _u32(rng)
        self._run_paa_nonce: bytes | None = None
        self._run_pac_nonce: bytes | None = None
        self._eap_id = 0  # Identifier of the last EAP Response relayed
        self._success = False

    @property
    def is_open(self) -> bool:
        return self.state in (PaaState.OPEN, PaaState.PREAUTHENTICATED,
                              PaaState.UNAUTHORIZED) or (
            self.reauthenticating and self.state != PaaState.CLOSED)

    @property
    def established(self) -> bool:
        return self.state in (PaaState.OPEN, PaaState.PREAUTHENTICATED, PaaState.UNAUTHORIZED)

    def detach(self, keep: float | None = None) -> Output:
        """The PaC has left this PAA's network (RFC 6252 C.2): authorized -> unauthorized,
        the MPA-SA kept; it expires `keep` seconds from now (None: at its Session-Lifetime,
        whichever comes first)."""
        if self.state != PaaState.OPEN:
            return [], [Event("refused", f"detach in state {self.state.value}")]
        self.state = PaaState.UNAUTHORIZED
        self.active = False
        if keep is not None:
            until = self._clock() + keep
            self.expires_at = until if self.expires_at is None else min(self.expires_at, until)
        return [], [Event("unauthorized", "the PaC left the network; MPA-SA kept"
                          + (f" for {keep:g} s" if keep is not None else ""))]

    def start(self, pci: bytes) -> Output:
        """Answer a PCI with the initial PAR [S] (RFC 5191 s4.1)."""
        if self.state != PaaState.INITIAL:
            return [], [Event("refused", f"start in state {self.state.value}")]
        try:
            msg = PanaMessage.decode(pci)
        except ProtocolError as exc:
            return _drop(f"malformed: {exc.reason}")
        if msg.msg_type != MessageType.CLIENT_INITIATION:
            return _drop(f"{msg.name} where a PCI was expected")
        self.preauth = bool(msg.flags & FLAG_E)
        if self.preauth and not self.supports_preauth:
            self.state = PaaState.CLOSED
            return _drop("PCI with E flag: pre-authentication not supported (RFC 5873 s3)")
        self.active = not self.preauth
        avps = tuple(Avp.unsigned32(AvpCode.PRF_ALGORITHM, p) for p in self._prfs)
        avps += (Avp.unsigned32(AvpCode.INTEGRITY_ALGORITHM, AUTH_HMAC_SHA1_160),)
        self.i_par = self._request(MessageType.AUTH, FLAG_S | self._e_flag(), avps)
        self.state = PaaState.WAIT_PAN_S
        return [self.i_par], []

    def _begin_eap_run(self) -> bytes:
        """The first PAR of an EAP run: our Nonce and EAP-Request/Identity."""
        self._run_paa_nonce = self._rng(NONCE_LENGTH)
        self._run_pac_nonce = None
        self.rounds += 1
        identity_request = eap.identity_request(self._rng(1)[0]).encode()
        avps = (Avp(AvpCode.NONCE, self._run_paa_nonce),
                Avp(AvpCode.EAP_PAYLOAD, identity_request))
        self.state = PaaState.WAIT_PAN
        return self._request(MessageType.AUTH, self._e_flag(), avps)

    def backend_result(self, result: BackendResult) -> Output:
        """The EAP server's answer to the last ``eap_response`` (RFC 3579 pass-through)."""
        if self.state != PaaState.WAIT_BACKEND:
            return [], [Event("refused", f"backend result in state {self.state.value}")]
        if result.code == "challenge" and result.eap:
            self.rounds += 1
            self.state = PaaState.WAIT_PAN
            return [self._request(MessageType.AUTH, self._e_flag(),
                                  (Avp(AvpCode.EAP_PAYLOAD, result.eap),))], []
        if result.code == "accept" and result.msk is not None:
            return self._final_par_success(result)
        reason = result.reason or {"accept": "Access-Accept without an MSK",
                                   "reject": "AAA server rejected the authentication",
                                   "timeout": "no answer from the AAA server",
                                   "challenge": "AAA challenge without EAP"}.get(
                                       result.code, f"AAA result {result.code}")
        code = (ResultCode.PANA_AUTHORIZATION_REJECTED if result.code == "accept"
                else ResultCode.PANA_AUTHENTICATION_REJECTED)
        failure = result.eap or eap.failure(self._eap_id).encode()
        avps = (Avp.unsigned32(AvpCode.RESULT_CODE, code), Avp(AvpCode.EAP_PAYLOAD, failure))
        self.failure_reason, self._success = reason, False
        self.state = PaaState.WAIT_PAN_C
        return [self._request(MessageType.AUTH, FLAG_C | self._e_flag(), avps)], [
            Event("auth_failed", reason)]

    def _final_par_success(self, result: BackendResult) -> Output:
        key_id = self._next_key_id
        self._next_key_id = (key_id + 1) % _U32
        key = self._derive_key(result.msk, self._run_pac_nonce, self._run_paa_nonce, key_id)
        self.msk, self.key_id, self.pana_auth_key = result.msk, key_id, key
        self.pac_nonce, self.paa_nonce = self._run_pac_nonce, self._run_paa_nonce
        lifetime = min(result.session_lifetime or self.default_lifetime, _U32 - 1)
        self.session_lifetime = lifetime
        avps = (Avp.unsigned32(AvpCode.RESULT_CODE, ResultCode.PANA_SUCCESS),
                Avp(AvpCode.EAP_PAYLOAD, result.eap or eap.success(self._eap_id).encode()),
                Avp.unsigned32(AvpCode.KEY_ID, key_id),
                Avp.unsigned32(AvpCode.SESSION_LIFETIME, lifetime))
        self._success = True
        self.rounds += 1
        self.state = PaaState.WAIT_PAN_C
        return [self._request(MessageType.AUTH, FLAG_C | self._e_flag(), avps)], []

    def _close(self) -> None:
        self.state = PaaState.CLOSED
        self._pending = None
        self.expires_at = None
        self.reauthenticating = False

    def _give_up(self, reason: str) -> list[Event]:
        if self.state == PaaState.WAIT_PAN_C and not self._success:
            self._close()  # the failure was reported when the EAP server said so
            return [Event("closed", reason)]
        authenticating = not self.established and not self.reauthenticating
        self.failure_reason = reason
        self._close()
        return [Event("auth_failed" if authenticating else "timeout", reason)]

    def _request_problem(self, msg: PanaMessage) -> str | None:
        if msg.msg_type == MessageType.AUTH:
            return "PaC-initiated PAR is not supported (EAP rides in PANs)"
        if msg.msg_type == MessageType.NOTIFICATION and not self.is_open:
            return f"PNR in state {self.state.value}"
        return None

    def _answer_problem(self, msg: PanaMessage, request: PanaMessage) -> str | None:
        if msg.msg_type == MessageType.AUTH:
            if bool(msg.flags & FLAG_E) != bool(request.flags & FLAG_E):
                return "E flag does not match the session (RFC 5873 s3)"
            if (msg.flags & (FLAG_S | FLAG_C)) != (request.flags & (FLAG_S | FLAG_C)):
                return "S/C flags of the PAN do not match the PAR"
            if request.find(AvpCode.NONCE) is not None and not _nonce_ok(
                    msg.find(AvpCode.NONCE)):
                return "PAN without a valid Nonce"
            if (msg.flags & FLAG_C and self._success
                    and _unsigned(msg, AvpCode.KEY_ID) != self.key_id):
                return "PAN [C] without the Key-Id of the PAR [C]"
        return None

    def _on_request(self, msg: PanaMessage, raw: bytes) -> Output:
        if msg.msg_type == MessageType.TERMINATION:
            return self._on_ptr(msg)
        if msg.msg_type == MessageType.NOTIFICATION:
            if msg.flags & FLAG_A and not self.reauthenticating and not self.busy:
                answer = self._answer(msg, FLAG_A)
                self.reauthenticating = True
                self.rounds = 0
                return [answer, self._begin_eap_run()], [Event("reauth_started")]
            answer = self._answer(msg, msg.flags & (FLAG_P | FLAG_A))
            if msg.flags & FLAG_P and self.state == PaaState.PREAUTHENTICATED:
                self.active = True  # the PaC has moved (RFC 5873; RFC 5191 s5.6)
                self.state = PaaState.OPEN
                return [answer], [Event("activated")]
            if msg.flags & FLAG_P and self.state == PaaState.UNAUTHORIZED:
                self.active = True  # back, with proof of possession (the AUTH verified)
                self.state = PaaState.OPEN
                return [answer], [Event("authorized", "proof of possession of the MPA-SA")]
            return [answer], [Event("ping_received")]
        return _drop(f"unexpected {msg.name}")

    def _on_answer(self, msg: PanaMessage, raw: bytes, request: PanaMessage) -> Output:
        if msg.msg_type == MessageType.AUTH:
            if msg.flags & FLAG_S:
                return self._on_initial_pan(msg, raw)
            if msg.flags & FLAG_C:
                return self._on_final_pan(msg)
            return self._on_pan(msg, request)
        if msg.msg_type == MessageType.TERMINATION:
            self._close()
            return [], [Event("terminated", "answered")]
        return [], [Event("ping_answered")]

    def _on_initial_pan(self, msg: PanaMessage, raw: bytes) -> Output:
        prf = _unsigned(msg, AvpCode.PRF_ALGORITHM)
        integrity = _unsigned(msg, AvpCode.INTEGRITY_ALGORITHM)
        if prf not in self._prfs or integrity != AUTH_HMAC_SHA1_160:
            self.failure_reason = f"PaC chose PRF {prf}, integrity {integrity}"
            self._close()
            return [], [Event("auth_failed", self.failure_reason)]
        self.prf, self.integrity, self.i_pan = prf, integrity, raw
        return [self._begin_eap_run()], []

    def _on_pan(self, msg: PanaMessage, request: PanaMessage) -> Output:
        if request.find(AvpCode.NONCE) is not None:
            self._run_pac_nonce = msg.find(AvpCode.NONCE).value
        payload = msg.find(AvpCode.EAP_PAYLOAD)
        if payload is None:
            reason = "PaC answered without an EAP Response"
            self.failure_reason = reason
            self._close()
            return [], [Event("auth_failed", reason)]
        try:
            packet = eap.EapPacket.decode(payload.value)
            self._eap_id = packet.identifier
            if packet.code == eap.Code.RESPONSE and packet.type == eap.EapType.IDENTITY:
                self.identity = eap.identity_of(packet)
        except ProtocolError:
            pass  # the EAP server judges it
        self.state = PaaState.WAIT_BACKEND
        return [], [Event("eap_response", payload=payload.value)]

    def _on_final_pan(self, msg: PanaMessage) -> Output:
        reauth, self.reauthenticating = self.reauthenticating, False
        if not self._success:
            self._close()
            return [], [Event("closed", self.failure_reason or "authentication failed")]
        self._established(self.session_lifetime)
        self.state = PaaState.OPEN if self.active else PaaState.PREAUTHENTICATED
        return [], [Event("reauthenticated" if reauth else "established")]
