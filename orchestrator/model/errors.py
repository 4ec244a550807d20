"""Errors that point into the researcher's YAML file."""
from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Iterable


@dataclass(frozen=True)
class Problem:
    """One problem at one place: file:line:col: yaml.path: message."""
    file: str
    line: int
    column: int
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


MAX_PROBLEMS = 50           # a file with thousands of mistakes: the first ones are enough


class ModelError(Exception):
    """One or more problems in a YAML file; str() gives one line per problem."""

    def __init__(self, problems: Iterable[Problem]):
        self.problems = sorted(problems, key=lambda p: (p.line, p.column, p.path, p.message))
        super().__init__("\n".join(str(p) for p in self.problems))


class TopologyError(ModelError):
    """A topology file is invalid."""


def suggest(name: str, candidates: Iterable[str]) -> str:
    """' (did you mean 'x'?)' for the nearest candidate, or '' if none is close."""
    close = difflib.get_close_matches(str(name), sorted(set(candidates)), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def format_path(path: tuple) -> str:
    """('links', 0, 'endpoints', 1) -> 'links[0].endpoints[1]'."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out
