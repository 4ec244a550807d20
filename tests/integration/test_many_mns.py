"""60 MNs from one `count:` entry come up (issue 17): the radio switch has 63 ports, whose
ovs-vsctl command line Mininet's pty cut at 4095 characters, so it never reached the
controller. Network only (no node images), to stay fast; bench/scale.py deploys 100 MNs
with their agents."""
from pathlib import Path

import pytest

from orchestrator.network.build import deploy
from orchestrator.testbed import controller_status, destroy

REPO = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.root, pytest.mark.timeout(300)]
N = 60


def test_sixty_mns_associate_through_a_63_port_radio_switch(tmp_path):
    text = (REPO / "topologies" / "fig9-l2-preauth-roaming.yaml").read_text()
    mn = next(line for line in text.splitlines() if line.startswith("  mn:"))
    topo = tmp_path / "fig9-many.yaml"
    topo.write_text(text.replace(mn, (
        f"  mn: {{kind: mobile_node, count: {N}, home_domain: home, identity: 'mn{{i}}@home.example', "
        "associate: ap0, address: '10.2.0.{9+i}/24'}")))
    j = deploy(str(topo), name="t-many-mns", results=str(tmp_path / "results"), images=False)
    try:
        status = controller_status(j)
        aps = {n for n, i in j.nodes.items() if i["kind"] == "access_point"}
        assert set(status["switches"]) == {"air", *aps}
        mns = [n for n, i in j.nodes.items() if i["kind"] == "mobile_node"]
        assert len(mns) == N and all(j.nodes[m]["counted_from"] == "mn" for m in mns)
        assert status["associations"] == {m: "ap0" for m in mns}
    finally:
        destroy("t-many-mns")
