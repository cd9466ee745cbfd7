"""The mermaid dependency graph: every step, every edge, phases as subgraphs, valid quoting."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from migrator.plan.load import LoadedPlan, load_plan
from migrator.render import render_mermaid
from migrator.render.mermaid import label
from tests.render.plans import ssh, write_plan

OFF1 = Path(__file__).resolve().parent / "data" / "off1-skeleton.yaml"  # frozen: the figures depend on it
NODE = re.compile(r'^\s+(s\d+)\["([^"]*)"\]$')
EDGE = re.compile(r"^\s+(s\d+) --> (s\d+)$")


@pytest.fixture(scope="module")
def off1() -> LoadedPlan:
    return load_plan(OFF1)


def nodes(text: str) -> dict[str, str]:
    """Step id -> node id, read back from the labels (first label line is the step id)."""
    found = {}
    for line in text.splitlines():
        match = NODE.match(line)
        if match:
            found[match.group(2).split("<br/>")[0]] = match.group(1)
    return found


def test_flowchart_with_every_step_and_its_host(off1: LoadedPlan) -> None:
    text = render_mermaid(off1)
    assert text.splitlines()[0] == "flowchart TD"
    ids = nodes(text)
    assert set(ids) == set(off1.order)
    assert '["zfs-hdd-create<br/>off1"]' in text
    assert '["cluster-fingerprint<br/>off2"]' in text


def test_every_dependency_is_an_edge_and_nothing_else(off1: LoadedPlan) -> None:
    text = render_mermaid(off1)
    ids = nodes(text)
    expected = {(ids[dep], ids[step]) for step, deps in off1.deps.items() for dep in deps}
    edges = {m.groups() for line in text.splitlines() if (m := EDGE.match(line))}
    assert edges == expected
    assert (ids["cluster-fingerprint"], ids["cluster-join"]) in edges


def test_phases_are_subgraphs_holding_their_steps(off1: LoadedPlan) -> None:
    lines = render_mermaid(off1).splitlines()
    opened = [i for i, line in enumerate(lines) if line.strip().startswith("subgraph ")]
    closed = [i for i, line in enumerate(lines) if line.strip() == "end"]
    assert len(opened) == len(closed) == len(off1.plan.phases)
    assert 'subgraph p2["In the window (off1 down) (window)"]' in lines[opened[1]]
    inside = "\n".join(lines[opened[1]:closed[1]])
    for step in off1.plan.phases[1].steps:
        assert f'["{step.id}<br/>' in inside


def test_risky_steps_are_styled(off1: LoadedPlan) -> None:
    text = render_mermaid(off1)
    ids = nodes(text)
    assert "classDef destructive " in text and "classDef noreturn " in text
    assert f"class {ids['zfs-hdd-create']} destructive" in text
    noreturn = re.search(r"^\s+class (\S+) noreturn$", text, re.M)
    assert noreturn is not None
    assert set(noreturn.group(1).split(",")) == {ids["hardware"], ids["cluster-join"]}


def test_labels_are_quoted_and_escaped() -> None:
    assert label('say "hi" #1 <b> & `x`') == '"say #quot;hi#quot; #35;1 #lt;b#gt; #amp; #96;x#96;"'
    assert label("two\nlines", "host") == '"two lines<br/>host"'


def test_a_step_named_end_does_not_close_its_subgraph(tmp_path: Path) -> None:
    text = render_mermaid(write_plan(tmp_path, window=[ssh("end", "1m"), ssh("graph", "1m")]))
    assert nodes(text) == {"end": "s1", "graph": "s2"}
    assert [line.strip() for line in text.splitlines()].count("end") == 1


def test_every_line_is_a_mermaid_statement(off1: LoadedPlan) -> None:
    """A structural grammar of what we emit: a stray quote or bracket in a label fails here."""
    statement = re.compile(
        r'^(flowchart TD'
        r'|  subgraph p\d+\["[^"\[\]]*"\]'
        r'|    s\d+\["[^"\[\]]*"\]'
        r'|  end'
        r'|  s\d+ --> s\d+'
        r'|  classDef \w+ [\w#:,.-]+'
        r'|  class s\d+(,s\d+)* \w+)$'
    )
    for line in render_mermaid(off1).splitlines():
        assert statement.match(line), line
