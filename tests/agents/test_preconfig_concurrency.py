"""Per-CTN pre-configuration locks (RFC 6252 s7.2, C.4): operations on different CTNs are
independent, operations on one CTN are serialised. No root, no network: charon, the nCoA
routing, the oCoA lookup and the tunnel probe are fakes; a fake charon's `initiate` for CTN
C blocks until the test lets it go, as a real IKEv2 exchange (or DHCP's 3 s conflict check)
keeps a pre-configuration under way."""
import socket
import threading

import pytest

from orchestrator.agents import preconfig
from orchestrator.agents.control import CommandError
from orchestrator.agents.preconfig import PreConfiguration, RelayedDhcpClient
from orchestrator.events import EventLog
from orchestrator.protocols import dhcp

WAIT = 10.0          # s: only ever reached when the code under test is wrong


class Keys:
    def mn_ar_key(self) -> bytes:
        return b"k" * 32


class FakeCharon:
    """charon as the MN's VICI client sees it: `initiate` of the IKE_SA named in `hold`
    waits for `release[name]`; every call is recorded."""

    def __init__(self, hold=()):
        self.release = {f"mpa-{n}": threading.Event() for n in hold}
        self.entered = {f"mpa-{n}": threading.Event() for n in hold}
        self.calls: list[tuple] = []
        self.vips: dict[str, str] = {}
        self._lock = threading.Lock()

    def _note(self, *call):
        with self._lock:
            self.calls.append(call)

    def load_shared(self, name, key, owners):
        self._note("load_shared", name)

    def load_conn(self, name, conn):
        self._note("load_conn", name)

    def unload_conn(self, name):
        self._note("unload_conn", name)

    def unload_shared(self, name):
        self._note("unload_shared", name)

    def terminate(self, ike=None, **kw):
        self._note("terminate", ike, kw.get("force", False))

    def initiate(self, ike, child, timeout, on_log=None):
        self._note("initiate", ike)
        if ike in self.release:
            self.entered[ike].set()
            if not self.release[ike].wait(WAIT):
                return {"success": "no", "errmsg": "test never released it"}
        return {"success": "yes"}

    def list_sas(self, ike=None):
        return {ike: {"local-vips": [self.vips[ike]], "child-sas": {}}}


class FakeRouting:
    tun = "ipsec0"                         # the TUN device the tunnels' packets leave by

    def __init__(self):
        self.attached: set[str] = set()

    def attach(self, ncoa):
        self.attached.add(ncoa)

    def detach(self, ncoa, remove_address=True):
        self.attached.discard(ncoa)

    def detach_fast(self, nl, ncoa):
        self.attached.discard(ncoa)


def ctn(name: str, n: int) -> dict:
    return {"name": name, "domain": "home", "subnet": f"10.{n}.0.0/24", "router": f"10.{n}.0.1",
            "ars": [{"node": f"ar-{name}", "address": f"10.{n}.0.1",
                     "ike_id_cp": f"cp.ar-{name}", "ike_id_pht": f"pht.ar-{name}"}],
            "paas": [{"node": f"aa-{name}"}], "cas": [], "arp": []}


@pytest.fixture
def mn(tmp_path, monkeypatch):
    monkeypatch.setattr(preconfig, "current_address", lambda iface: "10.2.0.100")
    monkeypatch.setattr(preconfig, "icmp_echo", lambda src, dst, timeout=1.0: 0.001)
    sas = {f"aa-{n}": Keys() for n in "acd"}
    pc = PreConfiguration("mn", {"iface": "wlan0", "ike": {"id": "mn"}},
                          EventLog(tmp_path / "events" / "mn.jsonl", "mn", "mobile-node"), sas)
    pc.routing = FakeRouting()
    pc.ctns = {c["name"]: c for c in (ctn("a", 1), ctn("c", 3), ctn("d", 4))}

    def use(charon):
        charon.vips.update({"mpa-a": "10.1.0.50", "mpa-c": "10.3.0.50", "mpa-d": "10.4.0.50"})
        pc.charon = charon
        return pc
    yield use
    pc.close()


def in_thread(fn, *args):
    out: dict = {}

    def run():
        try:
            out["result"] = fn(*args)
        except Exception as exc:          # noqa: BLE001 - handed to the test
            out["error"] = exc
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, out


