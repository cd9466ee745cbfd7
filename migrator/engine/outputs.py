"""The one owner of a run's output values and secret outputs.

Values earlier steps produced are substituted into a step once, here, just before its
attempt starts: the action's command becomes a :class:`RenderedCommand` (what runs, the
environment a secret output travels in, the masked line the journal, the events and the change
record show); every other action field (a Proxmox call, a wait's check, a manual step's text)
gets plain values. A secret output's value lives in the process's memory only (its
:class:`~migrator.secrets.Redactor`; the store keeps its fingerprint): it is never written
into anything but a command's environment.

Outputs are read from an attempt once (:meth:`RunOutputs.found`): the values the step runner
extracted, else the declared regex over the raw text (a failed attempt may have printed a
secret: it must be known to the redactor before its held lines are shown).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from migrator.errors import ExecutorError
from migrator.executors.base import ActionOutcome
from migrator.executors.command import OUTPUT_REF, RenderedCommand, render
from migrator.plan.model import Step
from migrator.plan.params import UnknownReference, substitute_outputs
from migrator.secrets import Redactor

ACTION_ONLY = frozenset({"pre", "post", "done_when", "rollback"})
"""Step fields not rendered with the action: checks are rendered when they are probed (a
post-check may read this very step's output), a rollback when it runs."""


@dataclass
class RunOutputs:
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    """Plain outputs: ``values[step][name]`` (also stored, and reloaded on resume)."""
    secrets: Redactor = field(default_factory=Redactor, repr=False)
    """Where the process keeps secret outputs (memory only), as it keeps every secret value it
    learnt: the redactor the executors mask with, shared by every run of a TUI session."""

    def remember_secret(self, step_id: str, name: str, value: str) -> None:
        self.secrets.remember(step_id, name, value)

    @property
    def _secrets(self) -> dict[tuple[str, str], str]:
        return self.secrets.outputs()

    def render_action(self, step: Step, redact: Callable[[str], str]) -> tuple[Step, RenderedCommand | None]:
        """``step`` with its action's output references replaced, and its command rendered.
        Raises UnknownReference (an output not produced yet, or a secret one outside a shell
        command: it could only go there as text)."""
        where = f"step {step.id}"
        command: RenderedCommand | None = None
        if step.command is not None:
            try:
                command = render(step.command, self.values, self._secrets, where=where, redact=redact)
            except ExecutorError as exc:
                raise UnknownReference(exc.message) from exc
        dumped = step.model_dump(mode="json", exclude_defaults=True)
        action = {k: v for k, v in dumped.items() if k not in ACTION_ONLY and k != "command"}
        self._refuse_secrets(action, where)
        rendered = substitute_outputs(step, self.values, only=action.keys())
        if command is not None and command.command != step.command:
            rendered = rendered.model_copy(update={"command": command.command})
        return rendered, command

    def checks(self, checks: list[Any]) -> list[Any]:
        """Checks with plain outputs replaced (a secret output in a check is refused)."""
        for check in checks:
            self._refuse_secrets(check.model_dump(mode="json"), "a check")
        return [substitute_outputs(check, self.values) for check in checks]

    def _refuse_secrets(self, value: Any, where: str) -> None:
        text = repr(value)
        for match in OUTPUT_REF.finditer(text):
            if (match.group(1), match.group(2)) in self._secrets:
                raise UnknownReference(
                    f"secret output {match.group(1)}.{match.group(2)} can only be used in a shell command "
                    f"({where}), where it travels in the environment"
                )

    def found(self, step: Step, outcome: ActionOutcome | None, raw: str) -> dict[str, str]:
        """The step's declared outputs in one attempt: from ``outcome.values`` (the step runner
        read them), else its regex over ``raw`` then ``outcome.stdout``."""
        found: dict[str, str] = {}
        for name, spec in step.outputs.items():
            value = None if outcome is None else outcome.values.get(name)
            if value is None and spec.regex:
                for text in (raw, "" if outcome is None else outcome.stdout):
                    match = re.search(spec.regex, text, re.MULTILINE) if text else None
                    if match:
                        value = match.group(1) if match.groups() else match.group(0)
                        break
            if value is not None:
                found[name] = value
        return found

