"""A minimal SIP (RFC 3261) message codec and builders, with SDP offer/answer (pure).

RFC 6252 s7.5: "In the case of SIP-based terminal mobility, the mobile node sends a binding
update using an INVITE to the Correspondent Node"; Appendix C.5.1 (Figure 7) measures SIP
mobility with MPA. The binding update is a re-INVITE in the existing dialog whose Contact
and SDP connection address (c=) name the nCoA, sent over the proactive handover tunnel before
the move (s6.3 step 3); the CN then sends its media there.

Own minimal UA rather than a packaged one (sipp, baresip, kamailio): the MN must send the
re-INVITE *from its nCoA*, over the proactive handover tunnel, at the instant the runner
chooses, and both UAs must log what they do as testbed events on CLOCK_MONOTONIC
(`binding_update_start` when the re-INVITE leaves, `binding_update_done` when its 200 OK
arrives, the CN's media move). baresip/linphone re-INVITE on their own when an interface
address changes (not when told; the instant is then what we want to measure, not choose),
kamailio is a proxy/registrar, not a UA, and sipp runs XML scenarios at its own pace, sending
from one bound address; none writes our event log. We therefore implement the few messages
a UA needs -- INVITE, 100/180/200, ACK, re-INVITE, BYE, plus OPTIONS -- and use `sipp`
(Debian's sip-tester) in tests/agents/test_sip_ua.py as the interoperability check: our UA
calls `sipp -sn uas` and answers `sipp -sn uac`; tshark dissects our SIP without complaint.

What is implemented, and where from:

* Message syntax (RFC 3261 s7, s25): start line (Request-Line or Status-Line, SIP/2.0 only),
  headers `name: value` with line folding undone (s7.3.1), the compact forms of s7.3.3
  (v f t i m l c k s e), comma-separated Via/Contact values, the body after the empty line.
  Header names are case-insensitive; `get` answers under the canonical name.
* The mandatory headers (s8.1.1): Via, From, To, Call-ID, CSeq (and Max-Forwards, which we
  send but do not require on receipt, as sipp does not put it in responses). A request whose
  CSeq method differs from its method is malformed (s8.1.1.5).
* Content-Length over UDP (s18.3): a body shorter than Content-Length is malformed, octets
  beyond it are discarded; without Content-Length the body runs to the end of the datagram.
* Via (s20.42): `SIP/2.0/UDP host[:port];branch=z9hG4bK...`; From/To/Contact (s20.10, s20.20,
  s20.39): name-addr `"display" <sip:user@host:port;uri-params>;tag=...` or addr-spec (whose
  `;params` are header parameters, s20.10), sip/sips URIs (s19.1.1).
* Several Contact addresses (RFC 6252 C.4: "a binding update with multiple contact
  addresses, such as c1, c2, and c3"): `contacts` gives every Contact value (comma-separated
  or on several header lines, s7.3.1); `request(contact=[...])` writes them in one header.
  RFC 3261 s8.1.1.8 wants exactly one URI in a request that can establish a dialog; a
  re-INVITE refreshes the dialog's target (s12.2): the first Contact is the remote target,
  the others are the transient addresses of C.4 (our UA's reading, agents/sip_ua.py).
* Responses (s8.2.6.2): Via, From, Call-ID and CSeq copied, To copied plus our tag.
  In-dialog requests (s12.2.1.1): Request-URI = remote target (the peer's Contact), To/From
  with both tags, local CSeq +1; ACK for a 2xx reuses the INVITE's CSeq number with a new
  branch (s13.2.2.4); ACK for a non-2xx final response belongs to the INVITE transaction:
  same branch and Request-URI, the response's To (s17.1.1.3).
* SDP (RFC 4566): v, o, s, c, t, m, a lines; one audio stream "m=audio <port> RTP/AVP 0",
  "a=rtpmap:0 PCMU/8000". Offer/answer (RFC 3264): the answer keeps the offer's m line and
  the formats both support (s6.1; PCMU only here); a re-offer increments o='s version (s8).

Malformed input raises `ProtocolError` (and nothing else) from `decode`, `sdp_decode` and the
accessors of a decoded message.
"""
from __future__ import annotations

import ipaddress
import re
import secrets
from dataclasses import dataclass, field, replace

from .errors import ProtocolError