def test_handover_into_a_does_not_wait_for_cs_preconfiguration(mn):
    charon = FakeCharon(hold=("c",))
    pc = mn(charon)
    t, out = in_thread(pc.preconfigure, "c", "ikev2", 300.0, 5.0)
    assert charon.entered["mpa-c"].wait(WAIT)            # C's IKEv2 exchange under way
    pc.preconfigure("a", "ikev2", 300.0, 5.0)            # A's completes meanwhile
    p = pc.hand_over("a", delete_tunnel=False)            # and the handover into A goes
    assert p.ncoa == "10.1.0.50" and pc.names() == []      # C is not pre-configured yet
    assert t.is_alive()
    charon.release["mpa-c"].set()
    t.join(WAIT)
    assert out.get("result", {}).get("ncoa") == "10.3.0.50" and pc.names() == ["c"]


def test_preconfigurations_of_several_ctns_run_in_parallel(mn):
    charon = FakeCharon(hold=("a", "c", "d"))
    pc = mn(charon)
    threads = [in_thread(pc.preconfigure, n, "ikev2", 300.0, 5.0) for n in "acd"]
    for n in "acd":                                   # all three exchanges under way at once
        assert charon.entered[f"mpa-{n}"].wait(WAIT), n
    assert pc.names() == []
    for n in "acd":
        charon.release[f"mpa-{n}"].set()
    for t, out in threads:
        t.join(WAIT)
        assert "error" not in out, out
    assert sorted(pc.names()) == ["a", "c", "d"]
    assert pc.routing.attached == {"10.1.0.50", "10.3.0.50", "10.4.0.50"}


def test_operations_on_one_ctn_wait_for_each_other(mn):
    charon = FakeCharon(hold=("c",))
    pc = mn(charon)
    t, _ = in_thread(pc.preconfigure, "c", "ikev2", 300.0, 5.0)
    assert charon.entered["mpa-c"].wait(WAIT)
    r, out = in_thread(pc.release, "c")                # waits for C's pre-configuration
    r.join(0.2)
    assert r.is_alive() and "error" not in out
    charon.release["mpa-c"].set()
    t.join(WAIT)
    r.join(WAIT)
    assert out["result"]["ncoa"] == "10.3.0.50" and pc.names() == []
    assert ("terminate", "mpa-c", False) in charon.calls and pc.routing.attached == set()


def charon_calls(pc):
    return pc.charon.calls


def test_commit_releases_the_others_and_a_missing_one_is_an_error(mn):
    pc = mn(FakeCharon())
    for n in "acd":
        pc.preconfigure(n, "ikev2", 300.0, 5.0)
    out = pc.commit("a")
    assert out["kept"]["ctn"] == "a"
    pc.preconfigure("c", "ikev2", 300.0, 5.0)
    pc.release("c", "the MN has left", force=True)          # no DELETE to wait for
    assert ("terminate", "mpa-c", True) in charon_calls(pc)
    assert sorted(r["ctn"] for r in out["released"]) == ["c", "d"] and pc.names() == ["a"]
    with pytest.raises(CommandError, match="nothing is pre-configured with c"):
        pc.hand_over("c", delete_tunnel=False)
    with pytest.raises(CommandError, match="unknown candidate target network"):
        pc.release("z")


def test_expiry_of_one_ctn_does_not_touch_another(mn):
    charon = FakeCharon(hold=("c",))
    pc = mn(charon)
    pc.preconfigure("a", "ikev2", 0.05, 5.0)              # expires in 50 ms
    t, _ = in_thread(pc.preconfigure, "c", "ikev2", 300.0, 5.0)
    assert charon.entered["mpa-c"].wait(WAIT)
    for _ in range(200):                                  # A expires while C is under way
        if "a" not in pc.names():
            break
        threading.Event().wait(0.02)
    assert "a" not in pc.names() and t.is_alive()
    charon.release["mpa-c"].set()
    t.join(WAIT)
    assert pc.names() == ["c"]


class LoopbackRelay(RelayedDhcpClient):
    port = 0          # set per test: an unprivileged port shared by both "relays"


