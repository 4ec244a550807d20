"""The user-space Mobile IPv6 data plane (orchestrator/agents/mipv6_dataplane.py) between
real network namespaces: home registration (BU/BA with the HA), bidirectional tunnelling
of a UDP flow and of ping6, then return routability and route optimization with the CN
(HoTI/CoTI/HoT/CoT, a BU with its Authenticator), UDP and ping6 with the Home Address
option and the type 2 routing header reaching the right sockets, and tshark dissecting
what the router in the middle captured as valid Mobile IPv6.

Root only: four plain namespaces (tests/support/netns6.py), no Mininet, no OVS.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.netns6 import (ADDR, HOME_PREFIX, Netns6, PlaneProcess, mipv6_topology,
                                  move)

pytestmark = [pytest.mark.root,
              pytest.mark.skipif(os.geteuid() != 0 or shutil.which("ip6tables") is None,
                                 reason="needs root and ip6tables")]
REPO = Path(__file__).resolve().parents[2]
PORT = 7777


def udp_round(net: Netns6, count: int = 10) -> tuple[dict, list[str]]:
    """CN echoes, MN sends from its home address; (client result, sources the CN saw)."""
    echo = net.popen("cn", [sys.executable, "-m", "tests.support.udp6", "echo", "--bind",
                            ADDR["cn"], "--port", str(PORT), "--count", str(count),
                            "--timeout", "8"],
                     cwd=REPO, stdout=subprocess.PIPE, text=True)
    assert echo.stdout.readline().strip() == "ready"
    client = net.run("mn", sys.executable, "-m", "tests.support.udp6", "send", "--bind",
                     ADDR["home_address"], "--to", ADDR["cn"], "--port", str(PORT),
                     "--count", str(count), cwd=REPO, timeout=60)
    seen = json.loads(echo.communicate(timeout=15)[0].strip().splitlines()[-1])
    return json.loads(client.stdout.strip().splitlines()[-1]), seen


def ping(net: Netns6, src_ns: str, dst: str, source: str) -> bool:
    r = net.run(src_ns, "ping", "-6", "-c", "3", "-i", "0.2", "-W", "2", "-I", source, dst,
                check=False, timeout=30)
    return r.returncode == 0 and " 0% packet loss" in r.stdout


def tshark(pcap: Path, *args: str) -> list[str]:
    out = subprocess.run(["tshark", "-n", "-r", str(pcap), "-o", "udp.check_checksum:TRUE",
                          *args], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return [line for line in out.stdout.splitlines() if line.strip()]


def start_planes(net: Netns6, ifs: dict, tmp: Path, **ha_options) -> list[PlaneProcess]:
    ha = PlaneProcess(net, "ha", {"role": "ha", "address": ADDR["ha"], "queue": 61,
                                  "home_prefixes": [HOME_PREFIX], "home_link": ifs["ha"],
                                  **ha_options}, tmp)
    cn = PlaneProcess(net, "cn", {"role": "cn", "address": ADDR["cn"], "queue": 62,
                                  "mobile_prefixes": [HOME_PREFIX]}, tmp)
    mn = PlaneProcess(net, "mn", {"role": "mn", "home_address": ADDR["home_address"],
                                  "home_agent": ADDR["ha"], "queue": 63}, tmp)
    return [ha, cn, mn]


def stop_planes(planes: list[PlaneProcess]) -> dict:
    stops = {}
    for plane in planes:
        if plane.proc.poll() is None:
            try:
                stops[plane.name] = plane.stop()
            except AssertionError:
                pass
    return stops


def test_home_registration_tunnelling_and_route_optimization(tmp_path):
    net = Netns6()
    agents: list[PlaneProcess] = []
    try:
        ifs = mipv6_topology(net)
        pcap = tmp_path / "ar.pcapng"
        capture = net.popen("ar", ["dumpcap", "-q", "-i", ifs["ar_mn"], "-i", ifs["ar_ha"],
                                   "-i", ifs["ar_cn"], "-w", str(pcap)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while not (pcap.exists() and pcap.stat().st_size) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)
        agents += start_planes(net, ifs, tmp_path)
        ha, cn, mn = agents

        # before registering, nothing reaches the home address
        assert not ping(net, "cn", ADDR["home_address"], ADDR["cn"])

        # home registration: BU (HAO) -> HA, BA (RH2) -> MN
        mn.command(op="home_registration", care_of_address=ADDR["coa"])
        ev = mn.wait_for("home_registered")
        assert ev["peer"] == ADDR["ha"] and ev["lifetime"] == 420
        assert ha.wait_for("bu_processed")["status"] == 0
        ha.wait_for("proxy_nd_add", home=ADDR["home_address"])

        # bidirectional tunnelling: UDP and ping6 both ways
        result, seen = udp_round(net)
        assert result["received"] == result["sent"] == 10
        assert set(seen) == {ADDR["home_address"]}               # the CN sees the HoA
        assert ping(net, "cn", ADDR["home_address"], ADDR["cn"])
        assert ping(net, "mn", ADDR["cn"], ADDR["home_address"])
        assert ha.stats()["rewritten"] >= 20 and mn.stats()["rewritten"] >= 20

        # return routability and route optimization with the CN
        mn.command(op="route_optimization", correspondent=ADDR["cn"])
        assert mn.wait_for("hot_received")["accepted"]
        assert mn.wait_for("cot_received")["accepted"]
        ev = mn.wait_for("ro_registered")
        assert ev["peer"] == ADDR["cn"] and ev["lifetime"] == 420
        assert cn.wait_for("bu_processed")["status"] == 0
        ha_before = ha.stats()["rewritten"]
        result, seen = udp_round(net)
        assert result["received"] == result["sent"] == 10
        assert set(seen) == {ADDR["home_address"]}
        assert ping(net, "cn", ADDR["home_address"], ADDR["cn"])
        assert ha.stats()["rewritten"] == ha_before             # the HA is out of the path
        assert cn.stats()["rewritten"] >= 26                     # HAO in, RH2 out
    finally:
        stops = stop_planes(agents)
        time.sleep(0.3)
        net.cleanup()
    assert all(s["errors"] == 0 for s in stops.values()), stops

    if shutil.which("tshark") is None:
        pytest.skip("tshark not installed")
    assert capture.returncode is not None
    assert tshark(pcap, "-Y", "_ws.malformed || _ws.expert.severity >= error") == []
    types = [int(t) for t in tshark(pcap, "-Y", "mipv6", "-T", "fields", "-e", "mip6.mhtype")]
    # BU and BA with the HA; HoTI/HoT twice on the path (tunnelled and between HA and CN)
    for mh_type in (1, 2, 3, 4, 5, 6):
        assert mh_type in types, (mh_type, types)
    assert types.count(5) >= 2 and types.count(6) >= 2
    hao_udp = tshark(pcap, "-Y", "udp && ipv6.opt.mipv6.home_address == "
                     + ADDR["home_address"] + " && udp.checksum.status == 1")
    rh2_udp = tshark(pcap, "-Y", "udp && ipv6.routing.type == 2 && udp.checksum.status == 1")
    tunnelled = tshark(pcap, "-Y", "ipv6.nxt == 41 && udp")
    assert len(hao_udp) >= 10 and len(rh2_udp) >= 10 and len(tunnelled) >= 20


def test_handover_to_a_new_care_of_address(tmp_path):
    """The MN moves to its second foreign link: a new home registration from the new CoA,
    return routability again (a new care-of keygen token), route optimization resumes
    with the new CoA, and the HA's binding and the CN's binding both follow."""
    net = Netns6()
    planes: list[PlaneProcess] = []
    try:
        ifs = mipv6_topology(net, second_foreign_link=True)
        planes += start_planes(net, ifs, tmp_path)
        ha, cn, mn = planes
        mn.command(op="home_registration", care_of_address=ADDR["coa"])
        mn.wait_for("home_registered")
        mn.command(op="route_optimization", correspondent=ADDR["cn"])
        mn.wait_for("ro_registered")
        assert udp_round(net)[0]["received"] == 10

        move(net, to_second=True)
        start = len(mn.events)
        mn.command(op="home_registration", care_of_address=ADDR["coa2"])
        mn.wait_for("home_registered", start=start)
        assert ha.wait_for("bu_processed", coa=ADDR["coa2"])["status"] == 0
        mn.command(op="route_optimization", correspondent=ADDR["cn"])
        mn.wait_for("ro_registered", start=start)
        assert cn.wait_for("bu_processed", coa=ADDR["coa2"])["status"] == 0
        ha_before = ha.stats()["rewritten"]
        result, seen = udp_round(net)
        assert result["received"] == 10 and set(seen) == {ADDR["home_address"]}
        assert ha.stats()["rewritten"] == ha_before             # RO, not the tunnel
        assert ping(net, "cn", ADDR["home_address"], ADDR["cn"])
    finally:
        stops = stop_planes(planes)
        net.cleanup()
    assert all(s["errors"] == 0 for s in stops.values()), stops


def test_duplicate_address_detection_at_the_home_agent(tmp_path):
    """s10.3.1: with DAD on, the HA probes the home link for a new home address; the AR
    holding that address defends it (kernel NA), so the BA says 134; once the AR lets it
    go, nobody answers within the DAD time and the registration is accepted."""
    net = Netns6()
    planes: list[PlaneProcess] = []
    try:
        ifs = mipv6_topology(net)
        held = ADDR["home_address"] + "/64"
        net.run("ar", "ip", "addr", "add", held, "dev", ifs["ar_ha"], "nodad")
        planes += start_planes(net, ifs, tmp_path, dad_timeout=1.0)
        ha, _, mn = planes
        mn.command(op="home_registration", care_of_address=ADDR["coa"])
        ev = mn.wait_for("ba_received")
        assert ev["status"] == 134 and ev["action"] == "failed"
        # the AR's kernel defends the address with an NA from that very address
        assert ha.wait_for("dad_failed")["defended_by"] == ADDR["home_address"]
        net.run("ar", "ip", "addr", "del", held, "dev", ifs["ar_ha"])
        start = len(mn.events)
        mn.command(op="home_registration", care_of_address=ADDR["coa"])
        mn.wait_for("home_registered", start=start)
        ha.wait_for("dad_succeeded", home=ADDR["home_address"])
        assert udp_round(net)[0]["received"] == 10
    finally:
        stops = stop_planes(planes)
        net.cleanup()
    assert all(s["errors"] == 0 for s in stops.values()), stops
