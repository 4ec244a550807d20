"""`deploy --inventory` end to end, rehearsed on the emulator (issue 17 item 4a).

Figure 8's topology with an inventory (`rehearsal: true`) that puts the home AAA server
(FreeRADIUS) and the nAR (PAA, DHCP server, IKEv2 responder) on "machines": each one's
emulated host runs an OpenSSH server of its own and plays the machine; the orchestrator
reaches them from the correspondent's namespace (`via: cn`) across the emulated core
network, with the inventory's own key. The MN, the APs and pAR stay emulated.

Shown: configs and agents pushed over SFTP into the inventory's workdir (nothing there
names the orchestrator's own paths), daemons started over SSH in those hosts (journaled as
the machine's PIDs, not among the local ones), an EAP-TLS authentication through the
AAA reached over SSH, the PAA's agent commanded through an SSH relay, events fetched back
into the run, teardown stopping exactly those processes over SSH and removing only the
testbed's directory; then the experiment runner with the same inventory: a Figure 10
pre-authentication recorded with every phase.
"""
import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from orchestrator.deploy.sshkeys import SshKeys
from orchestrator.events import read_events
from orchestrator.experiment.scenarios import Bed
from orchestrator.network.build import deploy
from orchestrator.network.state import deployed
from orchestrator.testbed import destroy

REPO = Path(__file__).resolve().parents[2]
TOPOLOGY = REPO / "topologies/fig8-l2-preauth-nonroaming.yaml"
EXPERIMENT = REPO / "tests/integration/experiments/inventory-mini.yaml"
NAME = "t-inv"
ON_MACHINES = ("aaa-h", "nar")
pytestmark = [pytest.mark.root, pytest.mark.timeout(300)]


def netns_ino(pid) -> int:
    return os.stat(f"/proc/{pid}/ns/net").st_ino


def alive(pid) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """Keys and an inventory as a researcher writes them; a short workdir (the agent's
    control socket below it must fit a Unix socket path)."""
    d = tmp_path_factory.mktemp("lab")
    SshKeys.ensure(d / "keys", "lab")
    workdir = Path("/tmp", f"mpa-inv-{os.getpid()}")
    workdir.mkdir()
    inv = d / "inventory.yaml"
    inv.write_text(
        "rehearsal: true\n"
        "defaults: {key: keys/id_ed25519, port: 2222, via: cn, "
        f"workdir: {workdir}, python: {sys.executable}}}\n"
        "nodes:\n"
        "  aaa-h: {host: 10.0.0.10}\n"
        "  nar:   {host: 10.0.0.3}\n")
    yield {"inventory": inv, "workdir": workdir, "results": d / "results"}
    subprocess.run(["rm", "-rf", "--", str(workdir)], check=False)


@pytest.fixture(scope="module")
def bed(lab):
    journal = deploy(str(TOPOLOGY), name=NAME, results=str(lab["results"]),
                     inventory=str(lab["inventory"]))
    yield journal
    if NAME in deployed():
        destroy(NAME)


def test_configs_and_agents_land_in_the_workdir(bed, lab):
    roots = {n: lab["workdir"] / NAME / n for n in ON_MACHINES}
    assert {n: bed.remote[n]["root"] for n in ON_MACHINES} == {n: str(r) for n, r in roots.items()}
    raddb = roots["aaa-h"] / "state/nodes/aaa-h/aaa-freeradius"
    assert f"raddbdir = {raddb}" in (raddb / "radiusd.conf").read_text()
    eap = (raddb / "eap.conf").read_text()
    cert = roots["aaa-h"] / "state/pki/server-aaa-h.home.example.pem"
    assert f"certificate_file = {cert}" in eap and cert.is_file()      # pushed with it
    agent = json.loads((roots["nar"] / "state/nodes/nar/mpa-agent/agent.json").read_text())
    assert agent["paa_radius"]["server"] == "10.0.0.10"
    assert (roots["nar"] / "mpa-agent.pyz").is_file()
    # nothing on the machines names the orchestrator's own state or run directories
    for root in roots.values():
        for f in (p for p in root.rglob("*") if p.is_file() and p.suffix != ".pyz"):
            text = f.read_text(errors="replace")
            assert str(bed.dir) not in text and bed.run_dir not in text, f
    # and the local state has no image of theirs running: they were rendered here only
    assert not (Path(bed.dir) / "nodes/aaa-h/aaa-freeradius/run/radiusd.pid").exists()


