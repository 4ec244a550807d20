"""What the emulation says about itself in the event log (pure): its constants, and the
retransmissions that fired.

Two conventions of the event vocabulary (docs/events.md, "What the report reads from the
events"), read here without a list of names so that a new constant or a new retransmission
timer is reported the day it is emitted:

- `emulation_constants`: emitted by the controller and the agents at start; its attrs map a
  constant's name to {"value": number (or a text, e.g. a method's name), "unit": "ms" | "s" |
  ..., "source": "<module or yaml path>"} (the datapath settle time, the way-back rule, the
  EAPOL-Key message 1
  retransmission timer, RADIUS/PANA retransmission timers, DHCP/DAD constants, ...). Every
  constant that shapes a measured interval is reported beside the result (README).
- `<anything>_retransmitted` (`fourway_retransmitted`, `pana_retransmitted`, ...): a timer
  fired and a message went again. A repetition in which one fired measured a retransmission
  timeout, not the protocol's ordinary exchange; the report flags it.
"""
from __future__ import annotations

import math
from typing import Iterable

CONSTANTS_EVENT = "emulation_constants"
RETRANSMITTED = "_retransmitted"


def _value(value) -> float | str | None:
    """A constant's value: a finite number as float, a non-empty text as it is, else None."""
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def emulation_constants(events: Iterable[dict]) -> dict[str, dict]:
    """name -> {"value", "unit", "source", "nodes"} from every `emulation_constants` event.
    The same name from several emitters is one entry when they agree on value and unit;
    otherwise each emitter's is kept as '<name>@<node>'. Entries without a value (a number
    or a text) are skipped: the report must not fail on one malformed record."""
    seen: dict[str, list[tuple[str, dict]]] = {}
    for e in events:
        if e.get("event") != CONSTANTS_EVENT or not isinstance(e.get("attrs"), dict):
            continue
        for name, spec in e["attrs"].items():
            if not isinstance(spec, dict) or _value(spec.get("value")) is None:
                continue
            entry = {"value": _value(spec["value"]), "unit": str(spec.get("unit") or ""),
                     "source": str(spec.get("source") or "")}
            seen.setdefault(str(name), []).append((str(e.get("node", "?")), entry))
    out: dict[str, dict] = {}
    for name, found in sorted(seen.items()):
        distinct = {(v["value"], v["unit"]) for _, v in found}
        if len(distinct) == 1:
            out[name] = {**found[0][1], "nodes": sorted({n for n, _ in found})}
        else:
            for node, v in found:
                out[f"{name}@{node}"] = {**v, "nodes": [node]}
    return out


def constant_columns(constants: dict[str, dict]) -> dict[str, float | str]:
    """The records' columns: 'constant:<name>[<unit>]' (or 'constant:<name>' without a
    unit) -> value."""
    return {f"constant:{name}" + (f"[{c['unit']}]" if c["unit"] else ""): c["value"]
            for name, c in constants.items()}


def retransmissions(events: Iterable[dict]) -> dict[str, int]:
    """event name -> how many times it fired, for every event whose name ends in
    '_retransmitted' (sorted by name)."""
    counts: dict[str, int] = {}
    for e in events:
        name = e.get("event")
        if isinstance(name, str) and name.endswith(RETRANSMITTED):
            counts[name] = counts.get(name, 0) + 1
    return dict(sorted(counts.items()))


def retransmission_columns(counts: dict[str, int]) -> dict:
    """The records' columns of one repetition: `retransmissions` (total) and `retransmitted`
    ('fourway_retransmitted=1 pana_retransmitted=2', empty when none fired)."""
    return {"retransmissions": sum(counts.values()),
            "retransmitted": " ".join(f"{k}={v}" for k, v in counts.items())}


def parse_retransmitted(text) -> dict[str, int]:
    """The inverse of retransmission_columns' `retransmitted`."""
    out = {}
    for word in str(text or "").split():
        name, _, n = word.partition("=")
        if name and n.isdigit():
            out[name] = int(n)
    return out
