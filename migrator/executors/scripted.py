"""ScriptedExecutor: a :class:`StepRunner` test double for engine and TUI tests.

It does no I/O. Each step id gets canned outcomes (ok, fail, raise, sleep, output lines,
values), each check canned results, and every call is counted, so a test can say "the
action ran twice, the rollback once, the pre-check three times". It is a double, named as
one: production code never builds it.

Canned entries may be a single value (used every time) or a list (one per call, the last
one repeating), so "fails on the first attempt, passes on the retry" is ``[Fail, Ok]``.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from migrator.checks.base import CheckResult
from migrator.executors.base import ActionOutcome, StepContext, StepRunner

if TYPE_CHECKING:
    from migrator.plan.checks import Check
    from migrator.plan.model import Step

T = TypeVar("T")
SLICE = 0.01  # seconds between two looks at ctx.cancel while a scripted action "runs"


@dataclass
class Scripted:
    """What the double does for one action or rollback call."""

    ok: bool = True
    summary: str | None = None
    lines: list[tuple[str, str]] = field(default_factory=list)
    """``(stream, line)`` sent to ``ctx.on_line`` before finishing."""
    raises: BaseException | None = None
    """Raised instead of returning (after the lines and the sleep)."""
    sleep: float = 0.0
    """Seconds to "run", cut short by ``ctx.cancel``."""
    hold: threading.Event | None = None
    """When set, the action waits until the test sets this event (or ctx.cancel)."""
    values: dict[str, str] = field(default_factory=dict)
    secret_values: set[str] = field(default_factory=set)
    exit_code: int | None = None
    evidence: str | None = None


OK = Scripted()
FAIL = Scripted(ok=False, summary="scripted failure", exit_code=1)

CheckScript = bool | CheckResult | BaseException


def _pick(script: T | Sequence[T], index: int) -> T:
    if isinstance(script, list | tuple):
        return script[min(index, len(script) - 1)]  # type: ignore[no-any-return]
    return script  # type: ignore[return-value]


class ScriptedExecutor:
    """A StepRunner double: canned outcomes per step id, canned check results, call counts."""

    def __init__(
        self,
        actions: Mapping[str, Scripted | Sequence[Scripted]] | None = None,
        *,
        checks: Mapping[str, CheckScript | Sequence[CheckScript]] | None = None,
        rollbacks: Mapping[str, Scripted | Sequence[Scripted]] | None = None,
        default: Scripted = OK,
        default_check: bool = True,
    ) -> None:
        """``checks`` keys are ``"STEP:KIND"`` (e.g. ``"zfs-create:zpool_healthy"``) or ``"STEP"``."""
        self.actions = dict(actions or {})
        self.checks = dict(checks or {})
        self.rollbacks = dict(rollbacks or {})
        self.default = default
        self.default_check = default_check
        self.executed: Counter[str] = Counter()
        self.rolled_back: Counter[str] = Counter()
        self.checked: Counter[str] = Counter()
        self.calls: list[tuple[str, str]] = []
        """Every call in order: ``("execute" | "rollback" | "check", step id or STEP:KIND)``."""
        self.contexts: list[StepContext] = []
        self.closed = False
        self._lock = threading.Lock()

    # ------------------------------------------------------------ StepRunner

    def execute(self, step: Step, ctx: StepContext) -> ActionOutcome:
        with self._lock:
            index = self.executed[step.id]
            self.executed[step.id] += 1
            self.calls.append(("execute", step.id))
            self.contexts.append(ctx)
        script = _pick(self.actions.get(step.id, self.default), index)
        return self._play(script, ctx, f"scripted action of {step.id}")

    def rollback(self, step: Step, ctx: StepContext) -> ActionOutcome:
        with self._lock:
            index = self.rolled_back[step.id]
            self.rolled_back[step.id] += 1
            self.calls.append(("rollback", step.id))
        script = _pick(self.rollbacks.get(step.id, OK), index)
        return self._play(script, ctx, f"scripted rollback of {step.id}")

    def check(self, check: Check, step: Step, ctx: StepContext) -> CheckResult:
        key = f"{step.id}:{check.kind}"
        with self._lock:
            index = self.checked[key]
            self.checked[key] += 1
            self.calls.append(("check", key))
        script: CheckScript | Sequence[CheckScript] = self.checks.get(
            key, self.checks.get(step.id, self.default_check)
        )
        answer = _pick(script, index)
        if isinstance(answer, BaseException):
            raise answer
        if isinstance(answer, CheckResult):
            return answer
        passed = bool(answer)
        observed = "as expected (scripted)" if passed else "not as expected (scripted)"
        return CheckResult(passed=passed, observed=observed, expected=check.kind, message=f"scripted {key}")

    def close(self) -> None:
        self.closed = True

    # ------------------------------------------------------------ helpers

    def _play(self, script: Scripted, ctx: StepContext, name: str) -> ActionOutcome:
        for stream, line in script.lines:
            ctx.on_line(stream, line)
        deadline = time.monotonic() + script.sleep
        while time.monotonic() < deadline and not ctx.cancel():
            time.sleep(min(SLICE, max(0.0, deadline - time.monotonic())))
        if script.hold is not None:
            while not script.hold.wait(SLICE) and not ctx.cancel():
                continue
        if ctx.cancel() and (script.sleep or script.hold is not None):
            return ActionOutcome(ok=False, summary=f"{name}: cancelled")
        if script.raises is not None:
            raise script.raises
        stdout = "\n".join(line for stream, line in script.lines if stream == "stdout")
        return ActionOutcome(
            ok=script.ok,
            summary=script.summary or f"{name}: {'ok' if script.ok else 'failed'}",
            exit_code=script.exit_code if script.exit_code is not None else (0 if script.ok else 1),
            stdout=stdout,
            evidence=script.evidence,
            values=dict(script.values),
            secret_values=set(script.secret_values),
        )


def _is_a_step_runner(double: ScriptedExecutor) -> StepRunner:
    """Never called: lets mypy prove that the double satisfies the engine's protocol."""
    return double
