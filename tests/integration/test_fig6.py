"""Figure 6 (RFC 6252 C.5.1, Mobile IPv6 with MPA) reduced: experiments/fig6.yaml with one
repetition per scenario, run by the real runner and reported by the Figure 6 reproduction
(orchestrator/analysis/reproductions/fig6.py): the table beside the RFC's four columns and
the non-MPA handover, the figure, and the checks that do not need several repetitions."""
import pandas as pd
import pytest

from tests.support.runs import REPO, run_experiment

pytestmark = [pytest.mark.root, pytest.mark.timeout(600)]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """experiments/fig6.yaml with a 500 ms buffering period instead of the RFC's 50 ms: the
    period only caps the hold (the MN's unsolicited NA ends it), and on a loaded machine the
    layer-2 handoff alone can outlast 50 ms, so that the buffer is flushed onto the link
    before the MN is there (a real outcome, reported by check (a), but not this test's).
    And a 40 ms association instead of 4 ms, so that the buffering spans two or more of the
    CN's 16 ms intervals: that the nAR held packets does not depend on the machine's speed."""
    tmp = tmp_path_factory.mktemp("results")
    text = (REPO / "experiments" / "fig6.yaml").read_text()
    assert "buffering: 50ms" in text and "topology: ../topologies/" in text
    assert text.count("kinds.access_point.association_latency: 4ms") == 1
    experiment = tmp / "fig6.yaml"
    experiment.write_text(text.replace("buffering: 50ms", "buffering: 500ms").replace(
        "topology: ../topologies/", f"topology: {REPO}/topologies/").replace(
        "kinds.access_point.association_latency: 4ms",
        "kinds.access_point.association_latency: 40ms"))
    return run_experiment(tmp, str(experiment), "fig6", "--repetitions", "1")


def test_every_scenario_is_measured_beside_its_rfc_column(run_dir):
    table = pd.read_csv(run_dir / "tables" / "fig6_beside_rfc.csv")
    assert list(dict.fromkeys(table["case"])) == [
        "buffering-disabled-ro-disabled", "buffering-enabled-ro-disabled",
        "buffering-disabled-ro-enabled", "buffering-enabled-ro-enabled", "non-mpa"]
    assert (table.groupby("scenario").n_failed.max() == 0).all()
    loss = table[table.metric == "packet_loss"].set_index("scenario")
    assert loss.loc["buf-on-ro-off", "median"] == 0 and loss.loc["buf-on-ro-on", "median"] == 0
    assert loss.loc["non-mpa", "median"] > 0
    assert loss.loc["buf-on-ro-off", "rfc"] == "0" and loss.loc["non-mpa", "rfc"] == "~200 packets"
    buffered = table[table.metric == "buffered_packets"].set_index("scenario")
    assert buffered.loc["buf-on-ro-on", "median"] >= 1
    assert (run_dir / "figures" / "fig6_handover.png").exists()


def test_the_checks_hold(run_dir):
    checks = (run_dir / "tables" / "checks.md").read_text()
    for cid in ("a", "c", "d", "e"):
        rows = [line for line in checks.splitlines() if line.startswith(f"| ({cid}) |")]
        assert rows and all("✔ ok" in row for row in rows), (cid, rows)
    readme = (run_dir / "README.md").read_text()
    assert "## RFC 6252 Figure 6 beside this run" in readme
