"""The plan as the TUI shows it: :class:`PlanInfo` / :class:`StepInfo` built from a loaded plan.

Pure: the loaded plan (``plan``, ``inventory``, ``order``, ``step(id)``, ``phase(id)``, as
:func:`migrator.plan.load.load_plan` returns it) and the estimates go in, frozen records come
out. The composition root (``migrator.cli.tui``) calls it once per session.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from migrator.plan.model import StepKind, Where
from migrator.render.words import action_line, describe_check, shell_text
from tui.facade import PlanInfo, StepInfo


def plan_info(loaded: Any, *, mode: str, operator: str, estimates: Mapping[str, Any]) -> PlanInfo:
    """``estimates``: step id -> an estimate with ``seconds`` and ``measured``."""
    plan, inventory = loaded.plan, loaded.inventory
    return PlanInfo(
        name=plan.name,
        title=plan.title,
        inventory_name=inventory.name,
        environment=inventory.environment.value,
        mode=mode,
        operator=operator,
        window_seconds=plan.window.length if plan.window is not None else None,
        window_start=plan.window.start if plan.window is not None else None,
        steps=tuple(step_info(loaded, sid, estimates[sid]) for sid in loaded.order),
        deps={sid: tuple(loaded.deps.get(sid, ())) for sid in loaded.order},
    )


def step_info(loaded: Any, sid: str, estimate: Any) -> StepInfo:
    step, phase = loaded.step(sid), loaded.phase(sid)
    if step.kind is StepKind.MANUAL:
        action = "\n".join([step.instructions or step.title, *[f"[ ] {item}" for item in step.checklist]])
    else:
        action = action_line(step)
    rollback = ""
    if step.rollback is not None:
        if step.rollback.command is not None:
            rollback = shell_text(step.rollback.command)
        rollback = "\n".join(t for t in (rollback, step.rollback.instructions or "") if t)
    checks = tuple(
        [f"done when: {describe_check(c)}" for c in step.done_when]
        + [f"pre: {describe_check(c)}" for c in step.pre]
        + [f"post: {describe_check(c)}" for c in step.post]
    )
    return StepInfo(
        id=sid,
        title=step.title,
        phase_id=phase.id,
        phase_title=phase.title,
        host=step.host,
        kind=step.kind.value,
        description=step.description or "",
        action=action,
        checks=checks,
        rollback=rollback,
        rollback_seconds=step.rollback.estimate if step.rollback is not None else None,
        irreversible=step.irreversible,
        estimate_seconds=estimate.seconds,
        estimate_measured=estimate.measured,
        in_window=phase.where is Where.WINDOW,
        destructive=step.destructive,
        manual=step.kind is StepKind.MANUAL,
        point_of_no_return=step.point_of_no_return,
        idempotent=step.idempotent,
    )
