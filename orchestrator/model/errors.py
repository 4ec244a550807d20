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


def describe(value) -> str:
    """'nothing', "bool True", "str 'abc'" (cut short) for messages."""
    if value is None:
        return "nothing"
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 60 else text[:57] + '...'}"


def type_message(err: dict) -> str | None:
    """A message for pydantic's type and size errors that says what was expected and what
    was given (pydantic's own words do not say what it got), or None for other errors."""
    kind, value = err["type"], err.get("input")
    ctx = err.get("ctx") or {}
    expected = {"int_type": "a whole number", "int_parsing": "a whole number",
                "int_from_float": "a whole number", "bool_type": "true or false",
                "string_type": "a string", "dict_type": "a mapping", "model_type": "a mapping",
                "list_type": "a list", "float_type": "a number"}.get(kind)
    if expected:
        return f"expected {expected} (got {describe(value)})"
    if kind in ("too_short", "too_long"):
        n = len(value) if hasattr(value, "__len__") else "?"
        bound = ctx.get("min_length") if kind == "too_short" else ctx.get("max_length")
        return f"expected {'at least' if kind == 'too_short' else 'at most'} {bound} " \
               f"{'entry' if bound == 1 else 'entries'} (got {n})"
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        word = {"greater_than_equal": "at least", "less_than_equal": "at most",
                "greater_than": "more than", "less_than": "less than"}[kind]
        return f"expected {word} {next(iter(ctx.values()))} (got {describe(value)})"
    if kind == "string_too_long":
        return f"longer than {ctx.get('max_length')} characters"
    return None


def format_path(path: tuple) -> str:
    """('links', 0, 'endpoints', 1) -> 'links[0].endpoints[1]'."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out
