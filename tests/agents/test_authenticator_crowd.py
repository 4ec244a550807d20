"""The AP's 4-way handshake when it is slow (issue 17: 100 MNs at one AP at once):

- message 1 is resent as hostapd does (src/ap/wpa_auth.c: 100 ms after the first send, 1 s
  after each later one) and the handshake given up after MSG1_RETRIES resends; with 100 ms
  throughout, a crowd whose message 2 came after 0.5 s failed;
- an EAPOL-Start the station sent before our message 1 reached it, arriving after its
  message 2, does not restart the handshake the station is completing."""
import time

from orchestrator.agents import dot1x
from orchestrator.agents.dot1x import ETH_P_EAPOL, Authenticator, Pmksa, _eapol_pdu
from orchestrator.protocols import eapol
from orchestrator.protocols.mgmt import mac_bytes


class RecordingIO:
    mac = "02:00:00:00:00:aa"

    def __init__(self):
        self.sent = []

    def send(self, dst, ethertype, frame):
        self.sent.append((time.monotonic(), dst, ethertype, frame))


def test_message_1_resent_after_100_ms_then_every_second_then_given_up(monkeypatch):
    # the schedule scaled down 10x so that the test takes 0.4 s; the ratio is what is checked
    monkeypatch.setattr(dot1x, "MSG1_TIMEOUT", dot1x.MSG1_TIMEOUT / 10)
    monkeypatch.setattr(dot1x, "MSG1_TIMEOUT_SUBSEQ", dot1x.MSG1_TIMEOUT_SUBSEQ / 10)
    io = RecordingIO()
    events = []

    class Log:
        def emit(self, event, phase, **attrs):
            events.append((time.monotonic(), event, attrs))
    auth = Authenticator("wlan0", None, Log(), lambda sta, ok: "ok", io=io)
    sta = "02:00:00:00:00:01"
    auth._start_four_way(sta, Pmksa(bytes(32), "mpa"))
    deadline = time.monotonic() + 5
    while not any(e == "fourway_failed" for _, e, _ in events) and time.monotonic() < deadline:
        time.sleep(0.005)
    times = [t for t, *_ in io.sent]
    assert len(times) == 1 + dot1x.MSG1_RETRIES
    assert len({f for *_, f in io.sent}) == 1                 # the same message 1 each time
    gaps = [b - a for a, b in zip(times, times[1:])]
    first, later = dot1x.MSG1_TIMEOUT, dot1x.MSG1_TIMEOUT_SUBSEQ
    assert first <= gaps[0] < later
    assert all(g >= later for g in gaps[1:]), gaps
    failed = [(t, a) for t, e, a in events if e == "fourway_failed"]
    assert failed and failed[0][0] - times[-1] >= later and sta not in auth.handshakes


def test_a_stale_eapol_start_after_message_2_leaves_the_handshake_alone():
    io, opened, events = RecordingIO(), [], []

    class Log:
        def emit(self, event, phase, **attrs):
            events.append((event, attrs))
    auth = Authenticator("wlan0", None, Log(), lambda sta, ok: opened.append(sta) or "ok", io=io)
    sta, pmk = "02:00:00:00:00:01", bytes(range(32))
    auth.install_pmk(sta, pmk, "mpa")
    auth._start_four_way(sta, Pmksa(pmk, "mpa"))
    supplicant = eapol.Supplicant4Way(pmk, mac_bytes(io.mac), mac_bytes(sta))
    msg2, _ = supplicant.receive(io.sent[-1][3])              # message 1 -> message 2
    auth.handle_frame(sta, io.mac, ETH_P_EAPOL, msg2[0])       # -> message 3
    msg3 = io.sent[-1][3]
    sent_before = len(io.sent)
    auth.handle_frame(sta, io.mac, ETH_P_EAPOL, _eapol_pdu(eapol.PacketType.START))  # stale
    assert len(io.sent) == sent_before                         # no new message 1
    msg4, _ = supplicant.receive(msg3)
    assert supplicant.state == eapol.HandshakeState.DONE
    auth.handle_frame(sta, io.mac, ETH_P_EAPOL, msg4[0])
    assert opened == [sta]                                     # the port opens
    assert "fourway_done" in [e for e, _ in events]


class SlowAP:
    """The station's frame I/O with an AP whose message 1 comes after `delay` s (or never)."""
    mac = "02:00:00:00:00:01"

    def __init__(self, frames_at: list[tuple[float, bytes]]):
        self.t0, self.frames, self.sent = time.monotonic(), list(frames_at), []

    def recv(self, timeout):
        now = time.monotonic() - self.t0
        if self.frames and self.frames[0][0] <= now + timeout:
            at, frame = self.frames.pop(0)
            time.sleep(max(0.0, at - now))
            return (RecordingIO.mac, self.mac, ETH_P_EAPOL, frame)
        time.sleep(timeout)
        return None

    def send(self, dst, ethertype, frame):
        self.sent.append((time.monotonic() - self.t0, frame))


def _station(io):
    sup = object.__new__(dot1x.Supplicant)
    sup.io, sup.log, sup.pmksa = io, None, {RecordingIO.mac: Pmksa(bytes(range(32)), "mpa")}
    return sup


def test_a_station_with_a_pmksa_waits_out_the_ap_s_resends_before_an_eapol_start(monkeypatch):
    monkeypatch.setattr(dot1x, "FOURWAY_REMINDER", 0.3)
    io = SlowAP([])                                            # the AP never starts
    _station(io).four_way(RecordingIO.mac, timeout=0.5)
    starts = [t for t, f in io.sent if f == _eapol_pdu(eapol.PacketType.START)]
    assert starts and starts[0] >= 0.3                         # not after START_PERIOD


def test_a_slow_message_1_gets_message_2_and_no_eapol_start(monkeypatch):
    monkeypatch.setattr(dot1x, "FOURWAY_REMINDER", 0.3)
    monkeypatch.setattr(dot1x, "START_PERIOD", 0.05)           # the old reminder would fire
    ap = eapol.Authenticator4Way(bytes(range(32)), mac_bytes(RecordingIO.mac),
                                 mac_bytes(SlowAP.mac), bytes(16))
    msg1, _ = ap.start()
    io = SlowAP([(0.2, msg1[0])])
    _station(io).four_way(RecordingIO.mac, timeout=0.25)
    assert [f for _, f in io.sent] and all(f != _eapol_pdu(eapol.PacketType.START) for _, f in io.sent)
