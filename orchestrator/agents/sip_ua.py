"""SIP mobility (RFC 6252 s7.5, C.5.1): a SIP user agent, the CN's RTP stream, the MN's RTP log.

Who does what:
- `SipUserAgent` speaks SIP over UDP (protocols/sip.py): it calls (INVITE, ACK), answers
  (100, 200 with an SDP answer, waiting for the ACK), sends the binding update -- a re-INVITE
  whose Contact and SDP c= name a new address, sent *from* that address (`reinvite`) -- and,
  on receiving one, tells its media where the stream now goes; BYE. Each of its sockets is
  bound to one local address, so the source address of a message is chosen by choosing the
  socket: the MN's re-INVITE leaves from its nCoA, hence over the proactive handover tunnel
  (s6.3 step 3), and the 200 OK comes back there.
- `RtpSender` is the CN's stream: one RTP packet (RFC 3550) every `interval` (16 ms by
  default, the RFC's measurement), payload type 0, 160 octets, on an absolute schedule.
- `RtpReceiver` is the MN's end: it logs every packet as one JSON line -- arrival
  CLOCK_MONOTONIC ns, sequence number, RTP timestamp, SSRC, source and receiving address
  (IP_PKTINFO: the destination address of the IP header, so one socket on 0.0.0.0 tells oCoA
  from nCoA). experiment/media.py turns that log into Figure 7's metrics.
- `CorrespondentNode` and `MobileNodeMedia` wire a UA to its stream; an agent role only has
  to create one and expose its methods as commands.
- Several contact addresses (RFC 6252 C.4, third scheme): the MN's re-INVITE may name more
  than one Contact (`reinvite(address, also=[...])`: its nCoAs in several CTNs, obtained
  through their proactive handover tunnels). The CN then sends its stream to the SDP's
  address and a transient copy to each further contact address (at the SDP's media port),
  "multiple media streams stem out of the CN, using the transient tunnels", until a
  re-INVITE with one contact ends them: "another binding update after the handover, with
  the contact address set to the new address (only one address)". The CN counts what each
  transient stream cost (packets, octets, how long): C.4's "consumption of extra bandwidth
  for a small period of time".

Events (EventLog): phase "setup": `call_setup_start`, `call_established`, `call_failed`,
`call_answered`, `call_ended`; phase "binding-update": `binding_update_start` (MN, when the
re-INVITE is sent), `binding_update_done` (MN, when its 200 OK arrives),
`binding_update_failed`, `binding_update_received` (CN: the media destination moved);
`transient_streams_start` / `transient_streams_end` (CN: copies to further contact
addresses began / ended, with packets and octets per address, C.4).

Transactions follow RFC 3261 s17 over UDP, simplified: requests are retransmitted from T1,
doubling (INVITE until a response; others up to T2), and given up after 64*T1; a 2xx to an
INVITE is retransmitted until the ACK arrives (s13.3.1.4); retransmitted requests are
answered from a cache of the last response. No proxies, no DNS, no authentication, no
CANCEL of our own; an INVITE without SDP is answered 488.
"""
from __future__ import annotations

import argparse
import json
import os
import queue
import random
import selectors
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..events import EventLog
from ..protocols import rtp, sip
from ..protocols.errors import ProtocolError
from .health import Loop

IP_PKTINFO = getattr(socket, "IP_PKTINFO", 8)        # Linux values (<linux/in.h>)
IP_FREEBIND = getattr(socket, "IP_FREEBIND", 15)
MAX_DATAGRAM = 65535
ALLOW = "INVITE, ACK, BYE, OPTIONS"
PCMU_SILENCE = 0xFF

Address = tuple[str, int]


class SipError(RuntimeError):
    """A call, re-INVITE or BYE did not succeed (timeout or an error response)."""


def _fmt(addr: Address) -> str:
    """'ip:port' (an IPv6 socket address has four fields: the first two are these)."""
    return f"{addr[0]}:{addr[1]}"


def udp_socket(address: str, port: int, freebind: bool = True) -> socket.socket:
    """A UDP socket bound to (address, port), IPv4 or IPv6 as the address is (a Mobile IPv6
    home address, issue 14). IP_FREEBIND lets the MN bind its nCoA before the address is
    configured on an interface (it is, once the tunnel or the move is done)."""
    s = socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET, socket.SOCK_DGRAM)
    if freebind:
        try:
            s.setsockopt(socket.IPPROTO_IP, IP_FREEBIND, 1)
        except OSError:
            pass
    s.bind((address, port))
    return s


class _NullLog:
    def emit(self, event, phase=None, mono_ns=None, **attrs):
        return {}


