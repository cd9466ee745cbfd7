"""The printable runbook: the whole plan as markdown someone can follow on paper.

If the laptop dies in the middle of the window, this is what is left: every step with its
host, the exact command, the checks with the exact probe to run by hand, the checklists,
the rollback, and room to write down when it was done and by whom.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING

from migrator.estimates import Estimate, WindowSummary, summarize
from migrator.plan.checks import Check
from migrator.plan.model import Step, StepKind, Where, source_lines
from migrator.render.words import (
    DESTRUCTIVE,
    IRREVERSIBLE,
    MARKERS,
    NO_RETURN,
    check_place,
    describe_check,
    duration,
    estimates_or_written,
    markers_of,
    plural,
    probe_text,
    shell_text,
    slack_text,
)

if TYPE_CHECKING:
    from migrator.plan.load import LoadedPlan

WHERE_TEXT = {Where.BEFORE: "before the window", Where.WINDOW: "in the window (downtime)",
              Where.AFTER: "after the window"}
SIGN_OFF = "Started at __:__ · done at __:__ by ____________ · notes: ______________________________"


def code(text: str) -> str:
    """Inline code that survives backticks in ``text``."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    padded = f" {text} " if text.startswith("`") or text.endswith("`") else text
    return f"{fence}{padded}{fence}"


def code_block(text: str, language: str = "sh") -> list[str]:
    """A fenced block whose fence is longer than any backtick run inside."""
    longest = max((len(run) for run in re.findall(r"`{3,}", text)), default=2)
    fence = "`" * (longest + 1)
    return [f"{fence}{language}", text.rstrip("\n"), fence]


def plain(text: str) -> str:
    """Plan text on one markdown line: newlines flattened, characters that start markup escaped."""
    flat = " ".join(text.split())
    return re.sub(r"([\\`*_\[\]<|])", r"\\\1", flat)


def render_markdown(loaded: LoadedPlan, *, estimates: Mapping[str, Estimate] | None = None) -> str:
    chosen = estimates_or_written(loaded.plan, estimates)
    summary = summarize(loaded, chosen)
    lines = _front(loaded, summary)
    number = 0
    for index, phase in enumerate(loaded.plan.phases, start=1):
        lines += [
            f"## Phase {index}: {plain(phase.title)}",
            "",
            f"{WHERE_TEXT[phase.where]} · phase `{phase.id}` · "
            f"{plural(len(phase.steps), 'step')} · {duration(summary.per_phase.get(phase.id, 0))} of work",
            "",
        ]
        for step in phase.steps:
            number += 1
            lines += _step(loaded, step, number, chosen.get(step.id, Estimate(None)))
    return "\n".join(lines).rstrip("\n") + "\n"


def _front(loaded: LoadedPlan, summary: WindowSummary) -> list[str]:
    plan, inventory = loaded.plan, loaded.inventory
    lines = [f"# {plain(plan.title)}", ""]
    lines += [
        f"- Plan: `{plan.name}` ({code(str(loaded.path))}), fingerprint `{loaded.fingerprint[:12]}`",
        f"- Inventory: **{plain(inventory.name)}** ({inventory.environment.value}), "
        f"{code(str(loaded.inventory_path))}",
    ]
    if plan.window is not None:
        start = plan.window.start
        when = start.strftime("%Y-%m-%d %H:%M %z") if start else "start not set"
        end = (start + timedelta(seconds=plan.window.length)).strftime(" to %Y-%m-%d %H:%M") if start else ""
        lines.append(f"- Window: {when}{end} ({duration(plan.window.length)})")
    else:
        lines.append("- Window: not set")
    lines.append("")
    if plan.description:
        lines += [plain(plan.description), ""]
    lines += ["## Summary", "", "| Phase | Where | Steps | Estimate |", "|---|---|---:|---:|"]
    for phase in plan.phases:
        lines.append(f"| {plain(phase.title)} (`{phase.id}`) | {phase.where.value} | {len(phase.steps)} | "
                     f"{duration(summary.per_phase.get(phase.id, 0))} |")
    lines += [f"| **Total** | | {len(plan.steps())} | {duration(summary.total_seconds)} |", ""]
    path = " → ".join(summary.critical_path) if summary.critical_path else "none"
    lines.append(f"**Planned downtime: {duration(summary.downtime_seconds)}** (critical path: {path}).")
    if summary.window_seconds is not None:
        lines.append(f"Window {duration(summary.window_seconds)}, {slack_text(summary)}.")
    lines.append("")
    warnings = []
    if summary.unestimated:
        warnings.append("In-window steps without an estimate (counted as 0): "
                        + ", ".join(f"`{s}`" for s in summary.unestimated))
    warnings += [plain(str(problem)) for problem in loaded.warnings]
    if warnings:
        lines += ["**Warnings**", "", *(f"- {w}" for w in warnings), ""]
    legend = ", ".join(f"{m.symbol} {m.meaning}" for m in MARKERS)
    lines += [f"Markers: {legend}.", ""]
    lines += ["Tick each box on paper as you go. Checks list the probe to run by hand on the host named.", ""]
    return lines


