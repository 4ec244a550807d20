"""Golden error tests (netlab's habit): an invalid file per case, made by a make_cases.py
from one valid base by small edits, and the exact message it must give.

Used by tests/topology/ and tests/experiment/. Re-bless after a deliberate message change:
UPDATE_GOLDEN=1 pytest <the test_golden.py> (then review the diff).
"""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path


def render(base: str, edits) -> bytes:
    """`base` with each (old, new) edit applied once; a bytes `new` is spliced into the
    encoded text (for non-UTF-8 and NUL cases)."""
    data = base.encode()
    for old, new in edits if isinstance(edits, list) else [edits]:
        assert old.encode() in data, old
        data = data.replace(old.encode(), new if isinstance(new, bytes) else new.encode(), 1)
    return data


def write_cases(cases: dict, base: str, errors: Path) -> None:
    for name, edits in cases.items():
        (errors / f"{name}.yaml").write_bytes(render(edits=edits, base=base))


def compare(case: Path, got: str) -> None:
    """The message of `case` is its .expected file (written instead under UPDATE_GOLDEN)."""
    expected = case.with_suffix(".expected")
    if os.environ.get("UPDATE_GOLDEN"):
        expected.write_text(got)
    assert got == expected.read_text()


def assert_generated(make_cases: Path, errors: Path) -> None:
    """errors/ holds exactly what make_cases.py writes (no hand edits drift)."""
    spec = importlib.util.spec_from_file_location(f"make_cases_{make_cases.parent.name}",
                                                  make_cases)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert set(mod.CASES) == {p.stem for p in errors.glob("*.yaml")}
    for name, edits in mod.CASES.items():
        assert (errors / f"{name}.yaml").read_bytes() == render(mod.BASE, edits), name