__all__ = ["SIP_PORT", "T1", "T2", "T4", "BRANCH_MAGIC", "REASONS", "SipUri", "NameAddr",
           "Via", "CSeq", "SipMessage", "decode", "encode", "request", "response",
           "ack_for_error", "Dialog", "new_branch", "new_tag", "new_call_id",
           "SessionDescription", "sdp_encode", "sdp_decode", "sdp_answer", "ProtocolError"]

SIP_PORT = 5060
T1, T2, T4 = 0.5, 4.0, 5.0          # s17.1.1.1 timer values, seconds
BRANCH_MAGIC = "z9hG4bK"            # s8.1.1.7
VERSION = "SIP/2.0"

REASONS = {100: "Trying", 180: "Ringing", 200: "OK", 400: "Bad Request",
           405: "Method Not Allowed", 481: "Call/Transaction Does Not Exist",
           486: "Busy Here", 488: "Not Acceptable Here", 491: "Request Pending",
           500: "Server Internal Error", 501: "Not Implemented"}

_COMPACT = {"v": "Via", "f": "From", "t": "To", "i": "Call-ID", "m": "Contact",
            "l": "Content-Length", "c": "Content-Type", "k": "Supported", "s": "Subject",
            "e": "Content-Encoding"}
_CANONICAL = {n.lower(): n for n in (
    "Via", "From", "To", "Call-ID", "CSeq", "Contact", "Content-Length", "Content-Type",
    "Max-Forwards", "Allow", "Supported", "User-Agent", "Server", "Subject", "Route",
    "Record-Route", "Expires", "Accept", "Content-Encoding")}
_MULTI = {"Via", "Contact", "Route", "Record-Route", "Allow", "Supported", "Accept"}
# s25.1: token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~")
_TOKEN = re.compile(r"[A-Za-z0-9\-.!%*_+`'~]+\Z")
_HOSTNAME = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?\.)*"
                       r"[A-Za-z](?:[A-Za-z0-9\-]*[A-Za-z0-9])?\.?\Z")
_PARAM_VALUE = re.compile(r'(?:[A-Za-z0-9\-.!%*_+`\'~\[\]:]+|"[^"\r\n]*")\Z')
_URI_PARAM = re.compile(r"[A-Za-z0-9\-.!%*_+`'~\[\]/:&+$()]*\Z")
_USER = re.compile(r"[A-Za-z0-9\-_.!~*'()&=+$,;?/%]+\Z")


def _number(text: str, what: str, digits: int = 10) -> int:
    """A decimal number of at most `digits` ASCII digits (ProtocolError otherwise: int()
    alone would accept Unicode digits and raise ValueError past 4300 of them)."""
    if not (0 < len(text) <= digits and text.isascii() and text.isdigit()):
        raise ProtocolError(f"bad {what} {text[:40]!r}: expected at most {digits} digits")
    return int(text)


def canonical(name: str) -> str:
    low = name.lower()
    return _COMPACT.get(low) or _CANONICAL.get(low) or name


def _host(text: str, what: str) -> str:
    """A host (s25.1): IPv4 literal, [IPv6] literal or hostname."""
    if text.startswith("["):
        if not text.endswith("]"):
            raise ProtocolError(f"{what}: unterminated IPv6 reference {text!r}")
        try:
            ipaddress.IPv6Address(text[1:-1])
        except ValueError:
            raise ProtocolError(f"{what}: bad IPv6 reference {text!r}") from None
        return text
    if re.fullmatch(r"[0-9.]+", text):
        try:
            ipaddress.IPv4Address(text)
        except ValueError:
            raise ProtocolError(f"{what}: bad IPv4 address {text!r}") from None
        return text
    if not text or not _HOSTNAME.match(text):
        raise ProtocolError(f"{what}: bad host {text!r}")
    return text


def _hostport(text: str, what: str) -> tuple[str, int | None]:
    if text.startswith("["):
        end = text.find("]")
        host, rest = text[:end + 1], text[end + 1:]
    else:
        host, colon, port = text.partition(":")
        rest = colon + port
    host = _host(host, what)
    if not rest:
        return host, None
    if not rest.startswith(":"):
        raise ProtocolError(f"{what}: bad port in {text[:80]!r}")
    port = _number(rest[1:], f"{what} port", 5)
    if not 0 < port < 65536:
        raise ProtocolError(f"{what}: port {port} out of range")
    return host, port


