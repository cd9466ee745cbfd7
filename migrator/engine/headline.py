"""What a run's summary says *now*: derived from its state and its steps, never read stale.

A run's stored ``summary`` is how it last stopped ("step X needs a confirmation", "step X is
in doubt ..."). Read later it can be wrong: the run was resumed and is running, or the step it
names was marked done since. ``status``, ``runs``, the change record and the TUI show
:func:`headline` instead: the stored text while it still holds, else what the steps say.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from migrator.engine.states import RUN_FINAL, STEP_ACTIVE, STEP_DONE
from migrator.store.dto import RunInfo, StepRecord

NAMED_STEP = re.compile(r"\bsteps? ([a-z0-9][a-z0-9._-]*)")
OPEN = ("in_doubt", "failed", "blocked")
"""Step states that a stopped run's summary is about, in the order they are reported."""


def headline(run: RunInfo, steps: Sequence[StepRecord]) -> str:
    """The run's summary as it stands: "" or the working step while it runs; the stored text
    without a repeated status word ("aborted: aborted: x"); derived from the steps when the
    stored text names a step that has been settled since."""
    states = {s.step_id: s.state for s in steps}
    if run.status in ("created", "running"):
        working = next((s for s in steps if s.state in STEP_ACTIVE), None)
        return f"step {working.step_id} {working.state}" if working is not None else ""
    text = run.summary
    prefix = f"{run.status}: "
    if text.startswith(prefix):
        text = text[len(prefix) :]
    named = [sid for sid in NAMED_STEP.findall(text) if sid in states]
    if named and all(states[sid] in STEP_DONE for sid in named) and run.status not in RUN_FINAL:
        return derived(steps)
    return text


def derived(steps: Sequence[StepRecord]) -> str:
    """What the steps say: the first step in doubt, failed or blocked, else what is left."""
    for state in OPEN:
        found = [s.step_id for s in steps if s.state == state]
        if found:
            what = "is in doubt" if state == "in_doubt" else f"is {state}"
            return f"step {found[0]} {what}" + (f" (and {len(found) - 1} more)" if len(found) > 1 else "")
    pending = sum(1 for s in steps if s.state == "pending")
    return f"{pending} step(s) pending" if pending else "all steps done"