def _estimate(estimate: Estimate) -> str:
    """On paper too, say where a figure comes from: written in the plan or measured in runs."""
    if estimate.seconds is None or estimate.measured:
        return estimate.label()
    return f"{estimate.label()} (written)"


def _step(loaded: LoadedPlan, step: Step, number: int, estimate: Estimate) -> list[str]:
    marks = " ".join(m.symbol for m in markers_of(step))
    lines = [f"### [ ] {number}. `{step.id}`: {plain(step.title)}" + (f" {marks}" if marks else ""), ""]
    facts = [f"host {code(step.host)}", f"kind {step.kind.value}", f"estimate {_estimate(estimate)}"]
    if step.timeout is not None:
        facts.append(f"timeout {duration(step.timeout)}")
    if step.idempotent:
        facts.append("idempotent")
    lines.append("- " + " · ".join(facts))
    needs = loaded.deps.get(step.id, [])
    lines.append("- Depends on: " + (", ".join(f"`{d}`" for d in needs) if needs else "nothing"))
    if step.requires:
        lines.append("- Requires (other plans, done first): "
                     + ", ".join(f"`{r.plan}:{r.step}`" for r in step.requires))
    if step.destructive:
        lines.append(f"- **{DESTRUCTIVE.symbol} Destructive:** confirm before running it.")
    if step.irreversible:
        lines.append(f"- **{IRREVERSIBLE.symbol} Irreversible:** {plain(step.irreversible)}")
    if step.point_of_no_return:
        lines.append(f"- **{NO_RETURN.symbol} Point of no return.** "
                     "Go/no-go decided by ____________ at __:__ before starting it.")
    if step.secrets:
        refs = ", ".join(f"`{name}` from `{ref}`" for name, ref in step.secrets.items())
        lines.append(f"- Secrets (references only): {refs}")
    sources = source_lines(step)
    lines.append("- Source: " + ("; ".join(_source(s) for s in sources) if sources else "none given"))
    lines.append("")
    if step.description:
        lines += [plain(step.description), ""]
    lines += _checks("Done when (all hold: already done, the action is skipped)", step.done_when, step,
                     done=True)
    lines += _checks("Pre-checks", step.pre, step)
    lines += ["**Action**", "", *_action(step), ""]
    lines += _checks("Post-checks", step.post, step)
    lines += ["**Rollback**", "", *_rollback(step), ""]
    if step.outputs:
        outs = ", ".join(f"`outputs.{step.id}.{name}`" + (" (secret)" if spec.secret else "")
                         for name, spec in step.outputs.items())
        lines += [f"Produces: {outs}", ""]
    lines += [SIGN_OFF, ""]
    return lines


def _source(text: str) -> str:
    """A repository path in code spans; our own additions in plain words."""
    return plain(text) if text.startswith("ours: ") else code(text)


def _action(step: Step) -> list[str]:
    if step.command is not None:
        prefix = "sudo " if step.sudo else ""
        return [f"On {code(step.host)}:", "", *code_block(prefix + shell_text(step.command))]
    if step.call is not None:
        lines = [f"Proxmox API on {code(step.call.endpoint or step.host)}: "
                 f"{code(f'{step.call.method} {step.call.path}')}"]
        if step.call.params:
            lines += ["", *(f"- {code(key)} = {code(str(value))}" for key, value in step.call.params.items())]
        return lines
    if step.kind is StepKind.MANUAL:
        lines = [plain(line) for line in (step.instructions or "").strip().splitlines()]
        if step.checklist:
            lines += ["", *(f"- [ ] {plain(item)}" for item in step.checklist)]
        return lines or ["(no instructions)"]
    if step.until is not None:
        interval = duration(step.interval)
        return [f"Wait (probe every {interval}) until:", "", *_check_item(step.until, step)]
    return ["(no action)"]


def _checks(label: str, checks: list[Check], step: Step, *, done: bool = False) -> list[str]:
    if not checks:
        return []
    lines = [f"**{label}**", ""]
    for check in checks:
        lines += _check_item(check, step, done=done)
    return [*lines, ""]


def _check_item(check: Check, step: Step, *, done: bool = False) -> list[str]:
    # A check that cannot tell counts as failing: it never lets a step go on, nor marks it done.
    on_fail = "if it does not hold or cannot tell: not done, run the step" if done else {
        "halt": "stop if it fails or cannot tell", "warn": "warn and go on if it fails or cannot tell",
        "mark_done": "retired: use done_when"}[check.on_fail.value]
    lines = [f"- [ ] {plain(describe_check(check))} ({on_fail})"]
    probe = probe_text(check)
    if probe is not None:
        lines.append(f"  - on {code(check_place(check, step))}: {code(probe)}")
    return lines


def _rollback(step: Step) -> list[str]:
    if step.irreversible:
        return [f"None: irreversible ({plain(step.irreversible)})."]
    rollback = step.rollback
    if rollback is None:
        return ["None declared."]
    lines = []
    if rollback.command is not None:
        lines += [f"On {code(step.host)}:", "", *code_block(shell_text(rollback.command))]
    if rollback.instructions:
        lines += ["", *(plain(line) for line in rollback.instructions.strip().splitlines())]
    if rollback.estimate is not None:
        lines += ["", f"Takes about {duration(rollback.estimate)}."]
    return lines