@dataclass
class Call:
    dialog: sip.Dialog
    role: str                            # "uac" or "uas"
    local_sdp: sip.SessionDescription
    source: Address                      # the local socket our signalling leaves from
    remote_sdp: sip.SessionDescription | None = None
    state: str = "calling"               # calling, confirmed, terminated
    confirmed: threading.Event = field(default_factory=threading.Event)
    ended: threading.Event = field(default_factory=threading.Event)
    last_ack: bytes | None = None
    inviting: bool = False               # a re-INVITE of ours is pending (s14.1 glare)
    transient: list = field(default_factory=list)   # further contact addresses (C.4):
                                         # (host, media port) that get a copy of the stream

    @property
    def call_id(self) -> str:
        return self.dialog.call_id

    @property
    def peer(self) -> Address:
        return self.dialog.remote_target.address()

    @property
    def remote_media(self) -> Address | None:
        sd = self.remote_sdp
        return (sd.address, sd.port) if sd and sd.port else None

    def summary(self) -> dict:
        return {"call_id": self.call_id, "role": self.role, "state": self.state,
                "peer": _fmt(self.peer), "source": _fmt(self.source),
                "local_media": f"{self.local_sdp.address}:{self.local_sdp.port}",
                "remote_media": _fmt(self.remote_media) if self.remote_media else None}


class _ClientTransaction:
    def __init__(self, method: str):
        self.method = method
        self.responses: queue.Queue = queue.Queue()


