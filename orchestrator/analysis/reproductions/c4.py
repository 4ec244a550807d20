"""RFC 6252 Appendix C.4, "Resource Allocation Issue during Pre-Authentication": what
preparing the handover with several candidate target networks costs and what it gives, for
runs whose experiment declares `reference: {table: rfc6252_c4, columns: {one-ctn: <scenario>,
scheme-1: <scenario>, scheme-2: <scenario>, scheme-3: <scenario>, scheme-2-buffering:
<scenario>}}` (experiments/c4.yaml).
Each scenario is a movement with a call (experiment/movement.py, experiment/multi_ctn.py):

    one-ctn   the strongest CTN only, binding update through its tunnel before the move
    scheme-1  pre-authentication with every CTN; address and binding update after the move
    scheme-2  and pre-configuration with every CTN; binding update after the move
    scheme-3  and binding updates naming every nCoA before the move (the CN's transient
              streams), the final one with one contact after it
    scheme-2-buffering
              C.4's buffering alternative: scheme 2's preparation, one binding update through
              the chosen CTN's tunnel at the handover, the target access router buffering
              across the move (flushed by the MN's ATTACHED)

The RFC gives no numbers, only claims (analysis/reference/rfc6252_c4.csv); the checks test
them on the run's records, and the table puts the costs side by side.

Registers:
  tables   c4_schemes.csv and c4.md: per scenario the signalling (messages and octets per
           protocol the MN exchanged: PANA, IKEv2, DHCP, SIP), PANA sessions, nCoAs and
           tunnels set up before the handover and the tunnel-seconds held, binding updates
           (most contacts in one), the transient streams (packets, octets, seconds, addresses
           at the CN; nCoAs the stream reached at the MN before the handover), the packets
           the target access router buffered (longest hold), whether MPA finished before
           the handover, the handover delay, the media handover delay and packets lost;
           beneath it every emulated value and the movement's constants (the buffering
           cap `buffering_ms` among them)
  checks   (a) scheme 1 signals more than one CTN, (b) scheme 1 holds no address or tunnel,
           (c) scheme 2 holds more nCoAs than one CTN, (d) scheme 3 costs the most (signalling
           plus transient octets), (e) scheme 3's stream reached the MN at more than one
           nCoA before the handover, (f) the final binding update ended every transient
           stream, (g) the extra bandwidth lasted a bounded time; the buffering alternative:
           (h) no transient stream, the target access router's hold ended by the MN's
           ATTACHED (not by its cap), (i) it forwarded packets after the move (not measured
           if none arrived during the hold), (j) it lost no more packets than scheme 3 (RFC
           column: scheme 3's loss)
  readme   the table and the checks; summary: one line

Pure functions of the run's records and its movement JSON files.
"""
from __future__ import annotations

import json
import math

import pandas as pd

from orchestrator.analysis import parameters, reference
from orchestrator.analysis.records import RunData, ok, stats, values
from orchestrator.analysis.reproduction import Reproduction, check, checks_section, verdicts

TABLE = "rfc6252_c4"
C4 = Reproduction(TABLE, "RFC 6252 C.4: pre-authentication with several candidate target "
                         "networks, three schemes and the buffering alternative")
COLUMNS = ("one-ctn", "scheme-1", "scheme-2", "scheme-3", "scheme-2-buffering")
TITLES = {"one-ctn": "one CTN (MPA, s6.3)",
          "scheme-1": "scheme 1: pre-authentication with all",
          "scheme-2": "scheme 2: + pre-configuration with all",
          "scheme-3": "scheme 3: + binding updates with all (transient streams)",
          "scheme-2-buffering": "buffering: scheme 2 + binding update at the handover, "
                                "buffered at the target access router"}
