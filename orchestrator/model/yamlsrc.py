"""YAML loading that remembers where every value came from.

PyYAML composes a node tree (which carries marks); we construct plain Python data from it
ourselves so that (a) duplicate keys are an error instead of last-wins, and (b) every
YAML path maps to its line and column.

Hostile files (README "Hostile input") are refused with file:line before anything is built:
anything but a regular file (a FIFO would block the reader), more than MAX_BYTES, not
UTF-8, a NUL or other character YAML forbids, nesting deeper than MAX_DEPTH, aliases (an
alias bomb re-expands exponentially; write the value out, or use `defaults:`/`kinds:`), and
explicit tags (`!foo`, `!!binary`: plain YAML types only).
"""
from __future__ import annotations

import contextlib
import gc
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .errors import ModelError, Problem, format_path

MAX_BYTES = 1 << 20
MAX_DEPTH = 20
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


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


@contextlib.contextmanager
def paused_gc():
    """Loading builds many small objects that all survive: the cyclic garbage collector's
    full passes over them made loading quadratic (3000 networks: 2.3 s instead of 0.8 s;
    bench/validate.py). Nothing loaded forms cycles, so it pauses meanwhile."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def read_source(path: str | Path) -> str:
    """The text of a YAML file, or ModelError (file:1:1) if it is not one we will read."""
    name = str(path)

    def refuse(message: str, line: int = 1, col: int = 1) -> ModelError:
        return ModelError([Problem(name, line, col, "", message)])
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise refuse(f"cannot read: {exc.strerror}") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = ("a directory" if stat.S_ISDIR(mode) else "a FIFO" if stat.S_ISFIFO(mode)
                    else "a socket" if stat.S_ISSOCK(mode) else "a device")
            raise refuse(f"not a regular file ({kind}): give the path of a YAML file")
        with os.fdopen(os.dup(fd), "rb") as fh:
            raw = fh.read(MAX_BYTES + 1)
    except OSError as exc:
        raise refuse(f"cannot read: {exc.strerror}") from None
    finally:
        os.close(fd)
    if len(raw) > MAX_BYTES:
        raise refuse(f"larger than {MAX_BYTES // 1024} KiB: not a topology or experiment "
                     "anyone writes by hand")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise refuse(f"not UTF-8: octet 0x{raw[exc.start]:02x} cannot start or continue a "
                     "character; save the file as UTF-8", line, col) from None


def _syntax_problem(exc: yaml.YAMLError, text: str, file: str) -> Problem:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    if mark is not None:
        line, col = _pos(mark)
    elif getattr(exc, "position", None) is not None:       # a ReaderError (e.g. a NUL)
        at = min(exc.position, len(text))
        line, col = text.count("\n", 0, at) + 1, at - (text.rfind("\n", 0, at) + 1) + 1
    else:
        line, col = 1, 1
    if isinstance(exc, yaml.reader.ReaderError):
        what = f"character #x{exc.character:04x} is not allowed in YAML"
    else:
        what = getattr(exc, "problem", None) or "invalid YAML"
        if getattr(exc, "context", None):
            what = f"{exc.context}, {what}"
    return Problem(file, line, col, "", f"YAML syntax error: {what}")


def _screen(text: str, file: str) -> None:
    """Refuse what no topology or experiment needs and what could blow up (see above),
    from the event stream (iterative: no recursion on deep nesting)."""
    depth = 0
    for event in yaml.parse(text, Loader=_Loader):
        line, col = _pos(event.start_mark)
        if isinstance(event, yaml.AliasEvent):
            raise ModelError([Problem(file, line, col, "", f"YAML alias *{event.anchor} is "
                                      "not supported: write the value out (settings shared "
                                      "by many nodes or links go in defaults: or kinds:)")])
        tag = getattr(event, "tag", None)
        if tag is not None and not (isinstance(event, yaml.ScalarEvent) and tag == "!"):
            raise ModelError([Problem(file, line, col, "", f"YAML tag {tag} is not supported: "
                                      "write plain values (quote a string)")])
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise ModelError([Problem(file, line, col, "", f"nested deeper than "
                                          f"{MAX_DEPTH} levels")])
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1


def load_yaml(text: str, file: str) -> tuple[object, SourceMap]:
    """Parse YAML text; returns (data, source map). Raises ModelError with file:line:col."""
    smap = SourceMap(file)
    if len(text) > MAX_BYTES:
        raise ModelError([Problem(file, 1, 1, "", f"larger than {MAX_BYTES // 1024} KiB")])
    try:
        _screen(text, file)
        node = yaml.compose(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        try:                          # PyYAML's own parser words (and places) errors better
            for _ in yaml.parse(text, Loader=yaml.SafeLoader):
                pass
        except yaml.YAMLError as better:
            exc = better
        raise ModelError([_syntax_problem(exc, text, file)]) from None
    if node is None:
        return None, smap
    problems: list[Problem] = []
    data = _construct(node, (), smap, problems)
    if problems:
        raise ModelError(problems)
    return data, smap