class SipUserAgent:
    """One UA: a SIP socket per local address, a receive thread, calls by Call-ID."""

    def __init__(self, address: str, port: int = sip.SIP_PORT, *, user: str = "ua",
                 media: Address | None = None, log: EventLog | None = None,
                 on_media: Callable[[Call, Address | None], None] | None = None,
                 auto_answer: bool = True, t1: float = sip.T1):
        self.user, self.log, self.t1 = user, log or _NullLog(), t1
        self.media = media or (address, 0)               # what our SDP offers/answers
        self.on_media = on_media or (lambda call, addr: None)
        self.auto_answer = auto_answer
        self._socks: dict[Address, socket.socket] = {}
        self._sel = selectors.DefaultSelector()
        self._lock = threading.RLock()
        first = udp_socket(address, port)
        self.address, self.port = first.getsockname()
        self._add(first)
        self.calls: dict[str, Call] = {}
        self._tx: dict[str, _ClientTransaction] = {}
        self._server_cache: dict[tuple[str, str], tuple[bytes, Address, Address, float]] = {}
        self._retrans: list[dict] = []                   # 2xx to INVITE awaiting the ACK
        self.loop = Loop(f"sip-ua:{self.port}", log)
        self._session_id = random.randrange(1, 1 << 31)
        self._stop = threading.Event()
        self._thread = self.loop.start(self._serve, f"sip-ua-{self.port}")

    @property
    def malformed(self) -> int:
        """Datagrams dropped: not SIP, or a message we could not act on (s16.3, s18)."""
        return self.loop.malformed

    # ---- sockets ----

    def _add(self, s: socket.socket) -> None:
        key = s.getsockname()
        with self._lock:
            self._socks[key] = s
            self._sel.register(s, selectors.EVENT_READ, key)

    def bind(self, address: str) -> Address:
        """A socket on (address, our SIP port); the source of requests sent `from_=address`."""
        with self._lock:
            key = (address, self.port)
            if key not in self._socks:
                self._add(udp_socket(address, self.port))
            return key

    def _send(self, source: Address, data: bytes, dest: Address) -> int:
        ns = time.perf_counter_ns()
        self._socks[source].sendto(data, dest)
        return ns

    def _via(self, source: Address, branch: str | None = None) -> sip.Via:
        return sip.Via(source[0], source[1],
                       (("branch", branch or sip.new_branch()), ("rport", None)))

    def _contact(self, source: Address) -> sip.SipUri:
        return sip.SipUri(source[0], source[1], self.user)

    def _offer(self, address: str, port: int, version: int = 1) -> sip.SessionDescription:
        return sip.SessionDescription(address=address, port=port, session_id=self._session_id,
                                      version=version, username=self.user)

    # ---- receive loop ----

    def _serve(self) -> None:
        while not self._stop.is_set():
            timeout = self.loop.guard(self._due_retransmissions)
            try:
                events = self._sel.select(0.1 if timeout is None else timeout)
            except (OSError, ValueError):
                continue
            for key, _ in events:
                try:
                    data, src = key.fileobj.recvfrom(MAX_DATAGRAM)
                except OSError:
                    continue
                self.loop.guard(self._datagram, data, src, key.data, time.perf_counter_ns(),
                                source=_fmt(src))

    def _datagram(self, data: bytes, src: Address, local: Address, ns: int) -> None:
        """One datagram; a ProtocolError (s16.3 / s18: discard malformed messages) or any
        other exception is counted by the loop as malformed."""
        msg = sip.decode(data)
        try:
            if msg.is_request:
                self._on_request(msg, src, local, ns)
            else:
                self._on_response(msg, src, ns)
        except OSError:
            pass                                   # an answer we could not send: peer retries

    def _due_retransmissions(self) -> float:
        now, wait = time.monotonic(), 0.1
        with self._lock:
            for r in list(self._retrans):
                if r["call"].confirmed.is_set() or now >= r["deadline"]:
                    self._retrans.remove(r)
                    continue
                if now >= r["next"]:
                    self._send(r["source"], r["data"], r["dest"])
                    r["interval"] = min(2 * r["interval"], sip.T2)
                    r["next"] = now + r["interval"]
                wait = min(wait, max(0.0, r["next"] - now))
        return wait

    def _on_response(self, msg: sip.SipMessage, src: Address, ns: int) -> None:
        branch = msg.via.branch or ""
        tx = self._tx.get(branch)
        if tx is not None and msg.cseq.method == tx.method:
            tx.responses.put((msg, ns))
            return
        call = self.calls.get(msg.call_id)
        if call and msg.cseq.method == "INVITE" and 200 <= msg.status < 300 and call.last_ack:
            # the peer did not get our ACK: repeat it (s13.2.2.4)
            self._send(call.source, call.last_ack, call.peer)

    def _reply(self, req: sip.SipMessage, src: Address, local: Address, resp: sip.SipMessage,
               retransmit_until_ack: Call | None = None) -> None:
        """Send `resp` where s18.2.2 / RFC 3581 say: the source IP if the Via's differs
        (received=), the source port if the Via asks (rport)."""
        via = req.via
        params = dict(via.params)
        host = src[0] if via.host != src[0] or "received" in params else via.host
        port = src[1] if "rport" in params else (via.port or sip.SIP_PORT)
        data = sip.encode(resp)
        self._send(local, data, (host, port))
        with self._lock:
            self._server_cache[(via.branch or "", req.method)] = (
                data, (host, port), local, time.monotonic() + 64 * self.t1)
            if retransmit_until_ack is not None:
                self._retrans.append({"call": retransmit_until_ack, "data": data,
                                      "dest": (host, port), "source": local,
                                      "interval": self.t1, "next": time.monotonic() + self.t1,
                                      "deadline": time.monotonic() + 64 * self.t1})

    def _on_request(self, req: sip.SipMessage, src: Address, local: Address, ns: int) -> None:
        branch = req.via.branch or ""
        if req.method != "ACK":
            cached = self._server_cache.get((branch, req.method))
            if cached and cached[3] > time.monotonic():   # a retransmission: same answer
                self._send(cached[2], cached[0], cached[1])
                return
        call = self.calls.get(req.call_id)
        in_dialog = call is not None and call.dialog.matches(req)
        if req.method == "INVITE" and req.to.tag is None:
            self._on_invite(req, src, local, ns)
        elif req.method == "INVITE":
            if not in_dialog:
                self._reply(req, src, local, sip.response(req, 481))
            else:
                self._on_reinvite(call, req, src, local, ns)
        elif req.method == "ACK":
            if in_dialog:
                call.confirmed.set()
                call.state = "confirmed"
        elif req.method == "BYE":
            if not in_dialog:
                self._reply(req, src, local, sip.response(req, 481))
                return
            self._reply(req, src, local, sip.response(req, 200))
            self._end(call, "remote", ns)
        elif req.method == "OPTIONS":
            self._reply(req, src, local, sip.response(req, 200, extra=(("Allow", ALLOW),)))
        elif req.method == "CANCEL":
            self._reply(req, src, local, sip.response(req, 481))   # INVITEs are answered at once
        else:
            self._reply(req, src, local, sip.response(req, 405, extra=(("Allow", ALLOW),)))

    def _on_invite(self, req, src, local, ns) -> None:
        if not self.auto_answer:
            self._reply(req, src, local, sip.response(req, 486, to_tag=sip.new_tag()))
            return
        self._reply(req, src, local, sip.response(req, 100))
        tag = sip.new_tag()
        try:
            if req.content_type != "application/sdp":
                raise ProtocolError("no SDP offer in the INVITE")
            offer = sip.sdp_decode(req.body)
            answer = sip.sdp_answer(offer, self.media[0], self.media[1], self._session_id, 1)
        except ProtocolError as exc:
            self._reply(req, src, local, sip.response(req, 488, to_tag=tag))
            self.log.emit("call_failed", "setup", call_id=req.call_id, peer=_fmt(src),
                          reason=exc.reason)
            return
        dialog = sip.Dialog.for_uas(req, tag, self._contact(local))
        call = Call(dialog, "uas", answer, local, remote_sdp=offer)
        self.calls[req.call_id] = call
        self._reply(req, src, local, sip.response(
            req, 200, to_tag=tag, contact=sip.NameAddr(self._contact(local)),
            body=sip.sdp_encode(answer)), retransmit_until_ack=call)
        self.log.emit("call_answered", "setup", mono_ns=ns, call_id=req.call_id, peer=_fmt(src),
                      remote_media=_fmt(call.remote_media) if call.remote_media else None,
                      caller=req.from_.uri.user)
        self.on_media(call, call.remote_media)

    def _on_reinvite(self, call: Call, req, src, local, ns) -> None:
        """The peer's binding update (s7.5): new remote target and media address."""
        cseq = req.cseq.number
        if call.dialog.remote_cseq is not None and cseq <= call.dialog.remote_cseq:
            self._reply(req, src, local, sip.response(req, 500, "Lower CSeq"))
            return
        if call.inviting:
            self._reply(req, src, local, sip.response(req, 491))    # s14.2 glare
            return
        try:
            if req.content_type != "application/sdp":
                raise ProtocolError("no SDP offer in the re-INVITE")
            offer = sip.sdp_decode(req.body)
            answer = sip.sdp_answer(offer, call.local_sdp.address, call.local_sdp.port,
                                    call.local_sdp.session_id, call.local_sdp.version)
        except ProtocolError:
            self._reply(req, src, local, sip.response(req, 488))
            return
        call.dialog.remote_cseq = cseq
        contacts = req.contacts
        if contacts:
            call.dialog.remote_target = contacts[0].uri                # target refresh (s12.2)
        before = call.remote_media
        call.remote_sdp, call.local_sdp = offer, answer
        call.transient = transient_destinations(contacts, call.remote_media)
        call.confirmed.clear()
        self._reply(req, src, local, sip.response(
            req, 200, contact=sip.NameAddr(call.dialog.local_contact),
            body=sip.sdp_encode(answer)), retransmit_until_ack=call)
        self.on_media(call, call.remote_media)
        self.log.emit("binding_update_received", "binding-update", mono_ns=ns,
                      call_id=call.call_id, mn=req.from_.uri.user, source=_fmt(src),
                      contact=str(call.dialog.remote_target),
                      media_from=_fmt(before) if before else None,
                      media_to=_fmt(call.remote_media) if call.remote_media else None,
                      contacts=[str(c.uri) for c in contacts],
                      transient=[_fmt(a) for a in call.transient])

    def _end(self, call: Call, by: str, ns: int | None = None) -> None:
        if call.state == "terminated":
            return
        call.state = "terminated"
        call.ended.set()
        call.confirmed.set()
        self.on_media(call, None)
        self.log.emit("call_ended", "setup", mono_ns=ns, call_id=call.call_id, by=by)

    # ---- client transactions ----

    def _transaction(self, msg: sip.SipMessage, source: Address, dest: Address,
                     timeout: float | None = None,
                     on_sent: Callable[[int], None] | None = None
                     ) -> tuple[sip.SipMessage, int, int]:
        """Send a request, retransmit (s17.1.1.2 Timer A, s17.1.2.2 Timer E) until its final
        response; (response, send ns, response ns). TimeoutError after 64*T1 (Timers B, F)."""
        branch, method = msg.via.branch, msg.method
        tx = _ClientTransaction(method)
        self._tx[branch] = tx
        data = sip.encode(msg)
        try:
            sent_ns = self._send(source, data, dest)
            if on_sent is not None:
                on_sent(sent_ns)
            deadline = time.monotonic() + (timeout or 64 * self.t1)
            interval, retransmit = self.t1, True
            next_at = time.monotonic() + interval
            while (left := deadline - time.monotonic()) > 0:
                try:
                    wait = max(0.0, min(left, next_at - time.monotonic()))
                    resp, ns = tx.responses.get(timeout=wait)
                except queue.Empty:
                    if retransmit and time.monotonic() >= next_at:
                        self._send(source, data, dest)
                        interval = interval * 2 if method == "INVITE" else min(2 * interval, sip.T2)
                        next_at = time.monotonic() + interval
                    continue
                if resp.status >= 200:
                    return resp, sent_ns, ns
                if method == "INVITE":
                    retransmit = False                        # a provisional response stops Timer A
                    next_at = deadline
            raise TimeoutError(f"no final response to {method} from {_fmt(dest)} "
                               f"in {timeout or 64 * self.t1:g}s")
        finally:
            self._tx.pop(branch, None)

    # ---- what a caller does ----

    def call(self, target: Address, callee: str = "cn", timeout: float | None = None) -> Call:
        """INVITE `callee` at `target` offering our media address; ACK its 200 OK."""
        source = (self.address, self.port)
        offer = self._offer(self.media[0], self.media[1])
        tag = sip.new_tag()
        invite = sip.request(
            "INVITE", sip.SipUri(target[0], target[1], callee), via=self._via(source),
            from_=sip.NameAddr(sip.SipUri(self.address, self.port, self.user),
                               params=(("tag", tag),)),
            to=sip.NameAddr(sip.SipUri(target[0], target[1], callee)),
            call_id=sip.new_call_id(self.address), cseq=1,
            contact=sip.NameAddr(self._contact(source)), body=sip.sdp_encode(offer))
        self.log.emit("call_setup_start", "setup", call_id=invite.call_id, peer=_fmt(target),
                      media=f"{offer.address}:{offer.port}")
        try:
            resp, sent, got = self._transaction(invite, source, target, timeout)
        except TimeoutError as exc:
            self.log.emit("call_failed", "setup", call_id=invite.call_id, reason=str(exc))
            raise SipError(str(exc)) from None
        if resp.status >= 300:
            self._send(source, sip.encode(sip.ack_for_error(invite, resp)), target)
            self.log.emit("call_failed", "setup", call_id=invite.call_id, status=resp.status,
                          reason=resp.reason)
            raise SipError(f"INVITE to {_fmt(target)} answered {resp.status} {resp.reason}")
        call = Call(sip.Dialog.for_uac(invite, resp), "uac", offer, source)
        call.remote_sdp = self._answer_of(resp)
        self.calls[call.call_id] = call
        self._ack(call)
        self.log.emit("call_established", "setup", call_id=call.call_id, peer=_fmt(target),
                      setup_ms=(got - sent) / 1e6,
                      remote_media=_fmt(call.remote_media) if call.remote_media else None)
        self.on_media(call, call.remote_media)
        return call

    def _answer_of(self, resp: sip.SipMessage) -> sip.SessionDescription | None:
        if resp.content_type != "application/sdp":
            return None
        try:
            return sip.sdp_decode(resp.body)
        except ProtocolError:
            return None

    def _ack(self, call: Call) -> None:
        ack = call.dialog.request("ACK", self._via(call.source))
        call.last_ack = sip.encode(ack)
        self._send(call.source, call.last_ack, call.peer)
        call.state = "confirmed"
        call.confirmed.set()

    def _only_call(self, call_id: str | None) -> Call:
        live = [c for c in self.calls.values() if c.state != "terminated"
                and (call_id is None or c.call_id == call_id)]
        if len(live) != 1:
            raise SipError(f"{len(live)} live calls match {call_id or 'any'}; name one")
        return live[0]

    def reinvite(self, address: str, media_port: int | None = None,
                 call_id: str | None = None, timeout: float | None = None,
                 also: list[str] | tuple[str, ...] = ()) -> dict:
        """The binding update (RFC 6252 s7.5): a re-INVITE sent from `address` (the nCoA),
        with Contact and SDP c= naming it; returns when its 200 OK is in and ACKed. `also`:
        further contact addresses (C.4: the nCoAs of other CTNs), named after it in the
        Contact header; the CN sends a transient copy of its stream to each."""
        call = self._only_call(call_id)
        source = self.bind(address)
        old_contact = call.dialog.local_contact
        call.dialog.local_contact = self._contact(source)
        offer = call.local_sdp.next_version(address=address, origin_address=address,
                                            port=media_port or call.local_sdp.port)
        also = [a for a in dict.fromkeys(also) if a != address]
        invite = call.dialog.request("INVITE", self._via(source), body=sip.sdp_encode(offer),
                                     also=tuple(sip.SipUri(a, self.port, self.user)
                                                for a in also))
        attrs = {"call_id": call.call_id, "ncoa": address, "source": _fmt(source),
                 "peer": _fmt(call.peer), "media": f"{offer.address}:{offer.port}",
                 "contacts": [address, *also]}
        call.inviting = True
        try:
            resp, sent, got = self._transaction(
                invite, source, call.peer, timeout, on_sent=lambda ns: self.log.emit(
                    "binding_update_start", "binding-update", mono_ns=ns, **attrs))
        except TimeoutError as exc:
            call.dialog.local_contact = old_contact
            self.log.emit("binding_update_failed", "binding-update", reason=str(exc), **attrs)
            raise SipError(str(exc)) from None
        finally:
            call.inviting = False
        if resp.status >= 300:
            call.dialog.local_contact = old_contact
            self._send(source, sip.encode(sip.ack_for_error(invite, resp)), call.peer)
            self.log.emit("binding_update_failed", "binding-update", mono_ns=got,
                          status=resp.status, reason=resp.reason, **attrs)
            raise SipError(f"re-INVITE answered {resp.status} {resp.reason}")
        call.source, call.local_sdp = source, offer
        if resp.contact is not None:
            call.dialog.remote_target = resp.contact.uri
        call.remote_sdp = self._answer_of(resp) or call.remote_sdp
        self._ack(call)
        self.log.emit("binding_update_done", "binding-update", mono_ns=got, status=resp.status,
                      elapsed_ms=(got - sent) / 1e6, **attrs)
        self.on_media(call, call.remote_media)
        return {**attrs, "sent_ns": sent, "done_ns": got, "elapsed_ms": (got - sent) / 1e6}

    def bye(self, call_id: str | None = None, timeout: float | None = None) -> dict:
        call = self._only_call(call_id)
        bye = call.dialog.request("BYE", self._via(call.source))
        try:
            resp, sent, got = self._transaction(bye, call.source, call.peer, timeout)
        except TimeoutError as exc:
            resp, got = None, None
            reason = str(exc)
        self._end(call, "local", got)
        if resp is None:
            raise SipError(reason)
        return {"call_id": call.call_id, "status": resp.status}

    def close(self) -> None:
        self._stop.set()
        self.loop.stop()
        self._thread.join(timeout=2)
        with self._lock:
            for s in self._socks.values():
                self._sel.unregister(s)
                s.close()
            self._socks.clear()
        self._sel.close()