PROTOCOLS = ("pana", "ikev2", "dhcp", "sip")
# record value -> column of the table (the mean over the repetitions unless said)
QUANTITIES = ("preauthentications", "preconfigurations", "tunnel_seconds",
              *(f"{p}_{k}" for p in PROTOCOLS for k in ("messages", "octets")),
              "signalling_messages", "signalling_octets", "binding_updates", "contacts_max",
              "transient_packets", "transient_octets", "transient_seconds",
              "transient_addresses", "transient_unended", "stream_ncoas_before",
              "buffered_packets", "buffer_held", "buffer_flushed_by_attached",
              "handover_binding_update",
              "mpa_completed", "handover_delay", "media_handover_delay", "packets_lost",
              "duplicates")


def scenarios(run: RunData) -> dict[str, str]:
    """Scenario -> the scheme (RFC column) it stands for."""
    ref = run.reference
    return {} if ref is None else {s: col for col, names in ref.columns.items() for s in names}


def schemes(run: RunData) -> pd.DataFrame:
    """Per (configuration, scenario): n repetitions and the mean (and for the delays the
    median) of every quantity over the repetitions that recorded it."""
    df, cols = ok(run.records), scenarios(run)
    out = []
    for (conf, scen), rows in df.groupby(["configuration", "scenario"], sort=False):
        if scen not in cols:
            continue
        row = {"configuration": conf, "scenario": scen, "scheme": cols[scen],
               "repetitions": int(rows["repetition"].nunique())}
        for q in QUANTITIES:
            st = stats(values(rows[rows["phase"] == q]))
            row[q] = st["mean"]
            if q in ("handover_delay", "media_handover_delay"):
                row[q + "_median"], row[q + "_max"] = st["median"], st["max"]
        out.append(row)
    order = {c: i for i, c in enumerate(COLUMNS)}
    t = pd.DataFrame(out, columns=["configuration", "scenario", "scheme", "repetitions",
                                   *QUANTITIES, "handover_delay_median", "handover_delay_max",
                                   "media_handover_delay_median", "media_handover_delay_max"])
    return t.sort_values(["configuration", "scheme"], key=lambda s: s.map(order).fillna(99)
                         if s.name == "scheme" else s, kind="stable").reset_index(drop=True)


def constants(run: RunData) -> dict[str, dict]:
    """Scenario -> the movement's constants, policy, radio model and path of its first
    repetition's JSON."""
    out = {}
    for scen in scenarios(run):
        for path in sorted((run.dir / "movement").glob(f"*/{scen}/rep*.json")):
            rep = json.loads(path.read_text())
            plan = rep.get("plan") or {}
            out[scen] = {**(rep.get("constants") or {}),
                         **{f"policy.{k}": v for k, v in (plan.get("params") or {}).items()},
                         **{f"radio.{k}": v for k, v in (plan.get("model") or {}).items()},
                         **({"path_m": plan["length_m"]} if "length_m" in plan else {}),
                         **({"speed_mps": plan["mean_speed"]} if "mean_speed" in plan else {})}
            break
    return out


def _n(v, fmt: str = "{:.0f}") -> str:
    return "--" if v is None or (isinstance(v, float) and math.isnan(v)) else fmt.format(v)


def _kb(v) -> str:
    return _n(v if v is None or (isinstance(v, float) and math.isnan(v)) else v / 1000, "{:.1f}")


