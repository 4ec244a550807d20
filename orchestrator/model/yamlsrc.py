"""YAML loading that remembers where every value came from.

PyYAML composes a node tree (which carries marks); we construct plain Python data from it
ourselves so that (a) duplicate keys are an error instead of last-wins, and (b) every
YAML path maps to its line and column.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import yaml

from .errors import ModelError, Problem, format_path


@dataclass
class SourceMap:
    """YAML path (tuple of keys and indexes) -> (line, column), both 1-based."""
    file: str
    values: dict[tuple, tuple[int, int]] = field(default_factory=dict)
    keys: dict[tuple, tuple[int, int]] = field(default_factory=dict)

    def locate(self, path: tuple, key: bool = False) -> tuple[int, int]:
        """The place of `path` or of its nearest ancestor that exists in the file."""
        table = self.keys if key else self.values
        p = tuple(path)
        while p:
            if p in table:
                return table[p]
            if p in self.values:
                return self.values[p]
            p = p[:-1]
        return self.values.get((), (1, 1))

    def problem(self, path: tuple, message: str, key: bool = False) -> Problem:
        line, col = self.locate(path, key=key)
        return Problem(self.file, line, col, format_path(path), message)


def _pos(mark) -> tuple[int, int]:
    return mark.line + 1, mark.column + 1


def _construct(node, path: tuple, smap: SourceMap, problems: list[Problem]):
    smap.values[path] = _pos(node.start_mark)
    if isinstance(node, yaml.MappingNode):
        out: dict = {}
        first_seen: dict = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                problems.append(Problem(smap.file, *_pos(key_node.start_mark), format_path(path),
                                        "mapping keys must be plain names"))
                continue
            key = yaml.SafeLoader.construct_scalar(_LOADER, key_node)
            if key in first_seen:
                problems.append(Problem(
                    smap.file, *_pos(key_node.start_mark), format_path(path + (key,)),
                    f"duplicate key '{key}' (first defined at line {first_seen[key]}); "
                    "YAML would silently keep only the last one"))
                continue
            first_seen[key] = key_node.start_mark.line + 1
            smap.keys[path + (key,)] = _pos(key_node.start_mark)
            out[key] = _construct(value_node, path + (key,), smap, problems)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_construct(item, path + (i,), smap, problems) for i, item in enumerate(node.value)]
    return _LOADER.construct_object(node, deep=True)


_LOADER = yaml.SafeLoader("")


def load_yaml(text: str, file: str) -> tuple[object, SourceMap]:
    """Parse YAML text; returns (data, source map). Raises ModelError with file:line:col."""
    smap = SourceMap(file)
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = _pos(mark) if mark else (1, 1)
        what = exc.problem or "invalid YAML"
        if exc.context:
            what = f"{exc.context}, {what}"
        raise ModelError([Problem(file, line, col, "", f"YAML syntax error: {what}")]) from None
    if node is None:
        return None, smap
    problems: list[Problem] = []
    data = _construct(node, (), smap, problems)
    if problems:
        raise ModelError(problems)
    return data, smap
