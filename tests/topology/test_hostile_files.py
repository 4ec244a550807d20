"""Files no loader may choke on (issue 13): what cannot be a golden case in git (a FIFO, a
directory, a file over the size limit) and what is generated (alias bombs, deep nesting,
thousands of networks or mistakes). Each must be refused or loaded, with file:line, without
a traceback and without hanging (pytest-timeout stops a hang)."""
import os

import pytest

from orchestrator.cli import main
from orchestrator.model import TopologyError, load_topology, load_topology_text
from orchestrator.model.errors import MAX_PROBLEMS
from orchestrator.model.yamlsrc import MAX_BYTES, MAX_DEPTH

pytestmark = pytest.mark.timeout(60)

MINIMAL = """name: big
domains:
  home: {realm: home.example, aaa_server: aaa}
networks:
%s
nodes:
  aaa: {kind: aaa_server, domain: home}
  r: {kind: router, domain: home}
%s
links:
  - {endpoints: [aaa, n0], addresses: {aaa: 10.0.0.10}}
%s
"""


def big(n: int, mistake: bool = False) -> str:
    nets = "\n".join(f"  n{i}: {{domain: home, subnet: 10.{i // 256}.{i % 256}.0/24}}"
                     for i in range(n))
    aps = "\n".join(f"  ap{i}: {{kind: access_point, domain: {'hme' if mistake else 'home'}}}"
                    for i in range(n))
    links = "\n".join(f"  - {{endpoints: [ap{i}, n{i}], addresses: {{ap{i}: 10.{i // 256}.{i % 256}.2}}}}\n"
                      f"  - {{endpoints: [r, n{i}], addresses: {{r: 10.{i // 256}.{i % 256}.1}}}}"
                      for i in range(n))
    return MINIMAL % (nets, aps, links)


def refused(path_or_text, *, text: bool = False) -> str:
    with pytest.raises(TopologyError) as exc:
        load_topology_text(path_or_text, "t.yaml") if text else load_topology(path_or_text)
    return str(exc.value)


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path):
    fifo = tmp_path / "t.yaml"
    os.mkfifo(fifo)
    assert refused(fifo) == f"{fifo}:1:1: not a regular file (a FIFO): give the path of a YAML file"
    assert main(["validate", str(fifo)]) == 1


def test_a_directory_is_refused(tmp_path):
    assert "not a regular file (a directory)" in refused(tmp_path)


def test_a_file_over_the_size_limit_is_refused_unread(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text("# " + "x" * MAX_BYTES + "\n")
    assert refused(path) == f"{path}:1:1: larger than 1024 KiB: not a topology or " \
                            "experiment anyone writes by hand"


def test_an_alias_bomb_is_refused_at_its_first_alias():
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [{', '.join(['*' + p] * 9)}]\n" for p, c in zip("abcdefgh", "bcdefghi"))
    assert refused(bomb, text=True).startswith("t.yaml:2:8: YAML alias *a is not supported")


@pytest.mark.parametrize("opener", ["[", "{a: ", "- "])
def test_nesting_far_beyond_the_limit_is_refused_with_a_line(opener):
    text = "name: x\ndescription: " + (opener * 100_000 if opener != "- " else
                                       "\n" + "".join(" " * i + "- \n" for i in range(200)))
    message = refused(text, text=True)
    assert message.startswith("t.yaml:") and f"nested deeper than {MAX_DEPTH} levels" in message


def test_three_thousand_networks_validate():
    topo = load_topology_text(big(3000), "big.yaml")
    assert len(topo.networks) == 3000 and len(topo.links) == 6001


def test_thousands_of_mistakes_are_reported_by_the_first_few():
    message = refused(big(2000, mistake=True), text=True)
    lines = message.splitlines()
    assert len(lines) == MAX_PROBLEMS
    assert all("unknown domain 'hme' (did you mean 'home'?)" in ln for ln in lines)