def transient_destinations(contacts: list[sip.NameAddr],
                           media: Address | None) -> list[Address]:
    """RFC 6252 C.4: where the CN sends transient copies of its stream after a re-INVITE
    naming `contacts` (pure): each contact after the first, at the SDP's media port, unless
    it is the SDP's own address. Empty without SDP media or with one contact."""
    if media is None:
        return []
    out: list[Address] = []
    for c in contacts[1:]:
        dest = (c.uri.host.strip("[]"), media[1])
        if dest != tuple(media) and dest not in out:
            out.append(dest)
    return out


class RtpSender:
    """The CN's stream: RTP every `interval` seconds to a destination that may move.

    160 octets of PCMU silence per packet (a 20 ms G.711 frame), but the RTP timestamp
    advances by interval x 8000 (128 at 16 ms) so that RTP time follows the sending clock
    and the receiver's jitter (RFC 3550 s6.4.1) measures the network, not this mismatch."""

    def __init__(self, bind: Address, interval: float = 0.016, payload_type: int = rtp.PT_PCMU,
                 payload_size: int = 160, clock_rate: int = rtp.PCMU_CLOCK_RATE,
                 ssrc: int | None = None, log_path: str | Path | None = None):
        self.sock = udp_socket(*bind)
        self.address: Address = self.sock.getsockname()
        self.interval, self.payload = interval, bytes([PCMU_SILENCE]) * payload_size
        self.stream = rtp.Stream(ssrc if ssrc is not None else random.getrandbits(32),
                                 payload_type, round(interval * clock_rate))
        self.dest: Address | None = None
        self.sent = 0
        # C.4's transient streams: a copy of every packet to each of `also` until the next
        # move; per destination [packets, octets] sent since the copies began
        self.also: tuple[Address, ...] = ()
        self.transient: dict[Address, list[int]] = {}
        self.transient_since_ns = 0
        self._moving = threading.Lock()      # a move waits for the packet being sent: once
                                             # it returns, nothing more goes where it ended
        # bicasting (RFC 6252 C.1): after a move the previous destination gets a copy of
        # every packet for `bicast` seconds (0: off)
        self.bicast = 0.0
        self.previous: Address | None = None
        self.bicast_until = 0.0
        if log_path is not None:
            Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        self._log = None if log_path is None else os.open(
            log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def move(self, dest: Address | None, also: list[Address] | tuple = ()) -> dict | None:
        """Send to `dest` from the next packet on (None: pause); with `bicast` set, keep
        sending a copy to the destination left for that long (C.1's bicasting). `also`:
        transient copies to further contact addresses (C.4) until the next move. Returns the
        transient streams this move ended ({"streams": {address: [packets, octets]},
        "since_ns", "until_ns"}) or None."""
        with self._moving:
            if self.bicast > 0 and self.dest is not None and dest != self.dest:
                self.previous, self.bicast_until = self.dest, time.perf_counter() + self.bicast
            ended = None
            also = tuple(a for a in also if a != dest)
            if self.also and also != self.also:
                ended = {"streams": {_fmt(a): list(v) for a, v in self.transient.items()},
                         "since_ns": self.transient_since_ns, "until_ns": time.perf_counter_ns()}
            if also != self.also:
                self.transient = {a: [0, 0] for a in also}
                self.transient_since_ns = time.perf_counter_ns()
                self.also = also
            self.dest = dest
        if dest is not None and self._thread is None:
            self._thread = threading.Thread(target=self._run, daemon=True, name="rtp-sender")
            self._thread.start()
        return ended

    def _run(self) -> None:
        # absolute schedule: packet k leaves at t0 + k*interval, so its RTP timestamp
        # (k * samples) is its sending time; a sender that falls behind by more than one
        # interval resynchronises instead of bursting
        next_at = time.perf_counter()
        while not self._stop.is_set():
            delay = next_at - time.perf_counter()
            if delay > 0:
                self._stop.wait(delay)
                if self._stop.is_set():
                    return
            with self._moving:
                self._send_one()
            next_at += self.interval
            behind = int((time.perf_counter() - next_at) / self.interval)
            if behind >= 1:                  # skip the missed slots; the clock runs on
                next_at += behind * self.interval
                self.stream.timestamp = (self.stream.timestamp + behind
                                         * self.stream.samples_per_packet) % (1 << 32)

    def _send_one(self) -> None:
        """This slot's packet to the destination and its copies (bicast, transient), logged
        (`_moving` held)."""
        dest = self.dest
        if dest is None:                     # paused: time (the timestamp) runs on, no packet
            self.stream.timestamp = (self.stream.timestamp
                                     + self.stream.samples_per_packet) % (1 << 32)
            return
        pkt = self.stream.next(self.payload)
        ns = time.perf_counter_ns()
        copies = [dest]
        if (self.previous is not None and self.previous != dest
                and time.perf_counter() < self.bicast_until):
            copies.append(self.previous)
        copies += [a for a in self.also if a not in copies]
        data = rtp.encode(pkt)
        for to in copies:
            try:
                self.sock.sendto(data, to)
                self.sent += 1
            except OSError:
                continue                     # e.g. no route during the move: a lost packet
            if to in self.transient:
                self.transient[to][0] += 1
                self.transient[to][1] += len(data)
        if self._log is not None:
            os.write(self._log, (json.dumps({
                "mono_ns": ns, "seq": pkt.sequence, "rtp_ts": pkt.timestamp,
                "ssrc": pkt.ssrc, "dst": _fmt(dest)}) + "\n").encode())

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        self.sock.close()
        if self._log is not None:
            os.close(self._log)
            self._log = None


class RtpReceiver:
    """Logs every RTP packet: one JSON line {mono_ns, seq, rtp_ts, ssrc, pt, src, dst, len}
    ("error" instead of the RTP fields for a malformed one)."""

    def __init__(self, bind: Address, log_path: str | Path):
        self.sock = udp_socket(*bind)
        self.address: Address = self.sock.getsockname()
        if self.sock.family == socket.AF_INET6:
            self.sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVPKTINFO, 1)
        else:
            self.sock.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
        self.log_path = Path(log_path)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self.received = self.malformed = 0
        self._ifnames: dict[int, str] = {}
        self.loop = Loop(f"rtp-receiver:{self.address[1]}")
        self._stop = threading.Event()
        self._thread = self.loop.start(self._run, "rtp-receiver")

    def _run(self) -> None:
        bound, port = self.address[:2]
        cmsg_size = socket.CMSG_SPACE(20)
        self.sock.settimeout(0.1)
        while not self._stop.is_set():
            try:
                data, ancdata, _flags, src = self.sock.recvmsg(MAX_DATAGRAM, cmsg_size)
            except (socket.timeout, BlockingIOError):
                continue
            except OSError:
                if self._stop.is_set():
                    return
                continue
            self.loop.guard(self._record, data, ancdata, src, bound, port)

    def _record(self, data: bytes, ancdata: list, src: Address, bound: str, port: int) -> None:
        """One line of the log per packet, malformed ones included ("error")."""
        ns = time.perf_counter_ns()
        dst, ifindex = bound, None
        for level, kind, value in ancdata:
            if level == socket.IPPROTO_IP and kind == IP_PKTINFO and len(value) >= 12:
                dst = socket.inet_ntoa(value[8:12])     # in_pktinfo.ipi_addr
                ifindex = int.from_bytes(value[0:4], sys.byteorder)   # .ipi_ifindex
            elif level == socket.IPPROTO_IPV6 and kind == socket.IPV6_PKTINFO \
                    and len(value) >= 16:
                dst = socket.inet_ntop(socket.AF_INET6, value[:16])   # in6_pktinfo.ipi6_addr
        record = {"mono_ns": ns, "src": _fmt(src), "dst": f"{dst}:{port}", "len": len(data)}
        if ifindex is not None:       # the interface it came in on (C.5.2: WLAN, tunnel or
            record["iface"] = self._ifname(ifindex)       # cellular: the same address)
        try:
            pkt = rtp.decode(data)
            record.update(seq=pkt.sequence, rtp_ts=pkt.timestamp, ssrc=pkt.ssrc,
                          pt=pkt.payload_type)
            self.received += 1
        except ProtocolError as exc:
            record["error"] = exc.reason
            self.malformed += 1
        os.write(self._fd, (json.dumps(record, separators=(",", ":")) + "\n").encode())

    def _ifname(self, ifindex: int) -> str:
        """The name of interface `ifindex` (cached: one lookup per interface), or the
        index as text if it has none (gone)."""
        name = self._ifnames.get(ifindex)
        if name is None:
            try:
                name = socket.if_indextoname(ifindex)
            except (OSError, OverflowError, ValueError):
                return str(ifindex)
            self._ifnames[ifindex] = name
        return name

    def stop(self) -> None:
        self._stop.set()
        self.loop.stop()
        self._thread.join(timeout=2)
        self.sock.close()
        os.close(self._fd)


