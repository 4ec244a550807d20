"""The RADIUS client of an AP or PAA lets exchanges overlap (issue 17) and keeps RFC 5080's
retransmission and RFC 3579's Message-Authenticator. A stand-in server on loopback holds
every Access-Request until it has seen all of them, so that exchanges held one at a time
would never all arrive."""
import socket
import threading
import time

import pyrad.packet

from orchestrator.agents.radius_client import RadiusClient
from orchestrator.protocols import eap
from orchestrator.protocols.radius_dict import dictionary

SECRET = b"issue-17-secret"


class HoldingServer:
    """Receives Access-Requests on loopback; once `expect` distinct ones (by source port and
    Identifier) are in, or `hold_s` has passed, answers each with an Access-Challenge whose
    State is the request's User-Name. `drop_first`: User-Names whose first copy is ignored."""

    def __init__(self, expect: int, users: int | None = None, hold_s: float = 5.0, drop_first=()):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.05)
        self.port = self.sock.getsockname()[1]
        self.expect, self.hold_s, self.drop_first = expect, hold_s, set(drop_first)
        self.users = users or expect                 # stop once this many were answered
        self.answered: set[str] = set()
        self.received: list[tuple[tuple, int, bytes, str]] = []   # (addr, id, authenticator, user)
        self.held_at_once = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        held, deadline = {}, time.monotonic() + self.hold_s
        while time.monotonic() < deadline + 2:
            try:
                raw, addr = self.sock.recvfrom(4096)
            except socket.timeout:
                raw = None
            if raw is not None:
                req = pyrad.packet.AuthPacket(packet=raw, secret=SECRET, dict=dictionary())
                user = req["User-Name"][0]
                self.received.append((addr, req.id, req.authenticator, user))
                if user in self.drop_first:
                    self.drop_first.discard(user)
                    continue
                held[(addr, req.id)] = (req, addr)
            if held and (len(held) >= self.expect or time.monotonic() > deadline):
                self.held_at_once = max(self.held_at_once, len(held))
                for req, addr in held.values():
                    reply = req.CreateReply()
                    reply.code = pyrad.packet.AccessChallenge
                    reply.AddAttribute("EAP-Message", eap.identity_request(1).encode())
                    reply["State"] = req["User-Name"][0].encode()
                    reply.add_message_authenticator()
                    self.sock.sendto(reply.ReplyPacket(), addr)
                    self.answered.add(req["User-Name"][0])
                held = {}
                if len(self.answered) >= self.users:
                    return

    def close(self) -> None:
        self.thread.join(timeout=10)
        self.sock.close()


def _exchange_all(client: RadiusClient, users: list[str]) -> dict:
    replies = {}

    def one(user):
        replies[user] = client.exchange(user, eap.identity_response(1, user).encode(), None)

    threads = [threading.Thread(target=one, args=(u,)) for u in users]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    return replies


def test_exchanges_overlap_each_on_its_own_socket_and_get_their_own_reply():
    users = [f"mn{i}@home.example" for i in range(12)]
    server = HoldingServer(expect=len(users))
    client = RadiusClient("127.0.0.1", server.port, SECRET.decode(), "ap0", timeout=8.0, retries=1)
    try:
        replies = _exchange_all(client, users)
    finally:
        server.close()
    assert server.held_at_once == len(users)               # all were in flight together
    assert len({addr for addr, *_ in server.received}) == len(users)
    for user, reply in replies.items():                      # each reply went to its exchange,
        assert reply.code == "challenge", reply.reason       # verified (Message-Authenticator
        assert reply.state == user.encode()                  # required: enforce_ma)
        assert reply.retransmissions == 0
    # the sockets are kept for the next exchanges, not opened again
    assert client.sockets == len(users) and len(client._idle) == len(users)
    server2 = HoldingServer(expect=3)
    client.port = server2.port
    for c in client._idle:
        c.authport = server2.port
    try:
        again = _exchange_all(client, users[:3])
    finally:
        server2.close()
    assert all(r.code == "challenge" for r in again.values()) and client.sockets == len(users)


def test_an_unanswered_request_is_sent_again_unchanged_from_the_same_port():
    """RFC 5080 s2.2.1: a retransmission keeps the Identifier and the Request Authenticator
    (and so comes from the same source port, where the server's duplicate detection looks)."""
    server = HoldingServer(expect=1, users=2, drop_first={"mn0@home.example"})
    client = RadiusClient("127.0.0.1", server.port, SECRET.decode(), "ap0", timeout=0.5, retries=3)
    try:
        replies = _exchange_all(client, ["mn0@home.example", "mn1@home.example"])
    finally:
        server.close()
    copies = [r for r in server.received if r[3] == "mn0@home.example"]
    assert len(copies) == 2
    assert copies[0][:3] == copies[1][:3]                   # address, Identifier, Authenticator
    assert replies["mn0@home.example"].code == "challenge"
    assert replies["mn0@home.example"].retransmissions == 1
    assert replies["mn1@home.example"].retransmissions == 0


def test_each_socket_of_the_pool_has_a_source_port_of_its_own():
    """pyrad's sockets allow address reuse, and Linux gave two of them one ephemeral port:
    one exchange's replies went to the other's socket (issue 17). The pool binds each to a
    port no other socket has, however many there are."""
    import pyrad.client
    from orchestrator.agents.radius_client import own_port
    clients = [pyrad.client.Client(server="127.0.0.1", authport=1812, secret=SECRET,
                                   dict=dictionary()) for _ in range(500)]
    try:
        ports = [own_port(c) for c in clients]
        assert len(set(ports)) == len(ports)
        assert all(c._socket.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR) == 0
                   for c in clients)
    finally:
        for c in clients:
            c._CloseSocket()