def _params(text: str, what: str, value_re=_PARAM_VALUE) -> tuple[tuple[str, str | None], ...]:
    """`;name[=value]` list (text after the first ';'), names lower-cased."""
    out = []
    for part in _split(text, ";"):
        name, eq, value = part.strip().partition("=")
        name, value = name.strip(), value.strip()
        if not _TOKEN.match(name):
            raise ProtocolError(f"{what}: bad parameter name {name!r}")
        if eq and not value_re.match(value):
            raise ProtocolError(f"{what}: bad value {value!r} for parameter {name!r}")
        out.append((name.lower(), value if eq else None))
    return tuple(out)


def _fmt_params(params) -> str:
    return "".join(f";{k}" if v is None else f";{k}={v}" for k, v in params)


def _split(text: str, sep: str) -> list[str]:
    """Split on `sep` outside double quotes and angle brackets."""
    out, cur, quote, angle, i = [], [], False, 0, 0
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\" and i + 1 < len(text):
                cur.append(text[i:i + 2])
                i += 2
                continue
            quote = ch != '"'
        elif ch == '"':
            quote = True
        elif ch == "<":
            angle += 1
        elif ch == ">":
            angle = max(0, angle - 1)
        elif ch == sep and not angle:
            out.append("".join(cur))
            cur = []
            i += 1
            continue
        cur.append(ch)
        i += 1
    if quote:
        raise ProtocolError(f"unterminated quoted string in {text!r}")
    out.append("".join(cur))
    return out


@dataclass(frozen=True)
class SipUri:
    """sip:[user@]host[:port][;params] (s19.1.1; no password, no ?headers)."""
    host: str
    port: int | None = None
    user: str | None = None
    params: tuple[tuple[str, str | None], ...] = ()
    scheme: str = "sip"

    @classmethod
    def parse(cls, text: str) -> "SipUri":
        scheme, colon, rest = text.strip().partition(":")
        if not colon or scheme.lower() not in ("sip", "sips"):
            raise ProtocolError(f"not a sip/sips URI: {text!r}")
        if "?" in rest:
            raise ProtocolError(f"URI headers are not supported: {text!r}")
        user = None
        if "@" in rest:
            user, _, rest = rest.rpartition("@")
            user = user.partition(":")[0]
            if not _USER.match(user):
                raise ProtocolError(f"bad user part in URI {text!r}")
        hostport, semi, params = rest.partition(";")
        host, port = _hostport(hostport, "URI")
        return cls(host, port, user, _params(params, "URI", _URI_PARAM) if semi else (),
                   scheme.lower())

    def __str__(self) -> str:
        user = f"{self.user}@" if self.user else ""
        port = f":{self.port}" if self.port is not None else ""
        return f"{self.scheme}:{user}{self.host}{port}{_fmt_params(self.params)}"

    def address(self, default_port: int = SIP_PORT) -> tuple[str, int]:
        """Where to send requests for this URI (no DNS: the host is used as it is)."""
        return self.host.strip("[]"), self.port or default_port


@dataclass(frozen=True)
class NameAddr:
    """From/To/Contact value: a URI, an optional display name, header parameters (tag)."""
    uri: SipUri
    display: str | None = None
    params: tuple[tuple[str, str | None], ...] = ()

    @classmethod
    def parse(cls, text: str) -> "NameAddr":
        text = text.strip()
        parts = _split(text, ";")
        if "<" in text and ">" in text and text.index("<") < text.rindex(">"):
            head = text[:text.rindex(">") + 1]
            rest = text[len(head):].strip()
            display, _, uri = head.partition("<")
            uri = uri[:-1]
            display = display.strip()
            if display.startswith('"'):
                if len(display) < 2 or not display.endswith('"'):
                    raise ProtocolError(f"bad display name in {text!r}")
                display = display[1:-1]
            elif display and not all(_TOKEN.match(w) for w in display.split()):
                raise ProtocolError(f"bad display name in {text!r}")
            if rest and not rest.startswith(";"):
                raise ProtocolError(f"unexpected {rest!r} after the URI in {text!r}")
            return cls(SipUri.parse(uri), display or None,
                       _params(rest[1:], "header") if rest else ())
        if "<" in text or ">" in text:
            raise ProtocolError(f"unbalanced angle brackets in {text!r}")
        # addr-spec: the parameters after ';' are header parameters (s20.10)
        return cls(SipUri.parse(parts[0]), None, _params(";".join(parts[1:]), "header")
                   if len(parts) > 1 else ())

    @property
    def tag(self) -> str | None:
        return dict(self.params).get("tag")

    def with_tag(self, tag: str) -> "NameAddr":
        return replace(self, params=tuple(p for p in self.params if p[0] != "tag")
                       + (("tag", tag),))

    def __str__(self) -> str:
        display = f'"{self.display}" ' if self.display else ""
        return f"{display}<{self.uri}>{_fmt_params(self.params)}"


