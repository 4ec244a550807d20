"""Switches start through one ovs-vsctl argument vector (issue 17): Mininet's OVSSwitch.start
wrote its command line into a pty, which keeps 4095 characters of a line, so a radio switch
with ~50 ports lost the end of its command and never reached the controller."""
import subprocess

import pytest

from orchestrator.network.build import ovs_start_argv


def _bridges(n_ports: int):
    return [("t17air", 1, True, [(f"t17air-p{p}", p) for p in range(1, n_ports + 1)]),
            ("t17neta", 0x101, False, [("t17neta-p1", 1)])]


def test_every_port_and_the_controller_are_in_one_transaction():
    argv = ovs_start_argv(_bridges(200), 6653)
    assert argv[0] == "ovs-vsctl"
    assert len(" ".join(argv)) > 4095           # what a pty line would have cut
    for p in range(1, 201):
        i = argv.index(f"t17air-p{p}")
        assert argv[i - 2:i + 1] == ["add-port", "t17air", f"t17air-p{p}"]
        assert argv[i + 1:i + 6] == ["--", "set", "Interface", f"t17air-p{p}", f"ofport_request={p}"]
    assert 'target="tcp:127.0.0.1:6653"' in argv and "controller=[@t17airc0]" in argv
    assert "fail_mode=secure" in argv and "fail_mode=standalone" in argv
    assert "other_config:datapath-id=0000000000000101" in argv
    # the standalone bridge gets no controller
    neta = argv.index("add-br", argv.index("t17neta") - 3)
    assert not any(a.startswith("controller=") for a in argv[neta:])


def test_the_radio_switch_gets_its_internal_management_port():
    argv = ovs_start_argv(_bridges(3), 6653, {"t17air": ("t17air-m", 65000)})
    i = argv.index("t17air-m")
    assert argv[i - 2:i + 1] == ["add-port", "t17air", "t17air-m"]
    assert argv[i + 1:i + 7] == ["--", "set", "Interface", "t17air-m", "type=internal",
                                 "ofport_request=65000"]
    assert argv.count("type=internal") == 1


@pytest.mark.root
def test_ovs_accepts_the_transaction():
    """ovs-vsctl checks the whole transaction against the database schema (--dry-run: no
    change is made)."""
    argv = ovs_start_argv(_bridges(60), 6653, {"t17air": ("t17air-m", 65000)})
    # --no-wait: nothing is committed, so there is no reconfiguration of ovs-vswitchd to await
    r = subprocess.run([argv[0], "--dry-run", "--no-wait", *argv[1:]], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0, r.stderr