class CorrespondentNode:
    """The CN: answers calls and streams RTP to wherever the peer's SDP says (s7.5)."""

    def __init__(self, address: str, sip_port: int, media_port: int, log: EventLog | None,
                 interval: float = 0.016, user: str = "cn", send_log: str | Path | None = None):
        self.sender = RtpSender((address, media_port), interval=interval, log_path=send_log)
        self.log = log or _NullLog()
        self.ua = SipUserAgent(address, sip_port, user=user, media=self.sender.address,
                               log=log, on_media=self._media)

    def _media(self, call: Call, dest: Address | None) -> None:
        """The stream goes to `dest`, with transient copies to the call's further contact
        addresses (C.4); the transient streams that end are reported with their cost."""
        also = call.transient if dest is not None else []
        before = self.sender.also
        ended = self.sender.move(dest, also)
        if ended is not None:
            octets = sum(v[1] for v in ended["streams"].values())
            self.log.emit("transient_streams_end", "binding-update", mono_ns=ended["until_ns"],
                          call_id=call.call_id, streams=ended["streams"],
                          packets=sum(v[0] for v in ended["streams"].values()), octets=octets,
                          duration_ms=(ended["until_ns"] - ended["since_ns"]) / 1e6,
                          stream_to=_fmt(dest) if dest else None)
        if self.sender.also and self.sender.also != before:
            self.log.emit("transient_streams_start", "binding-update",
                          mono_ns=self.sender.transient_since_ns, call_id=call.call_id,
                          stream_to=_fmt(dest), transient=[_fmt(a) for a in self.sender.also],
                          interval_s=self.sender.interval,
                          packet_octets=len(self.sender.payload) + rtp.HEADER_LENGTH)

    def close(self) -> None:
        self.ua.close()
        self.sender.stop()