def test_daemons_run_on_the_machines_started_over_ssh(bed):
    local_pids = {p["pid"] for p in bed.processes}
    for node in ON_MACHINES:
        images = bed.nodes[node]["images"]
        assert images and all(rec["remote"] for rec in images.values()), images
        for name, rec in images.items():
            assert rec["pid"] not in local_pids, name          # never killed as a local PID
            assert alive(rec["pid"])
            assert netns_ino(rec["pid"]) == os.stat(f"/run/netns/{bed.nodes[node]['netns']}").st_ino
            assert rec["log"].startswith(bed.remote[node]["root"] + "/run/logs/")
    assert set(bed.nodes["aaa-h"]["images"]) == {"aaa-freeradius"}
    assert set(bed.nodes["nar"]["images"]) == {"ikev2-strongswan", "mpa-agent", "dhcp-dnsmasq"}
    # the sessions came from cn's address (via: cn), across the emulated core network
    for node in ON_MACHINES:
        log = Path(bed.run_dir, "logs", node, "sshd.log").read_text()
        assert "Accepted publickey for root from 10.0.0.20 " in log


def test_authentication_through_the_aaa_on_a_machine(bed):
    b = Bed(bed)
    r = b.call("mn", "connect", ap="ap0")
    assert r["status"] == "ok" and r["pmksa"] == "eap"
    log = Path(bed.remote["aaa-h"]["root"], "run/logs/aaa-h/freeradius.log").read_text()
    assert "Login OK: [mn@home.example] (from client ap0-eth0" in log
    # the PAA's agent answers through one SSH relay channel
    health = b.call("nar", "health")
    assert health["ok"] and not health["dead"]
    assert not Path(bed.dir, "nodes/nar/mpa-agent/control.sock").exists()
    r = subprocess.run([sys.executable, "-m", "orchestrator.cli", "inspect", NAME], cwd=REPO,
                       capture_output=True, text=True, timeout=60)
    assert f"nar      root@10.0.0.3:2222 {bed.remote['nar']['root']}: " in r.stdout, r.stdout
    # and so does `mpa-testbed agent`
    r = subprocess.run([sys.executable, "-m", "orchestrator.cli", "agent", "--name", NAME,
                        "nar", "health"], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and json.loads(r.stdout)["ok"], r.stderr


def test_a_hostile_value_reaches_the_machine_as_one_word(bed, lab):
    from orchestrator.deploy.remote import transport
    t = transport(bed, "aaa-h")
    mark = lab["workdir"] / "pwned"
    word = f"$(touch {mark}); `touch {mark}` ' \" && touch {mark} #"
    r = t.run(["printf", "%s", word], env={"X": word}, cwd=str(lab["workdir"]))
    assert (r.returncode, r.stdout) == (0, word)
    assert not mark.exists()


def test_events_fetched_and_teardown_removes_only_what_it_started(bed, lab):
    Bed(bed).fetch_events()
    nar = [e for e in read_events(bed.run_dir) if e["node"] == "nar"]
    assert nar and nar[0]["event"] == "agent_started"
    assert nar[0]["attrs"]["control"].startswith(bed.remote["nar"]["root"])
    pids = {(n, name): rec["pid"] for n in ON_MACHINES
            for name, rec in bed.nodes[n]["images"].items()}
    removed = destroy(NAME)
    for (node, name), pid in pids.items():
        assert f"{name} on {node} (pid {pid} over SSH)" in removed
        assert f"process {pid} (in testbed namespace)" not in removed
        assert not alive(pid)
    assert not (lab["workdir"] / NAME).exists() and lab["workdir"].is_dir()
    # fetched after the stop: the agent's last event came back too
    nar = [e for e in read_events(bed.run_dir) if e["node"] == "nar"]
    assert nar[-1]["event"] == "agent_stopped"
    assert "Login OK" in Path(bed.run_dir, "logs/aaa-h/freeradius.log").read_text()


def test_runner_with_the_inventory_records_a_pre_authentication(lab):
    out = lab["results"] / "runner"
    r = subprocess.run([sys.executable, "-m", "orchestrator.cli", "run", str(EXPERIMENT),
                        "--results", str(out), "--inventory", str(lab["inventory"])],
                       cwd=REPO, capture_output=True, text=True, timeout=240)
    assert r.returncode == 0, r.stderr[-3000:]
    run = next((out / "inv").iterdir())
    assert (run / "inventory.yaml").read_text() == lab["inventory"].read_text()
    rows = list(csv.DictReader((run / "records.csv").open()))
    assert {row["status"] for row in rows} == {"ok"}, rows
    # Tauth: PANA to the PAA and EAP-TLS to the AAA, both on machines; Tconf: the PAA's
    # key installation in the target AP
    assert {"Tauth", "Tconf", "Tassoc", "T4way", "Total"} <= {row["phase"] for row in rows}
    events = [json.loads(line) for line in (run / "events.jsonl").open()]
    assert {"pana_session_established", "psk_installed", "tconf_done"} <= {
        e["event"] for e in events if e["node"] == "nar"}
    logs = list((run / "testbeds").glob("runs/*/logs/aaa-h/freeradius.log"))
    assert logs and "Login OK: [mn@home.example]" in logs[0].read_text()
    assert not list(lab["workdir"].iterdir())              # the testbed's directory removed
