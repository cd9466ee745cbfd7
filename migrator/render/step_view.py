"""`migrator plan NAME --step ID`: one step in full, every field the operator may need.

Secrets are shown as their names and references (``PGPASSWORD <- env:PG_PASS``); a plan
never holds a value, and this view never resolves one.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import TYPE_CHECKING

from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from migrator.errors import UsageError
from migrator.estimates import Estimate
from migrator.plan.checks import Check
from migrator.plan.model import Step, StepKind, source_lines
from migrator.render.terminal import MARKER_STYLE, WHERE_STYLE
from migrator.render.words import (
    check_place,
    describe_check,
    duration,
    markers_of,
    probe_text,
    shell_text,
)

if TYPE_CHECKING:
    from rich.console import Console

    from migrator.plan.load import LoadedPlan


def find_step(loaded: LoadedPlan, step_id: str) -> Step:
    """The step, or a usage error naming the closest ids."""
    ids = loaded.order
    if step_id not in ids:
        close = difflib.get_close_matches(step_id, ids, n=3)
        hint = f"did you mean {', '.join(close)}?" if close else f"steps: {', '.join(ids)}"
        raise UsageError(f"no step '{step_id}' in plan {loaded.plan.name}", hint=hint)
    return loaded.step(step_id)


def render_step(
    loaded: LoadedPlan, console: Console, step_id: str, estimates: Mapping[str, Estimate]
) -> None:
    step = find_step(loaded, step_id)
    phase = loaded.phase(step_id)
    position = [s.id for s in loaded.plan.steps()].index(step_id) + 1
    title = Text(f"{position}. {step.id}", style="bold")
    title.append(f"  {step.title}")
    console.print(title)
    where = Text(f"phase {phase.id} ({phase.title}) ", style="dim")
    where.append(f"[{phase.where.value}]", style=WHERE_STYLE[phase.where])
    where.append(f"  {loaded.path}:{loaded.line_of(step_id)}", style="dim")
    console.print(where)
    if step.description:
        console.print(Text(step.description.strip()))
    sources = source_lines(step)
    console.print(Text("source: " + ("; ".join(sources) if sources else "none given"), style="dim"))

    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    for label, value in _fields(step, estimates.get(step_id, Estimate(None))):
        grid.add_row(Text(label), value if isinstance(value, Text) else Text(value))
    dependents = [s for s, needs in loaded.deps.items() if step_id in needs]
    grid.add_row(Text("depends on"), Text(", ".join(loaded.deps.get(step_id, [])) or "nothing"))
    if step.requires:  # steps of other plans (migrator.engine.crossplan)
        grid.add_row(Text("requires"), Text(", ".join(f"{r.plan}:{r.step}" for r in step.requires)))
    grid.add_row(Text("needed by"), Text(", ".join(dependents) or "nothing"))
    console.print()
    console.print(grid)

    _section(console, "Action", _action(step))
    if step.done_when:
        _checks(console, "Done when (all hold: the step is not run)", step.done_when, step, done=True)
    _checks(console, "Pre-checks", step.pre, step)
    _checks(console, "Post-checks", step.post, step)
    _section(console, "Rollback", _rollback(step))
    if step.outputs:
        _section(console, "Outputs", _outputs(step))
    if step.secrets:
        _section(console, "Secrets (references only)", _secrets(step))


def _section(console: Console, title: str, lines: list[Text]) -> None:
    """A blank line, the underlined title, then ``lines`` with their indentation kept."""
    console.print()
    console.print(Text(title, style="bold underline"))
    for line in lines:
        _print_indented(console, line)


def _outputs(step: Step) -> list[Text]:
    lines = []
    for name, spec in step.outputs.items():
        line = Text(f"  outputs.{step.id}.{name}")
        line.append(f"  regex /{spec.regex}/" if spec.regex else "  whole stdout", style="dim")
        if spec.secret:
            line.append("  secret: only a fingerprint is stored", style="yellow")
        lines.append(line)
    return lines


def _secrets(step: Step) -> list[Text]:
    lines = []
    for name, reference in step.secrets.items():
        line = Text(f"  {name} <- {reference}")
        if step.stdin_secret == name:
            line.append("  (fed on stdin)", style="dim")
        lines.append(line)
    return lines


def _print_indented(console: Console, line: Text) -> None:
    """Print ``line`` so that wrapped parts keep its indentation (long commands stay readable)."""
    plain = line.plain
    indent = len(plain) - len(plain.lstrip(" "))
    if indent == 0:
        console.print(line)
        return
    console.print(Padding(line[indent:], (0, 0, 0, indent)))


def _fields(step: Step, estimate: Estimate) -> list[tuple[str, Text | str]]:
    marks = Text()
    for marker in markers_of(step):
        if marks:
            marks.append(", ")
        marks.append(marker.meaning, style=MARKER_STYLE[marker.key])
    flags = [
        name
        for name, on in (
            ("idempotent", step.idempotent),
            ("sudo", step.sudo),
            ("expects a new host key", step.expect_new_host_key),
        )
        if on
    ]
    fields: list[tuple[str, Text | str]] = [
        ("host", step.host),
        ("kind", step.kind.value),
        ("estimate", estimate.label()),
    ]
    if marks:
        fields.append(("markers", marks))
    if step.irreversible:
        fields.append(("irreversible", step.irreversible))
    if flags:
        fields.append(("flags", ", ".join(flags)))
    if step.timeout is not None:
        fields.append(("timeout", duration(step.timeout)))
    if step.retries:
        fields.append(("retries", f"{step.retries}, {duration(step.retry_delay)} apart"))
    if step.kind is StepKind.WAIT:
        fields.append(("interval", duration(step.interval)))
    if step.kind is StepKind.MANUAL and step.lab_effect.value != "none":
        fields.append(("in the lab", step.lab_effect.value))
    return fields


def _action(step: Step) -> list[Text]:
    if step.command is not None:
        prefix = "sudo " if step.sudo else ""
        return [Text(f"  $ {prefix}{shell_text(step.command).rstrip()}", style="bold")]
    if step.call is not None:
        lines = [Text(f"  {step.call.method} {step.call.path}", style="bold")]
        lines += [Text(f"    {key} = {value}") for key, value in step.call.params.items()]
        endpoint = step.call.endpoint or step.host
        lines.append(
            Text(
                f"    endpoint {endpoint}; "
                + ("waits for the task" if step.call.wait_task else "does not wait for the task"),
                style="dim",
            )
        )
        return lines
    if step.kind is StepKind.MANUAL:
        lines = [Text(f"  {line}") for line in (step.instructions or "").strip().splitlines()]
        lines += [Text(f"  [ ] {item}") for item in step.checklist]
        return lines or [Text("  (no instructions)", style="yellow")]
    if step.until is not None:
        return [Text("  wait until: "), *_check_lines(step.until, step, indent="    ")]
    return [Text("  (no action)", style="yellow")]


def _checks(console: Console, label: str, checks: list[Check], step: Step, *, done: bool = False) -> None:
    lines = [
        line
        for i, check in enumerate(checks, start=1)
        for line in _check_lines(check, step, indent="  ", number=i, done=done)
    ]
    _section(console, f"{label} ({len(checks)})", lines)
    if not checks:
        console.print(Text("  none", style="dim"))


def _check_lines(
    check: Check, step: Step, *, indent: str, number: int | None = None, done: bool = False
) -> list[Text]:
    head = Text(indent + (f"{number}. " if number is not None else ""))
    head.append(describe_check(check))
    # A done_when check has no on_fail: not holding means "not done yet, run it".
    head.append(f"  [{check.kind}" + ("]" if done else f", on fail: {check.on_fail.value}]"), style="dim")
    lines = [head]
    probe = probe_text(check)
    detail = Text(indent + "   probe on " + check_place(check, step), style="dim")
    if probe is not None:
        detail.append(": " + probe)
    lines.append(detail)
    return lines


def _rollback(step: Step) -> list[Text]:
    if step.irreversible:
        return [Text(f"  none: irreversible ({step.irreversible})", style="red")]
    rollback = step.rollback
    if rollback is None:
        return [Text("  none declared", style="yellow")]
    lines = []
    if rollback.command is not None:
        lines.append(Text(f"  $ {shell_text(rollback.command).rstrip()}", style="bold"))
    if rollback.instructions:
        lines += [Text(f"  {line}") for line in rollback.instructions.strip().splitlines()]
    if rollback.estimate is not None:
        lines.append(Text(f"  takes about {duration(rollback.estimate)}", style="dim"))
    return lines