def test_two_relays_on_one_port_each_get_their_own_servers_answer():
    """Two CTNs' DHCP exchanges at once from the same oCoA and relay port (s7.3.3): each
    client's socket gets the answer of the server it asked."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]          # a free port number, for the "relay" and both
    probe.close()                          # "servers" (each server on its own address)
    servers = []
    for host in ("127.0.0.2", "127.0.0.3"):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((host, port))
        servers.append(s)
    LoopbackRelay.port = port
    clients = [LoopbackRelay("127.0.0.1", b"\x02" * 6, host, "10.9.0.0/24")
               for host in ("127.0.0.2", "127.0.0.3")]
    socks = [c._socket() for c in clients]
    try:
        for s, c in zip(socks, clients):
            s.send(c.server.encode())
        for srv in servers:               # each server answers its asker, from its address
            data, peer = srv.recvfrom(100)
            srv.sendto(b"from " + srv.getsockname()[0].encode(), peer)
        for s, c in zip(socks, clients):
            s.settimeout(WAIT)
            assert s.recv(100) == b"from " + c.server.encode()
    finally:
        for s in socks + servers:
            s.close()
    assert dhcp.SERVER_PORT == RelayedDhcpClient.port == 67


def test_a_dropped_first_discover_is_resent_after_a_quarter_second(monkeypatch):
    """The nAR's DHCP filter opens with the MN-AR key, which the PAA installs after PANA's
    last message: a first DISCOVER that came too early is dropped, and the pre-configuration
    retransmits after RELAYED_DHCP_FIRST_RETRANSMISSION (not RFC 2131's 4 s), counting it."""
    from ipaddress import IPv4Address
    from orchestrator.agents import preconfig as pc_mod
    monkeypatch.setattr(pc_mod, "RELAYED_DHCP_FIRST_RETRANSMISSION", 0.05)
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind(("127.0.0.4", port))
    server.settimeout(WAIT)
    seen = []

    def serve():
        while len(seen) < 3:
            try:
                data, peer = server.recvfrom(2048)
            except OSError:
                return
            msg = dhcp.decode(data)
            seen.append(msg.message_type)
            if len(seen) == 1:
                continue                            # the filter dropped it
            mtype = 2 if msg.message_type == dhcp.MessageType.DISCOVER else 5
            reply = dhcp.DhcpMessage(
                dhcp.BOOTREPLY, msg.xid, msg.chaddr,
                ((53, bytes([mtype])), (54, IPv4Address("127.0.0.4").packed),
                 (51, (3600).to_bytes(4, "big")), (1, IPv4Address("255.255.255.0").packed)),
                yiaddr=IPv4Address("10.9.0.50"), giaddr=msg.giaddr)
            server.sendto(dhcp.encode(reply), peer)
    t = threading.Thread(target=serve, daemon=True)
    t.start()
    LoopbackRelay.port = port
    try:
        lease, times = LoopbackRelay("127.0.0.1", b"\x02" * 6, "127.0.0.4",
                                     "10.9.0.0/24").acquire(timeout=2.0)
    finally:
        t.join(WAIT)
        server.close()
    assert str(lease.address) == "10.9.0.50"
    assert seen == [dhcp.MessageType.DISCOVER, dhcp.MessageType.DISCOVER,
                    dhcp.MessageType.REQUEST]
    assert times["sent"] == 3
    assert pc_mod.RelayedDhcpClient.port == 67


def test_the_relayed_dhcp_ends_when_the_mn_leaves_the_ocoas_network():
    """A pre-configuration's DHCP from the oCoA, unanswered (the MN has handed over: the
    answers go to the network it left), ends when its Overtaken is set, with the reason,
    long before its timeout."""
    from orchestrator.agents.overtaken import Overtaken
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.5", port))               # takes the DISCOVERs, never answers
    LoopbackRelay.port = port
    overtaken = Overtaken()
    client = LoopbackRelay("127.0.0.1", b"\x02" * 6, "127.0.0.5", "10.9.0.0/24", overtaken)
    out = {}

    def acquire():
        try:
            client.acquire(timeout=60.0)
        except CommandError as exc:
            out["error"] = str(exc)
    t = threading.Thread(target=acquire, daemon=True)
    try:
        t.start()
        silent.settimeout(WAIT)
        silent.recvfrom(2048)                      # the first DISCOVER left
        overtaken.overtake("overtaken by the handover to net-a (the MN left net-b)")
        t.join(WAIT)
        assert not t.is_alive()                    # ended within WAIT, not at its 60 s
    finally:
        silent.close()
    assert out == {"error": "overtaken by the handover to net-a (the MN left net-b)"}
