"""A step's command rendered once: what runs, what it needs by environment, how it is shown.

``{{ outputs.STEP.NAME }}`` references are replaced exactly once, here (pyinfra's
``StringCommand``: the command object carries its own masked form). A secret output never
goes into the command text: in a shell string it becomes a ``${MIGRATOR_OUTPUT_n}`` reference
whose value travels in :attr:`RenderedCommand.env`; its place in :attr:`RenderedCommand.shown`
reads ``***``. ``shown`` also passes the redactor (a value a secret reference resolved to), so
it may go to the journal, the events, the change record and the screen as it is.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from migrator.errors import ExecutorError
from migrator.plan.checks import Command
from migrator.secrets import MASK

OUTPUT_REF = re.compile(r"\{\{\s*outputs\.([a-z0-9][a-z0-9._-]*)\.([A-Za-z0-9_-]+)\s*\}\}")

SecretValues = Mapping[tuple[str, str], str]
"""Secret outputs produced in this process: ``(step, name) -> value`` (memory only)."""


@dataclass(frozen=True)
class RenderedCommand:
    command: Command
    """What runs: the plan's command with every output reference replaced."""
    shown: str
    """One shell line as an operator reads it: secrets ``***``, redacted."""
    env: Mapping[str, str] = field(default_factory=dict)
    """``MIGRATOR_OUTPUT_n`` -> secret output value, for the command's environment."""


def render(
    command: Command,
    values: Mapping[str, Mapping[str, str]],
    secrets: SecretValues,
    *,
    where: str,
    redact: Callable[[str], str] = lambda text: text,
) -> RenderedCommand:
    """Replace ``{{ outputs.STEP.NAME }}`` in ``command`` once: a plain output by its value, a
    secret one (shell strings only: an argv list cannot expand a variable) by an environment
    reference. An output not produced yet raises ExecutorError naming it."""
    env: dict[str, str] = {}
    names: dict[tuple[str, str], str] = {}

    def replace(match: re.Match[str], *, shell: bool, shown: bool) -> str:
        key = (match.group(1), match.group(2))
        if key in secrets:
            if not shell:
                raise ExecutorError(
                    f"secret output {key[0]}.{key[1]} cannot be passed in an argv command",
                    where=where,
                    hint="write the command as a shell string; the value then travels in the environment",
                )
            if key not in names:
                names[key] = f"MIGRATOR_OUTPUT_{len(names) + 1}"
                env[names[key]] = secrets[key]
            return MASK if shown else f"${{{names[key]}}}"
        value = values.get(key[0], {}).get(key[1])
        if value is None:
            raise ExecutorError(
                f"step {key[0]} has produced no output named '{key[1]}'",
                where=where,
                hint="run that step first, or fix the reference",
            )
        return value

    if isinstance(command, str):
        ran: Command = OUTPUT_REF.sub(lambda m: replace(m, shell=True, shown=False), command)
        shown = OUTPUT_REF.sub(lambda m: replace(m, shell=True, shown=True), command)
    else:
        ran = [OUTPUT_REF.sub(lambda m: replace(m, shell=False, shown=False), arg) for arg in command]
        shown = _argv_line(
            [OUTPUT_REF.sub(lambda m: replace(m, shell=False, shown=True), a) for a in command]
        )
    return RenderedCommand(ran, redact(shown), env)


def _argv_line(argv: list[str]) -> str:
    import shlex

    return " ".join(shlex.quote(arg) for arg in argv)


def first_lines(shown: str, *, lines: int = 3, width: int = 160) -> list[str]:
    """The start of a shown command for a status line: at most ``lines`` lines of ``width``
    characters, the last one saying how much more there is."""
    all_lines = [line for line in shown.strip("\n").splitlines() if line.strip()] or [""]
    kept = [line if len(line) <= width else line[: width - 1] + "…" for line in all_lines[:lines]]
    if len(all_lines) > lines:
        kept[-1] += f"  … ({len(all_lines) - lines} more lines)"
    return kept