@dataclass(frozen=True)
class Via:
    host: str
    port: int | None = None
    params: tuple[tuple[str, str | None], ...] = ()
    transport: str = "UDP"

    @classmethod
    def parse(cls, text: str) -> "Via":
        # sent-protocol, LWS allowed around the slashes (s25.1), then LWS and sent-by
        m = re.match(r"\s*SIP\s*/\s*2\.0\s*/\s*([A-Za-z0-9\-.!%*_+`'~]+)\s+(.*)\Z",
                     text, re.S | re.I)
        if not m:
            raise ProtocolError(f"bad Via sent-protocol in {text!r}")
        transport, rest = m.group(1), m.group(2)
        sent_by, semi, params = rest.strip().partition(";")
        host, port = _hostport(sent_by.strip(), "Via")
        return cls(host, port, _params(params, "Via") if semi else (), transport.upper())

    @property
    def branch(self) -> str | None:
        return dict(self.params).get("branch")

    def __str__(self) -> str:
        port = f":{self.port}" if self.port is not None else ""
        return f"SIP/2.0/{self.transport} {self.host}{port}{_fmt_params(self.params)}"


@dataclass(frozen=True)
class CSeq:
    number: int
    method: str

    @classmethod
    def parse(cls, text: str) -> "CSeq":
        parts = text.split()
        if len(parts) != 2 or not _TOKEN.match(parts[1]):
            raise ProtocolError(f"bad CSeq {text[:80]!r}")
        number = _number(parts[0], "CSeq number")
        if number >= 1 << 31:
            raise ProtocolError(f"CSeq number {number} is not below 2**31 (s8.1.1.5)")
        return cls(number, parts[1])

    def __str__(self) -> str:
        return f"{self.number} {self.method}"


