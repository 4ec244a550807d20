"""Agents in the emulated network: local (Unix socket into a namespace) and over real SSH.

Topology tests/integration/topologies/ssh-mgmt.yaml: the SSH client side is in `cn`
(network core); OpenSSH runs inside access point `ap1` (network A), one routed hop away
through `nar`. The access-point agent is pushed by SFTP, started, commanded and stopped
through paramiko; the mobile-node agent runs locally in `mn` and hands off between APs.
"""
import json
import os
import sys
import time
from pathlib import Path

import paramiko
import pytest

from orchestrator.deploy.mpa_agent import start_agent
from orchestrator.deploy.sshd import accepted_from, ssh_transport, start_sshd, stop_sshd
from orchestrator.deploy.sshkeys import SshKeys
from orchestrator.deploy.transport import (LocalTransport, SshTransport, TransportError,
                                           connect_from_netns)
from orchestrator.events import phase_durations, read_events
from orchestrator.network.build import deploy
from orchestrator.network.cleanup import leftovers, pids_in_netns
from orchestrator.network.nsexec import ping_rtts
from orchestrator.network.state import deployed
from orchestrator.testbed import destroy

REPO = Path(__file__).resolve().parents[2]
TOPOLOGY = REPO / "tests/integration/topologies/ssh-mgmt.yaml"
NAME = "t-ssh"
pytestmark = [pytest.mark.root, pytest.mark.timeout(300)]
state: dict = {}


@pytest.fixture(scope="module")
def bed(tmp_path_factory):
    results = tmp_path_factory.mktemp("results")
    journal = deploy(str(TOPOLOGY), name=NAME, results=str(results), images=False)
    yield journal
    if NAME in deployed():
        destroy(NAME)


def ns(j, node):
    return j.nodes[node]["netns"]


def bssid(j, ap):
    conf = json.loads(Path(j.controller["config"]).read_text())
    return next(a["bssid"] for a in conf["aps"] if a["name"] == ap)


def mac(j, node, iface):
    return next(i["mac"] for i in j.nodes[node]["interfaces"] if i["name"] == iface)


def gone(pid):
    """No such process, or a zombie (PID 1 of this machine may not reap orphans)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def netns_of(pid):
    return os.stat(f"/proc/{pid}/ns/net").st_ino


def test_local_agent_is_commanded_through_its_unix_socket(bed):
    """The root-namespace runner reaches an agent inside a host's namespace by path."""
    t0 = time.perf_counter()
    mn = start_agent(LocalTransport(ns(bed, "mn")), "mn", "mobile-node",
                     str(bed.dir / "nodes" / "mn" / "mpa-agent"), python=sys.executable,
                     events=str(Path(bed.run_dir, "events", "mn.jsonl")),
                     control=str(bed.dir / "agents" / "mn.sock"))
    state["local_start_to_hello_s"] = time.perf_counter() - t0
    bed.started(mn.pid, "mpa-agent", "mn")
    state["mn"] = mn
    assert netns_of(mn.pid) == os.stat(f"/run/netns/{ns(bed, 'mn')}").st_ino
    wlan0 = next(i for i in mn.hello["interfaces"] if i["name"] == "wlan0")
    assert wlan0["addresses"] == ["10.8.1.100/24"] and wlan0["mac"] == mac(bed, "mn", "wlan0")
    r = mn.call("associate", ap_bssid=bssid(bed, "ap2"))
    assert r["status"] == "ok" and r["previous"] == "ap1"
    assert r["l2_handoff_ms"] >= 5.0         # association_latency: 5ms (no upper bound: timing)


def test_agent_pushed_and_started_over_ssh_from_another_host(bed):
    t0 = time.perf_counter()
    sshd = start_sshd(bed, "ap1")
    state["sshd_ready_s"] = time.perf_counter() - t0
    state["sshd"] = sshd
    assert (sshd.address, sshd.port) == ("10.8.1.2", 2222)
    assert netns_of(sshd.pid) == os.stat(f"/run/netns/{ns(bed, 'ap1')}").st_ino
    ssh = ssh_transport(bed, sshd, from_node="cn")
    state["ssh"] = ssh
    t1 = time.perf_counter()
    ssh.run(["true"])
    state["ssh_connect_s"] = time.perf_counter() - t1
    # push (SFTP) + start (nohup setsid over an exec channel) + hello (relay channel)
    ap1 = start_agent(ssh, "ap1", "access-point", str(bed.dir / "remote" / "ap1"),
                      python=sys.executable)
    state["ap1"] = ap1
    state["ssh_push_start_s"] = ap1.timings
    bed.started(ap1.pid, "mpa-agent (ssh)", "ap1")     # same machine: destroy can find it
    # the connection came from cn's address, across nar
    assert accepted_from(sshd) and set(accepted_from(sshd)) == {"10.8.0.20"}
    assert ap1.hello["node"] == "ap1" and ap1.hello["pid"] == ap1.pid
    assert [i["addresses"] for i in ap1.hello["interfaces"] if i["name"] == "eth0"] == [["10.8.1.2/24"]]
    assert netns_of(ap1.pid) == os.stat(f"/run/netns/{ns(bed, 'ap1')}").st_ino
    assert Path(bed.dir / "remote" / "ap1" / "mpa-agent.pyz").is_file()