class MobileNodeMedia:
    """The MN's side: calls the CN, logs the stream, sends the binding update."""

    def __init__(self, address: str, sip_port: int, media_port: int, log: EventLog | None,
                 receive_log: str | Path, user: str = "mn", media_bind: str = "0.0.0.0"):
        self.receiver = RtpReceiver((media_bind, media_port), receive_log)
        port = self.receiver.address[1]
        self.ua = SipUserAgent(address, sip_port, user=user, media=(address, port), log=log)

    def call(self, cn: Address, timeout: float | None = None) -> dict:
        return self.ua.call(cn, timeout=timeout).summary()

    def binding_update(self, ncoa: str, timeout: float | None = None,
                       also: list[str] | tuple[str, ...] = ()) -> dict:
        """s6.3 step 3: re-INVITE from the nCoA moving the stream to nCoA:<media port>;
        `also`: further contact addresses that get transient copies (C.4)."""
        return self.ua.reinvite(ncoa, self.receiver.address[1], timeout=timeout, also=also)

    def hangup(self) -> dict:
        return self.ua.bye()

    def close(self) -> None:
        self.ua.close()
        self.receiver.stop()


def _addr(text: str) -> Address:
    host, _, port = text.rpartition(":")
    return host, int(port)


def main(argv: list[str] | None = None) -> int:
    """Manual use inside a host: `cn` answers and streams; `mn` calls, optionally sends the
    binding update from --ncoa after --move-after seconds, hangs up after --duration."""
    ap = argparse.ArgumentParser(prog="python -m orchestrator.agents.sip_ua")
    ap.add_argument("role", choices=("cn", "mn"))
    ap.add_argument("--address", required=True)
    ap.add_argument("--sip-port", type=int, default=sip.SIP_PORT)
    ap.add_argument("--media-port", type=int, default=4000)
    ap.add_argument("--events", required=True, help="event log (JSON lines)")
    ap.add_argument("--node", default=None)
    ap.add_argument("--cn", help="MN: the CN's SIP address host:port")
    ap.add_argument("--rtp-log", help="MN: receiver log (JSON lines)")
    ap.add_argument("--ncoa", help="MN: send the binding update from this address")
    ap.add_argument("--move-after", type=float, default=1.0)
    ap.add_argument("--duration", type=float, default=3.0)
    ap.add_argument("--interval", type=float, default=0.016)
    args = ap.parse_args(argv)
    log = EventLog(args.events, args.node or args.role, args.role)
    if args.role == "cn":
        cn = CorrespondentNode(args.address, args.sip_port, args.media_port, log,
                               interval=args.interval)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
        cn.close()
        return 0
    if not args.cn or not args.rtp_log:
        ap.error("mn needs --cn and --rtp-log")
    mn = MobileNodeMedia(args.address, args.sip_port, args.media_port, log, args.rtp_log)
    try:
        print(json.dumps(mn.call(_addr(args.cn))))
        if args.ncoa:
            time.sleep(args.move_after)
            print(json.dumps(mn.binding_update(args.ncoa)))
        time.sleep(max(0.0, args.duration - (args.move_after if args.ncoa else 0.0)))
        print(json.dumps(mn.hangup()))
    finally:
        mn.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
