"""Many mobile nodes from one entry: `count:` with patterns (issue 17).

    nodes:
      mn: {kind: mobile_node, count: 50, home_domain: home, associate: ap0,
           identity: 'mn{i}@home.example', address: '10.2.0.{100+i}/24'}

makes the nodes mn1 ... mn50 (the entry's name followed by i = 1 ... count), each with the
entry's settings and, in its text values, every `{i}` replaced by its number and every
`{i+K}` / `{K+i}` / `{i-K}` by that sum (K a whole number; nothing else is evaluated). The
expansion happens before inheritance and validation, so each node is then checked as if it
had been written out; a problem with one of them is placed at the entry's line, under the
expanded node's path (`nodes.mn7.address`). Only mobile nodes can be counted: a train of
commuters is many MNs, an AP or a router is a place in the network drawn by hand.
"""
from __future__ import annotations

import re

from .errors import Problem
from .yamlsrc import SourceMap

MAX_COUNT = 1000                  # each MN is a namespace and an agent: far beyond one machine
COUNTED_KINDS = ("mobile_node",)
MAX_NAME = 20                     # topology.Name
_HOLE = re.compile(r"\{([^{}]*)\}")
_TERM = re.compile(r"\s*i\s*(?:([+-])\s*(\d{1,6})\s*)?\Z|\s*(\d{1,6})\s*\+\s*i\s*\Z")


def _fill(pattern: str, i: int) -> str:
    """`pattern` with each `{i}`, `{i+K}`, `{K+i}`, `{i-K}` replaced; ValueError otherwise."""
    def value(m: re.Match) -> str:
        t = _TERM.match(m.group(1))
        if t is None:
            raise ValueError(f"pattern hole '{{{m.group(1)[:30]}}}' is not one of {{i}}, "
                             "{i+N}, {N+i} or {i-N} (N a whole number)")
        sign, k, k_first = t.groups()
        n = i + int(k_first) if k_first else i + (int(k) if sign == "+" else -int(k) if sign else 0)
        if n < 0:
            raise ValueError(f"pattern '{pattern[:60]}' gives a negative number for i={i}")
        return str(n)
    if "{" not in pattern and "}" not in pattern:
        return pattern
    out = _HOLE.sub(value, pattern)
    if "{" in out or "}" in out:
        raise ValueError(f"pattern '{pattern[:60]}' has an unmatched brace")
    return out


def _suggest_pattern(key: str, value: object) -> str:
    """The value with the node's number in it: 'mn@a.example' -> 'mn{i}@a.example',
    '10.1.0.100/24' -> '10.1.0.{100+i}/24'."""
    text = str(value)[:60]
    if key == "identity" and "@" in text:
        user, _, realm = text.partition("@")
        return f"{user}{{i}}@{realm}"
    m = re.fullmatch(r"(\d+\.\d+\.\d+\.)(\d+)(/\d+)?", text)
    if key == "address" and m:
        return f"{m.group(1)}{{{m.group(2)}+i}}{m.group(3) or ''}"
    return "mn{i}@home.example" if key == "identity" else "10.2.0.{100+i}/24"


def _has_pattern(value: object) -> bool:
    return isinstance(value, str) and ("{" in value or "}" in value)


def _places(smap: SourceMap, old: tuple) -> list[tuple[dict, tuple, tuple[int, int]]]:
    """Where everything under `old` is in the file: (table, path below `old`, place)."""
    n = len(old)
    return [(table, p[n:], where) for table in (smap.values, smap.keys)
            for p, where in table.items() if p[:n] == old]


def expand_counts(nodes: dict, smap: SourceMap) -> tuple[dict, dict[str, list[str]], list[Problem]]:
    """-> (nodes with every counted entry replaced by its nodes, entry -> the names it made,
    problems). Entries that are not counted are kept as they are."""
    out: dict = {}
    groups: dict[str, list[str]] = {}
    problems: list[Problem] = []
    made: dict[str, str] = {}                     # expanded name -> the entry that made it
    for name, spec in nodes.items():
        if not isinstance(spec, dict) or "count" not in spec or spec.get("kind") not in COUNTED_KINDS:
            for key, value in (spec.items() if isinstance(spec, dict) else ()):
                if _has_pattern(value) and spec.get("kind") in COUNTED_KINDS:
                    problems.append(smap.problem(("nodes", name, key), f"'{value[:60]}' is a "
                                                 "pattern, but the node has no 'count': add "
                                                 "count: N to make N nodes from it"))
            out[name] = spec
            continue
        count = spec["count"]
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_COUNT:
            problems.append(smap.problem(("nodes", name, "count"), f"count must be a whole "
                                         f"number from 1 to {MAX_COUNT} (got {count!r:.40})"))
            continue
        if isinstance(name, str) and len(f"{name}{count}") > MAX_NAME:
            problems.append(smap.problem(("nodes", name), f"count: {count} makes names up to "
                                         f"'{name[:40]}{count}', longer than {MAX_NAME} "
                                         "characters: shorten the entry's name", key=True))
            continue
        settings = {k: v for k, v in spec.items() if k != "count"}
        for key in ("identity", "address"):
            if key in settings and count > 1 and not _has_pattern(settings[key]):
                problems.append(smap.problem(
                    ("nodes", name, key), f"all {count} nodes of '{name}' would have {key} "
                    f"{settings[key]!r:.60}: write a pattern such as "
                    f"'{_suggest_pattern(key, settings[key])}'"))
        names, places = [], _places(smap, ("nodes", name))
        for i in range(1, count + 1):
            node, bad = {}, False
            for key, value in settings.items():
                if isinstance(value, str):
                    try:
                        value = _fill(value, i)
                    except ValueError as exc:
                        problems.append(smap.problem(("nodes", name, key), str(exc)))
                        bad = True
                node[key] = value
            if bad:
                break
            new = f"{name}{i}"
            if new in nodes or new in made:
                other = f"is also made by entry '{made[new]}'" if new in made else "is also defined"
                problems.append(smap.problem(("nodes", name, "count"), f"count makes node "
                                             f"'{new}', which {other}: rename one of them",
                                             key=True))
                break
            made[new] = name
            for table, below, where in places:    # nodes.<new>... is placed at the entry
                table[("nodes", new) + below] = where
            out[new] = node
            names.append(new)
        groups[name] = names
    return out, groups, problems
