"""The RFC reference values are those printed in docs/rfc/rfc6252.md (Figure 10)."""
from pathlib import Path

from orchestrator.analysis.reference import load

RFC = Path(__file__).resolve().parents[2] / "docs" / "rfc" / "rfc6252.md"


def test_figure10_matches_the_rfc_text():
    rows = load("rfc6252_fig10")
    text = RFC.read_text()
    by = {(r["scheme"], r["roaming"], r["phase"]): r["ms"] for r in rows}
    order = [(s, m) for s in ("dot11i-post-authentication", "dot11i-pre-authentication",
                              "mpa-l2-pre-authentication") for m in ("non-roaming", "roaming")]
    for phase, label in (("Tauth", "Tauth"), ("Total", "Total"),
                         ("Time affecting handover", "Time affecting handover")):
        values = [by[(s, m, phase)] for s, m in order]
        line = "\t".join([label] + [f"{v:g} ms" for v in values])
        assert line in text, line
    # the RFC's own sums: Total = Tauth + Tconf + Tassoc+4way (within its rounding)
    for s, m in order:
        total = by[(s, m, "Tauth")] + by.get((s, m, "Tconf"), 0) + by[(s, m, "Tassoc+4way")]
        assert abs(total - by[(s, m, "Total")]) <= 1
