"""The dependency graph as a mermaid ``flowchart TD``: phases as subgraphs, risky steps styled.

Node ids are generated (``s1``, ``s2``... in plan order) so that no step id can collide with
mermaid keywords (``end``) or operators (``-->`` inside ``a--b``); labels are always quoted
and escaped with mermaid's entity codes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from migrator.plan.load import LoadedPlan

_ENTITIES = {"#": "#35;", '"': "#quot;", "<": "#lt;", ">": "#gt;", "&": "#amp;", "`": "#96;"}

CLASS_DEFS = (
    "classDef destructive fill:#fde2e1,stroke:#c0392b,stroke-width:2px,color:#000",
    "classDef noreturn fill:#efe3f7,stroke:#6c3483,stroke-width:3px,color:#000",
    "classDef manual fill:#fef5d4,stroke:#b7950b,color:#000",
)


def escape(text: str) -> str:
    """``text`` on one line with mermaid's entity codes for the characters its parser reads."""
    return "".join(_ENTITIES.get(char, char) for char in " ".join(text.split()))


def label(*lines: str) -> str:
    """A quoted mermaid label; ``<br/>`` (mermaid's own line break) joins the lines."""
    return '"' + "<br/>".join(escape(line) for line in lines) + '"'


def node_ids(step_ids: list[str]) -> dict[str, str]:
    return {step_id: f"s{i}" for i, step_id in enumerate(step_ids, start=1)}


def render_mermaid(loaded: LoadedPlan) -> str:
    plan = loaded.plan
    ids = node_ids([s.id for s in plan.steps()])
    lines = ["flowchart TD"]
    for index, phase in enumerate(plan.phases, start=1):
        lines.append(f"  subgraph p{index}[{label(f'{phase.title} ({phase.where.value})')}]")
        for step in phase.steps:
            lines.append(f"    {ids[step.id]}[{label(step.id, step.host)}]")
        lines.append("  end")
    for step_id in loaded.order:
        for dep in loaded.deps.get(step_id, []):
            if dep in ids:
                lines.append(f"  {ids[dep]} --> {ids[step_id]}")
    lines += [f"  {d}" for d in CLASS_DEFS]
    styled = {
        "destructive": [ids[s.id] for s in plan.steps() if s.destructive],
        "noreturn": [ids[s.id] for s in plan.steps() if s.point_of_no_return],
        "manual": [ids[s.id] for s in plan.steps() if s.kind.value == "manual"
                   and not s.destructive and not s.point_of_no_return],
    }
    # A step is drawn with one class: the last `class` line wins in mermaid, so
    # point of no return (the go/no-go) is listed after destructive.
    for name, members in styled.items():
        if members:
            lines.append(f"  class {','.join(members)} {name}")
    return "\n".join(lines) + "\n"