@dataclass(frozen=True)
class SipMessage:
    """A request (method, uri) or a response (status, reason); headers in order."""
    headers: tuple[tuple[str, str], ...]
    body: bytes = b""
    method: str | None = None
    uri: str | None = None
    status: int | None = None
    reason: str | None = None

    @property
    def is_request(self) -> bool:
        return self.method is not None

    def get_all(self, name: str) -> list[str]:
        """Every value of header `name`, comma-separated lists split for list headers."""
        name = canonical(name)
        values = [v for n, v in self.headers if n == name]
        if name in _MULTI:
            values = [p.strip() for v in values for p in _split(v, ",") if p.strip()]
        return values

    def get(self, name: str) -> str | None:
        values = self.get_all(name)
        return values[0] if values else None

    def _one(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise ProtocolError(f"no {name} header")
        return value

    @property
    def vias(self) -> list[Via]:
        return [Via.parse(v) for v in self.get_all("Via")]

    @property
    def via(self) -> Via:
        return Via.parse(self._one("Via"))

    @property
    def from_(self) -> NameAddr:
        return NameAddr.parse(self._one("From"))

    @property
    def to(self) -> NameAddr:
        return NameAddr.parse(self._one("To"))

    @property
    def call_id(self) -> str:
        return self._one("Call-ID")

    @property
    def cseq(self) -> CSeq:
        return CSeq.parse(self._one("CSeq"))

    @property
    def contact(self) -> NameAddr | None:
        value = self.get("Contact")
        return None if value is None else NameAddr.parse(value)

    @property
    def contacts(self) -> list[NameAddr]:
        """Every Contact address, in order (RFC 6252 C.4's several contact addresses)."""
        return [NameAddr.parse(v) for v in self.get_all("Contact")]

    @property
    def content_type(self) -> str | None:
        value = self.get("Content-Type")
        return value.split(";")[0].strip().lower() if value else None

    def with_header(self, name: str, value: str) -> "SipMessage":
        """A copy with `name` set to `value` (replacing every existing instance)."""
        name = canonical(name)
        return replace(self, headers=tuple(h for h in self.headers if h[0] != name)
                       + ((name, value),))


def _check_token(value: str, what: str) -> str:
    if not _TOKEN.match(value):
        raise ProtocolError(f"bad {what} {value!r}")
    return value


def decode(data: bytes) -> SipMessage:
    """Parse one SIP message from a UDP datagram (s7, s18.3)."""
    data = bytes(data).lstrip(b"\r\n")          # s7.5: CRLFs before the start line
    if not data:
        raise ProtocolError("empty SIP message (keep-alive CRLF)")
    end = data.find(b"\r\n\r\n")
    sep = 4
    if end < 0:
        end, sep = data.find(b"\n\n"), 2
        if end < 0:
            raise ProtocolError("no empty line after the SIP headers")
    try:
        head = data[:end].decode("utf-8")
    except UnicodeDecodeError:
        raise ProtocolError("SIP headers are not UTF-8") from None
    if "\0" in head:
        raise ProtocolError("NUL in the SIP headers")
    rest = data[end + sep:]
    lines: list[str] = []
    for line in head.replace("\r\n", "\n").split("\n"):
        if line[:1] in (" ", "\t") and len(lines) > 1:   # s7.3.1 line folding
            lines[-1] += " " + line.strip()
        elif "\r" in line:
            raise ProtocolError("bare CR in the SIP headers")
        else:
            lines.append(line)
    start, header_lines = lines[0], lines[1:]
    method = uri = reason = None
    status = None
    if start.startswith(VERSION + " "):
        parts = start.split(" ", 2)
        if len(parts) < 2 or not re.fullmatch(r"[1-6][0-9][0-9]", parts[1]):
            raise ProtocolError(f"bad Status-Line {start!r}")
        status, reason = int(parts[1]), (parts[2] if len(parts) > 2 else "")
    else:
        parts = start.split(" ")
        if len(parts) != 3 or parts[2] != VERSION:
            raise ProtocolError(f"bad Request-Line {start[:80]!r}")
        method = _check_token(parts[0], "method")
        uri = parts[1]
        if ":" not in uri or any(c.isspace() for c in uri) or uri.startswith(":"):
            raise ProtocolError(f"bad Request-URI {uri!r}")
    headers: list[tuple[str, str]] = []
    for line in header_lines:
        name, colon, value = line.partition(":")
        name = name.rstrip(" \t")
        if not colon or not _TOKEN.match(name):
            raise ProtocolError(f"bad header line {line[:80]!r}")
        headers.append((canonical(name), value.strip(" \t")))
    msg = SipMessage(tuple(headers), b"", method, uri, status, reason)
    for name in ("From", "To", "Call-ID", "CSeq"):
        if len(msg.get_all(name)) != 1:
            raise ProtocolError(f"{len(msg.get_all(name))} {name} headers, expected one")
    if not msg.get_all("Via"):
        raise ProtocolError("no Via header")
    for check in (lambda: msg.vias, lambda: msg.from_, lambda: msg.to, lambda: msg.contacts):
        check()                                   # their syntax, once, here
    if not msg.call_id:
        raise ProtocolError("empty Call-ID")
    cseq = msg.cseq
    if method is not None and cseq.method != method:
        raise ProtocolError(f"CSeq method {cseq.method} differs from the request's {method}")
    lengths = [v for n, v in headers if n == "Content-Length"]
    if len(lengths) > 1:
        raise ProtocolError("more than one Content-Length")
    body = rest
    if lengths:
        n = _number(lengths[0], "Content-Length")
        if n > len(rest):
            raise ProtocolError(f"Content-Length {n} exceeds the {len(rest)} body octets "
                                "received (s18.3)")
        body = rest[:n]
    return replace(msg, body=body)


def encode(msg: SipMessage) -> bytes:
    """The message on the wire; Content-Length is always (re)computed, last."""
    if msg.is_request:
        start = f"{msg.method} {msg.uri} {VERSION}"
    else:
        start = f"{VERSION} {msg.status} {msg.reason or REASONS.get(msg.status, '')}"
    lines = [start] + [f"{n}: {v}" for n, v in msg.headers if n != "Content-Length"]
    lines.append(f"Content-Length: {len(msg.body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + msg.body


def new_branch() -> str:
    return BRANCH_MAGIC + secrets.token_hex(8)


def new_tag() -> str:
    return secrets.token_hex(6)


def new_call_id(host: str) -> str:
    return f"{secrets.token_hex(10)}@{host}"


def request(method: str, uri: SipUri | str, *, via: Via, from_: NameAddr, to: NameAddr,
            call_id: str, cseq: int, contact: NameAddr | list[NameAddr] | None = None,
            body: bytes = b"", content_type: str | None = None, max_forwards: int = 70,
            extra: tuple[tuple[str, str], ...] = ()) -> SipMessage:
    """A request with the s8.1.1 headers in the usual order; `contact` one address or
    several (one Contact header, comma-separated: C.4)."""
    headers = [("Via", str(via)), ("Max-Forwards", str(max_forwards)), ("From", str(from_)),
               ("To", str(to)), ("Call-ID", call_id), ("CSeq", f"{cseq} {method}")]
    if isinstance(contact, (list, tuple)):
        if contact:
            headers.append(("Contact", ", ".join(str(c) for c in contact)))
    elif contact is not None:
        headers.append(("Contact", str(contact)))
    headers += [(canonical(n), v) for n, v in extra]
    if body:
        headers.append(("Content-Type", content_type or "application/sdp"))
    return SipMessage(tuple(headers), body, method=method, uri=str(uri))


def response(req: SipMessage, status: int, reason: str | None = None, *,
             to_tag: str | None = None, contact: NameAddr | None = None, body: bytes = b"",
             content_type: str | None = None,
             extra: tuple[tuple[str, str], ...] = ()) -> SipMessage:
    """The response to `req` (s8.2.6.2): Via (all), From, Call-ID, CSeq copied; To copied,
    with `to_tag` added if it has no tag yet (s8.2.6.2; 100 Trying carries none)."""
    headers = [(n, v) for n, v in req.headers if n == "Via"]
    to = req._one("To")
    if to_tag and req.to.tag is None:
        to = f"{to};tag={to_tag}"            # the request's To as it was, plus our tag
    headers += [("From", req._one("From")), ("To", to), ("Call-ID", req.call_id),
                ("CSeq", req._one("CSeq"))]
    if contact is not None:
        headers.append(("Contact", str(contact)))
    headers += [(canonical(n), v) for n, v in extra]
    if body:
        headers.append(("Content-Type", content_type or "application/sdp"))
    return SipMessage(tuple(headers), body, status=status,
                      reason=reason or REASONS.get(status, "Unknown"))


def ack_for_error(invite: SipMessage, resp: SipMessage) -> SipMessage:
    """ACK for a non-2xx final response to `invite` (s17.1.1.3): part of the INVITE
    transaction (same top Via, hence branch), To from the response."""
    headers = [("Via", invite.get_all("Via")[0]), ("Max-Forwards", "70"),
               ("From", invite._one("From")), ("To", resp._one("To")),
               ("Call-ID", invite.call_id), ("CSeq", f"{invite.cseq.number} ACK")]
    headers += [(n, v) for n, v in invite.headers if n == "Route"]
    return SipMessage(tuple(headers), b"", method="ACK", uri=invite.uri)


@dataclass
class Dialog:
    """A dialog's state as one UA sees it (s12): identifiers, targets, CSeq counters."""
    call_id: str
    local_tag: str
    remote_tag: str | None
    local: NameAddr                 # our From (UAC) or To (UAS) identity, without tag
    remote: NameAddr
    local_contact: SipUri
    remote_target: SipUri           # the peer's Contact: Request-URI of in-dialog requests
    local_cseq: int
    remote_cseq: int | None = None
    invite_cseq: int | None = None  # of the last INVITE we sent (its ACK reuses it)

    @classmethod
    def for_uac(cls, invite: SipMessage, resp: SipMessage) -> "Dialog":
        """From our INVITE and its 2xx (s12.1.2); the remote target is the 2xx's Contact."""
        contact = resp.contact or invite.to
        return cls(call_id=invite.call_id, local_tag=invite.from_.tag or "",
                   remote_tag=resp.to.tag, local=replace(invite.from_, params=()),
                   remote=replace(resp.to, params=()),
                   local_contact=(invite.contact or invite.from_).uri,
                   remote_target=contact.uri, local_cseq=invite.cseq.number,
                   invite_cseq=invite.cseq.number)

    @classmethod
    def for_uas(cls, invite: SipMessage, local_tag: str, local_contact: SipUri,
                initial_cseq: int = 1) -> "Dialog":
        """From a received INVITE (s12.1.1); the remote target is its Contact."""
        contact = invite.contact or invite.from_
        return cls(call_id=invite.call_id, local_tag=local_tag, remote_tag=invite.from_.tag,
                   local=replace(invite.to, params=()), remote=replace(invite.from_, params=()),
                   local_contact=local_contact, remote_target=contact.uri,
                   local_cseq=initial_cseq - 1, remote_cseq=invite.cseq.number)

    def matches(self, msg: SipMessage) -> bool:
        """Whether a received request belongs to this dialog (Call-ID and both tags)."""
        return (msg.call_id == self.call_id and msg.to.tag == self.local_tag
                and msg.from_.tag == self.remote_tag)

    def request(self, method: str, via: Via, body: bytes = b"",
                content_type: str | None = None,
                also: tuple[SipUri, ...] = ()) -> SipMessage:
        """The next in-dialog request (s12.2.1.1). ACK reuses the last INVITE's CSeq. An
        INVITE names our contact and, after it, the addresses `also` (C.4)."""
        if method == "ACK":
            if self.invite_cseq is None:
                raise ProtocolError("ACK without an INVITE in this dialog")
            cseq = self.invite_cseq
        else:
            self.local_cseq += 1
            cseq = self.local_cseq
            if method == "INVITE":
                self.invite_cseq = cseq
        remote = self.remote.with_tag(self.remote_tag) if self.remote_tag else self.remote
        return request(method, self.remote_target, via=via,
                       from_=self.local.with_tag(self.local_tag), to=remote,
                       call_id=self.call_id, cseq=cseq,
                       contact=([NameAddr(self.local_contact)] + [NameAddr(u) for u in also]
                                if method == "INVITE" else None),
                       body=body, content_type=content_type)


# ---- SDP (RFC 4566) and offer/answer (RFC 3264) ----

@dataclass(frozen=True)
class SessionDescription:
    """One audio stream: where to send RTP (c= address, m= port) and its formats."""
    address: str
    port: int
    formats: tuple[int, ...] = (0,)
    session_id: int = 0
    version: int = 0
    origin_address: str | None = None
    username: str = "-"
    direction: str = "sendrecv"
    proto: str = "RTP/AVP"
    rtpmap: dict = field(default_factory=lambda: {0: "PCMU/8000"}, compare=False)

    def next_version(self, **changes) -> "SessionDescription":
        """A re-offer: o= version + 1 (RFC 3264 s8), other fields changed as given."""
        return replace(self, version=self.version + 1, **changes)


def _addrtype(address: str) -> str:
    try:
        return "IP6" if ipaddress.ip_address(address).version == 6 else "IP4"
    except ValueError:
        return "IP4"


def sdp_encode(sd: SessionDescription) -> bytes:
    origin = sd.origin_address or sd.address
    lines = ["v=0", f"o={sd.username} {sd.session_id} {sd.version} IN {_addrtype(origin)} "
             f"{origin}", "s=-", f"c=IN {_addrtype(sd.address)} {sd.address}", "t=0 0",
             f"m=audio {sd.port} {sd.proto} " + " ".join(str(f) for f in sd.formats)]
    lines += [f"a=rtpmap:{f} {sd.rtpmap[f]}" for f in sd.formats if f in sd.rtpmap]
    lines.append(f"a={sd.direction}")
    return ("\r\n".join(lines) + "\r\n").encode()


def _connection(value: str) -> str:
    parts = value.split()
    if len(parts) != 3 or parts[0] != "IN" or parts[1] not in ("IP4", "IP6"):
        raise ProtocolError(f"bad SDP c= line {value!r}")
    address = parts[2].split("/")[0]
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        raise ProtocolError(f"SDP c= address {address!r} is not an IP address") from None
    if (ip.version == 6) != (parts[1] == "IP6"):
        raise ProtocolError(f"SDP c= address {address} is not {parts[1]}")
    return address


def sdp_decode(data: bytes) -> SessionDescription:
    """The first audio stream of a session description (RFC 4566 s5)."""
    try:
        text = bytes(data).decode("utf-8")
    except UnicodeDecodeError:
        raise ProtocolError("SDP is not UTF-8") from None
    lines = [ln for ln in text.replace("\r\n", "\n").split("\n") if ln]
    if not lines or lines[0] != "v=0":
        raise ProtocolError("SDP does not start with v=0")
    session: dict = {"a": []}
    media: list[dict] = []
    for ln in lines:
        if len(ln) < 2 or ln[1] != "=" or not ln[0].isalpha() or not ln[0].islower():
            raise ProtocolError(f"bad SDP line {ln[:60]!r}")
        kind, value = ln[0], ln[2:]
        if kind == "m":
            media.append({"m": value, "a": []})
        elif media:
            if kind == "a":
                media[-1]["a"].append(value)
            else:
                media[-1].setdefault(kind, value)
        elif kind == "a":
            session["a"].append(value)
        else:
            session.setdefault(kind, value)
    for kind in ("o", "s", "t"):
        if kind not in session:
            raise ProtocolError(f"SDP has no {kind}= line")
    origin = session["o"].split()
    if len(origin) != 6:
        raise ProtocolError(f"bad SDP o= line {session['o'][:80]!r}")
    session_id, version = (_number(o, "SDP o= field", 20) for o in origin[1:3])
    audio = next((m for m in media if m["m"].split(" ", 1)[0] == "audio"), None)
    if audio is None:
        raise ProtocolError("SDP has no audio m= line")
    m = audio["m"].split()
    if len(m) < 4 or not re.fullmatch(r"[0-9]{1,5}(/[0-9]{1,5})?", m[1]):
        raise ProtocolError(f"bad SDP m= line {audio['m']!r}")
    port = int(m[1].split("/")[0])
    if port > 65535:
        raise ProtocolError(f"SDP m= port {port} out of range")
    if not m[2].startswith("RTP/"):
        raise ProtocolError(f"audio over {m[2]!r}, not RTP")
    formats = tuple(_number(f, "RTP payload types in m=", 3) for f in m[3:])
    if not all(f < 128 for f in formats):
        raise ProtocolError(f"bad RTP payload types in {audio['m'][:80]!r}")
    if "c" not in audio and "c" not in session:
        raise ProtocolError("SDP has no c= line for the audio stream")
    address = _connection(audio.get("c") or session["c"])
    direction = "sendrecv"
    rtpmap = {}
    for a in session["a"] + audio["a"]:       # media-level attributes override (s5.13)
        if a in ("sendrecv", "sendonly", "recvonly", "inactive"):
            direction = a
        elif a.startswith("rtpmap:"):
            pt, _, enc = a[7:].partition(" ")
            if pt.isdigit() and pt.isascii() and len(pt) <= 3:
                rtpmap[int(pt)] = enc.strip()
    return SessionDescription(address=address, port=port, formats=formats,
                              session_id=session_id, version=version,
                              origin_address=origin[5], username=origin[0],
                              direction=direction, proto=m[2], rtpmap=rtpmap)


_ANSWER_DIRECTION = {"sendrecv": "sendrecv", "sendonly": "recvonly", "recvonly": "sendonly",
                     "inactive": "inactive"}


def sdp_answer(offer: SessionDescription, address: str, port: int, session_id: int,
               version: int, supported: tuple[int, ...] = (0,)) -> SessionDescription:
    """The answer to `offer` (RFC 3264 s6.1): the offered formats we support, in the offer's
    order; ProtocolError if none (the UA then answers 488 Not Acceptable Here)."""
    if offer.proto != "RTP/AVP":
        raise ProtocolError(f"unsupported media transport {offer.proto}")
    formats = tuple(f for f in offer.formats if f in supported)
    if not formats:
        raise ProtocolError(f"no common payload type (offered {offer.formats}, "
                            f"supported {supported})")
    return SessionDescription(address=address, port=port, formats=formats,
                              session_id=session_id, version=version, origin_address=address,
                              direction=_ANSWER_DIRECTION[offer.direction])
