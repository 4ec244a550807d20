"""The campus topology (issue 17), reduced to two MNs per `count:` entry: two domains,
twenty APs, five ARs each with its PAA and DHCP server. It deploys (the radio switch has 26
ports, every AP switch connects), the MNs of all entries authenticate at once (those in the
city roam: their EAP-TLS goes through the city's AAA to the campus AAA), and an MPA handover
into another building and another street finds the PSK_ap that building's or street's own
PAA installed (several PAAs in one domain)."""
import re
import threading
import time
from pathlib import Path

import pytest

from orchestrator.agents.control import AgentClient, AgentError
from orchestrator.network.build import deploy
from orchestrator.testbed import agent_health, controller_status, destroy

REPO = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.root, pytest.mark.timeout(600)]


@pytest.fixture(scope="module")
def campus(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("campus")
    text = (REPO / "topologies" / "campus.yaml").read_text()
    reduced = tmp / "campus-reduced.yaml"
    reduced.write_text(re.sub(r"count: \d+", "count: 2", text))
    j = deploy(str(reduced), name="t-campus", results=str(tmp / "results"))
    try:
        yield j
    finally:
        destroy("t-campus")


def agent(j, node):
    return AgentClient(str(j.dir / "nodes" / node / "mpa-agent" / "control.sock"))


def _topology_associate(j, mn):
    """The AP the deploy associated `mn` with (its `associate:`)."""
    return controller_status(j)["associations"][mn]


def test_every_switch_connects_and_count_entries_are_recorded(campus):
    j = campus
    status = controller_status(j)
    aps = sorted(n for n, i in j.nodes.items() if i["kind"] == "access_point")
    assert len(aps) == 20
    assert set(status["switches"]) == {"air", *aps}
    made = {}
    for node, info in j.nodes.items():
        if info.get("counted_from"):
            made.setdefault(info["counted_from"], []).append(node)
    assert {k: sorted(v) for k, v in made.items()} == {
        "stu": ["stu1", "stu2"], "staff": ["staff1", "staff2"], "out": ["out1", "out2"]}


def test_all_mns_authenticate_at_once_and_mpa_handovers_use_each_paas_keys(campus):
    j = campus
    mns = sorted(n for n, i in j.nodes.items() if i["kind"] == "mobile_node")
    start = {m: _topology_associate(j, m) for m in mns}
    results, errors = {}, {}

    def handoff(m):
        try:
            results[m] = agent(j, m).call("handoff", ap=start[m], timeout=60)
        except Exception as exc:  # noqa: BLE001 -- reported below
            errors[m] = exc

    threads = [threading.Thread(target=handoff, args=(m,)) for m in mns]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    assert not errors, errors
    assert {m: r["connect"]["pmksa"] for m, r in results.items()} == {m: "eap" for m in mns}
    # each AP opened the port itself; the controller hears of it right after (port_driver.py)
    deadline = time.monotonic() + 10
    while set(controller_status(j)["authorized"]) != set(mns) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert set(controller_status(j)["authorized"]) == set(mns)
    # MPA into another building (campus) and another street (city, roaming), each with the
    # PAA of that access network
    for mn, paa, target in (("stu1", "ar-b", "b2"), ("out1", "ar-sb", "sb3")):
        pre = agent(j, mn).call("preauthenticate_mpa", paa=paa, timeout=60)
        assert pre["status"] == "ok" and target in pre["psk_ap"], pre
        # the MN moves once the PAA has installed PSK_ap in its APs (Tconf), as the runner's
        # MPA flows do (experiment/scenarios.py pre_authenticate)
        identity = f"{mn}@campus.example"
        deadline = time.monotonic() + 30
        while True:
            try:
                tconf = agent(j, paa).call("tconf_status", identity=identity)
                break
            except AgentError:
                assert time.monotonic() < deadline, f"{paa} never installed keys for {mn}"
                time.sleep(0.01)
        assert tconf["status"] == "ok", tconf
        moved = agent(j, mn).call("handoff", ap=target, timeout=60)
        assert moved["connect"]["status"] == "ok"
        assert moved["connect"]["pmksa"] == "mpa", moved       # the key the PAA installed
    assert all(h.get("ok") for h in agent_health(j).values()), agent_health(j)