def test_ssh_accepts_only_our_key_and_only_known_hosts(bed, tmp_path):
    sshd = state["sshd"]
    # public key is the only method offered (no passwords, no keyboard-interactive)
    sock = connect_from_netns(ns(bed, "cn"), (sshd.address, sshd.port), 5)
    t = paramiko.Transport(sock)
    try:
        t.start_client(timeout=5)
        with pytest.raises(paramiko.BadAuthenticationType) as err:
            t.auth_none(sshd.user)
        assert err.value.allowed_types == ["publickey"]
    finally:
        t.close()
    # a host key we do not know is refused
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    with pytest.raises(TransportError, match="not found in known_hosts; add the host's public key"):
        SshTransport(sshd.address, sshd.port, sshd.user, sshd.keys.client_key, empty,
                     netns=ns(bed, "cn")).run(["true"])
    # a key that is not in authorized_keys is refused
    other = SshKeys.ensure(tmp_path / "other", "intruder")
    with pytest.raises(TransportError, match="is the public key of .* in the authorized_keys"):
        SshTransport(sshd.address, sshd.port, sshd.user, other.client_key,
                     sshd.keys.known_hosts, netns=ns(bed, "cn")).run(["true"])


def test_ssh_started_agent_opens_the_port_after_a_handoff(bed):
    mn, ap1 = state["mn"], state["ap1"]
    assert mn.call("associate", ap_bssid=bssid(bed, "ap1"))["status"] == "ok"
    t0 = time.perf_counter()
    r = ap1.call("authorize", sta=mac(bed, "mn", "wlan0"))
    state["ssh_command_s"] = time.perf_counter() - t0
    assert r["status"] == "ok"
    assert len(ping_rtts(ns(bed, "mn"), "10.8.1.1", count=3, interval=0.2)) >= 2
    rows = [r for r in phase_durations(read_events(bed.run_dir))
            if r["interval"] == "Tl2" and r["status"] == "ok"]
    assert rows and rows[-1]["mn"] == "mn" and rows[-1]["end_node"] == "controller"
    with pytest.raises(Exception, match="unknown command 'associate' for role access-point"):
        ap1.call("associate", ap_bssid="x")


def test_agent_stopped_over_ssh_and_its_events_fetched_into_the_run(bed):
    ap1, ssh = state["ap1"], state["ssh"]
    assert ap1.stop(grace=3)
    assert not ssh.alive(ap1.pid) and gone(ap1.pid)
    files = ap1.fetch(bed.run_dir)
    assert files["events"] == Path(bed.run_dir, "events", "ap1.agent.jsonl")
    assert "mpa-agent access-point on ap1" in files["log"].read_text()
    events = [e for e in read_events(bed.run_dir) if e["node"] == "ap1"]
    names = [e["event"] for e in events]
    assert names[0] == "agent_started" and names[-1] == "agent_stopped"
    assert {"command_start", "command_done", "authorize_done", "command_failed"} <= set(names)
    assert events[-1]["attrs"]["reason"] == "SIGTERM"
    ssh.close()
    assert stop_sshd(state["sshd"])
    time.sleep(0.2)                                   # session processes see the close
    left = [p for p in pids_in_netns(ns(bed, "ap1"))]
    assert left == [], f"processes left in ap1: {left}"
    timings = {k: v for k, v in state.items() if k.endswith("_s")}
    Path(bed.run_dir, "ssh-agent-timings.json").write_text(json.dumps(timings, indent=1))
    print("\ntimings:", json.dumps(timings, indent=1))


def test_destroy_leaves_no_sshd_or_agent(bed):
    pids = [state["mn"].pid, state["sshd"].pid, state["ap1"].pid]
    destroy(NAME)
    assert all(gone(p) for p in pids)
    assert leftovers(bed) == []
    ours = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmd = (entry / "cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if str(bed.dir) in cmd:
                ours.append((entry.name, cmd.replace("\0", " ")))
    assert ours == []