def markdown(run: RunData) -> list[str]:
    t = schemes(run)
    out = [f"{reference.citation(TABLE)}.", "",
           "Means over the repetitions (n). Signalling: messages / kB (IP datagrams, both "
           "directions) the MN exchanged during the movement, from a capture on all its "
           "interfaces. Held: PANA sessions, nCoAs + tunnels set up before the handover, "
           "tunnel-seconds (each to its release; the entered network's to the handover). BUs: "
           "re-INVITEs (most contacts in one). Transient: what the CN sent to contact "
           "addresses other than the final one (packets / kB / s, addresses); reached: "
           "nCoAs the stream arrived at, at the MN, before the handover (through their "
           "tunnels). Buffered: packets the target access router held across the move and "
           "re-sent on the MN's ATTACHED (longest hold, ms). Delay: the "
           "MN's handover (decision -> address in place), median and max, ms; media: "
           "`l2_handoff_start` -> first packet on the new address, median, ms; lost: RTP "
           "packets never received.", "",
           "| scheme (n) | PANA | IKEv2 | DHCP | SIP | PANA sessions | nCoAs + tunnels | "
           "tunnel-s | BUs (contacts) | transient pkts / kB / s (addresses) | reached | "
           "buffered (held ms) | MPA finished | delay med / max | media | lost |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in t.itertuples():
        sig = [f"{_n(getattr(r, p + '_messages'))} / {_kb(getattr(r, p + '_octets'))}"
               for p in PROTOCOLS]
        out.append(
            f"| {TITLES[r.scheme]} ({r.repetitions}) | {' | '.join(sig)} | "
            f"{_n(r.preauthentications, '{:.1f}')} | {_n(r.preconfigurations, '{:.1f}')} | "
            f"{_n(r.tunnel_seconds, '{:.1f}')} | {_n(r.binding_updates, '{:.1f}')} "
            f"({_n(r.contacts_max, '{:.1f}')}) | {_n(r.transient_packets)} / "
            f"{_kb(r.transient_octets)} / {_n(r.transient_seconds, '{:.2f}')} "
            f"({_n(r.transient_addresses, '{:.1f}')}) | {_n(r.stream_ncoas_before, '{:.1f}')} | "
            f"{_n(r.buffered_packets, '{:.1f}')} ({_n(r.buffer_held, '{:.1f}')}) | "
            f"{_n(r.mpa_completed * r.repetitions if not math.isnan(r.mpa_completed) else r.mpa_completed)}"
            f"/{r.repetitions} | {_n(r.handover_delay_median, '{:.1f}')} / "
            f"{_n(r.handover_delay_max, '{:.1f}')} | {_n(r.media_handover_delay_median, '{:.1f}')} | "
            f"{_n(r.packets_lost, '{:.1f}')} |")
    out += ["", "Emulated values:", "", parameters.markdown(run).rstrip(), ""]
    consts = constants(run)
    if consts:
        keys = sorted({k for c in consts.values() for k in c})
        out += ["Movement constants per scenario (first repetition's JSON):", "",
                "| constant | " + " | ".join(consts) + " |",
                "|---|" + "---|" * len(consts)]
        out += [f"| `{k}` | " + " | ".join(str(c.get(k, "--")) for c in consts.values()) + " |"
                for k in keys]
    return out


@C4.tables
def tables(run: RunData) -> dict:
    return {"c4_schemes.csv": schemes(run), "c4.md": "\n".join(markdown(run)) + "\n"}


def _get(t: pd.DataFrame, conf: str, scheme: str):
    g = t[(t["configuration"] == conf) & (t["scheme"] == scheme)]
    return g.iloc[0] if len(g) else None


@C4.checks
def checks(run: RunData) -> list[dict]:
    t, out = schemes(run), []
    for conf in dict.fromkeys(t["configuration"]):
        one, s1, s2, s3, buf = (_get(t, conf, c) for c in COLUMNS)
        if one is not None and s1 is not None:
            out.append(check("a", f"scheme 1 signals more than one CTN [{conf}]",
                             s1.pana_messages, one.pana_messages,
                             s1.pana_messages > one.pana_messages,
                             "PANA messages of the MN per run, scheme 1 (measured) and one CTN "
                             "(RFC column)"))
        if s1 is not None:
            held = s1.preconfigurations + s1.tunnel_seconds + s1.transient_packets
            out.append(check("b", f"scheme 1 holds no nCoA, tunnel or transient stream before "
                             f"the handover [{conf}]", held, 0, held == 0,
                             "nCoAs + tunnel-seconds + transient packets, per run"))
        if s2 is not None and one is not None:
            out.append(check("c", f"scheme 2 holds more nCoAs than one CTN [{conf}]",
                             s2.preconfigurations, one.preconfigurations,
                             s2.preconfigurations > one.preconfigurations,
                             "nCoAs with tunnels set up before the handover, per run"))
        if s3 is not None:
            cost = lambda r: r.signalling_octets + (0 if math.isnan(r.transient_octets)   # noqa: E731
                                                   else r.transient_octets)
            others = [r for r in (one, s1, s2) if r is not None]
            if others:
                top = max(cost(r) for r in others)
                out.append(check("d", f"scheme 3 uses the most resources [{conf}]", cost(s3),
                                 top, cost(s3) > top,
                                 "signalling + transient octets per run, scheme 3 (measured) "
                                 "and the most of the other schemes (RFC column)"))
            out.append(check("e", f"scheme 3's transient streams reached the MN at more than "
                             f"one nCoA [{conf}]", s3.stream_ncoas_before, None,
                             s3.stream_ncoas_before > 1 and s3.transient_addresses >= 1,
                             "nCoAs the stream arrived at before the handover (mean per run), "
                             f"CN's transient addresses {_n(s3.transient_addresses, '{:.1f}')}"))
            ended = s3.transient_unended == 0 and s3.transient_packets > 0
            out.append(check("f", f"the final binding update ended every transient stream "
                             f"[{conf}]", s3.transient_unended, 0,
                             None if math.isnan(s3.transient_unended) else ended,
                             "transient streams started but not ended (mean per run)"))
            out.append(check("g", f"the extra bandwidth lasts a small period [{conf}]",
                             s3.transient_seconds, None,
                             s3.transient_seconds > 0 and math.isfinite(s3.transient_seconds),
                             f"seconds of transient streams per run, "
                             f"{_kb(s3.transient_octets)} kB"))
        if buf is not None:
            flushed = buf.buffer_flushed_by_attached
            attached = (f"every hold ended by the MN's ATTACHED in "
                        f"{_n(flushed * buf.repetitions if not math.isnan(flushed) else flushed)}"
                        f"/{buf.repetitions} runs")
            out.append(check(
                "h", f"the buffering alternative holds no transient stream; the target access "
                f"router buffered across the move until the MN's ATTACHED [{conf}]",
                buf.transient_packets, 0, bool(buf.transient_packets == 0 and flushed == 1),
                f"transient packets per run; {attached}"))
            forwarded = (None if buf.buffered_packets == 0 and flushed == 1
                         else bool(buf.buffered_packets > 0 and flushed == 1))
            out.append(check(
                "i", f"transient data forwarded to the MN after it moved [{conf}]",
                buf.buffered_packets, None, forwarded,
                f"packets the access router held and re-sent on the MN's ATTACHED, per run "
                f"(none arriving during the hold: not measured); {attached}"))
            if s3 is not None:
                out.append(check("j", f"the buffering alternative loses no more than scheme 3 "
                                 f"[{conf}]", buf.packets_lost, s3.packets_lost,
                                 None if math.isnan(buf.packets_lost) or math.isnan(s3.packets_lost)
                                 else bool(buf.packets_lost <= s3.packets_lost),
                                 "RTP packets lost per run (mean), buffering (measured) and "
                                 "scheme 3 (RFC column)"))
    return out


@C4.readme
def readme(run: RunData, checks_: list[dict]) -> list[str]:
    return ["## RFC 6252 C.4: several candidate target networks, three schemes and buffering",
            "",
            *markdown(run), "", *checks_section(checks_)]


@C4.summary
def summary(run: RunData, checks_: list[dict]) -> list[str]:
    t = schemes(run)
    parts = [f"{r.scheme} {_kb(r.signalling_octets)} kB signalling, "
             f"{_kb(r.transient_octets)} kB transient, delay {_n(r.handover_delay_median, '{:.0f}')} ms"
             for r in t.itertuples()]
    return [f"RFC 6252 C.4 (several CTNs): {'; '.join(parts)}. Checks: {verdicts(checks_)}.",
            "", "[C.4 table](tables/c4.md)"]
