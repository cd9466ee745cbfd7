"""What each automatic step kind does once it has its transport or client: ssh/local, proxmox, wait.

The functions here carry out one attempt and return an :class:`ActionOutcome`. They return a
*failed* outcome when the action ran and did not succeed (non-zero exit, timeout, a Proxmox
task that ended badly, a wait that gave up, a declared output missing from stdout), an
*unknown* one when it started and its end was not seen (the transport raised
:class:`~migrator.errors.OutcomeUnknown`); they raise :class:`~migrator.errors.ExecutorError`
when it could not be carried out at all (connection, host key, secret, an API refusal). The
engine records the three differently (see :class:`migrator.executors.base.Outcome`).

Secrets reach the command by environment (``step.secrets``) or stdin (``stdin_secret``),
never in its text. Lines go to ``ctx.on_line`` as they come: the engine's output recorder
(:mod:`migrator.engine.output`) is the one place that redacts them and, when a step declares a
secret output, holds them back until the value is known, so it never reaches the screen.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from migrator.errors import CommandTimeout, ExecutorError, OutcomeUnknown, TaskFailed
from migrator.executors.base import ActionOutcome, CommandResult, StepContext
from migrator.executors.command import render
from migrator.plan.durations import format_duration
from migrator.secrets import Redactor, resolve

if TYPE_CHECKING:
    from migrator.checks.base import CheckResult
    from migrator.executors.base import Transport
    from migrator.executors.proxmox import ProxmoxClient
    from migrator.plan.checks import Command
    from migrator.plan.model import ProxmoxCall, Step

DEFAULT_WAIT_TIMEOUT = 600
"""A wait step without ``timeout`` gives up after 10 minutes."""
DEFAULT_TASK_TIMEOUT = 1800
"""A Proxmox task without a step ``timeout`` may run 30 minutes."""
STDOUT_KEPT = 64 * 1024
"""Characters of stdout kept in the outcome (the tail): enough to diagnose, small enough to store."""
CANCEL_POLL = 0.2
"""Seconds between two looks at ``ctx.cancel`` while a wait step sleeps."""

def render_value(value: Any, ctx: StepContext, *, where: str) -> Any:
    """Replace output references in every string of ``value`` (Proxmox call paths and params)."""
    if isinstance(value, str):
        rendered = render(value, ctx.outputs, {}, where=where)
        assert not rendered.env and isinstance(rendered.command, str)
        return rendered.command
    if isinstance(value, dict):
        return {k: render_value(v, ctx, where=where) for k, v in value.items()}
    if isinstance(value, list):
        return [render_value(v, ctx, where=where) for v in value]
    return value


def resolve_secrets(step: Step, redactor: Redactor) -> tuple[dict[str, str], str | None]:
    """``(env, stdin)`` for the step: each reference resolved and registered with the redactor.

    The ``stdin_secret`` goes on stdin only (with a final newline, as ``read`` expects), not
    also in the environment, where other processes of the same user could read it.
    """
    where = f"step {step.id}"
    env: dict[str, str] = {}
    stdin: str | None = None
    for name, reference in step.secrets.items():
        value = resolve(reference, redactor=redactor, where=where)
        if name == step.stdin_secret:
            stdin = value + "\n"
        else:
            env[name] = value
    if step.stdin_secret and stdin is None:
        raise ExecutorError(
            f"stdin_secret names '{step.stdin_secret}', which is not in the step's secrets",
            where=where,
            hint="declare it under secrets:",
        )
    return env, stdin


# --------------------------------------------------------------------------- outputs


def extract_outputs(step: Step, stdout: str) -> tuple[dict[str, str], set[str], list[str]]:
    """``(values, secret names, missing names)`` of the step's declared outputs in ``stdout``.

    With a regex, group 1 (or the whole match when it has no group) is the value; without
    one, the whole stdout, stripped.
    """
    values: dict[str, str] = {}
    secret: set[str] = set()
    missing: list[str] = []
    for name, spec in step.outputs.items():
        if spec.regex is None:
            value: str | None = stdout.strip() or None
        else:
            try:
                match = re.search(spec.regex, stdout, re.MULTILINE)
            except re.error as exc:
                raise ExecutorError(
                    f"output '{name}' has an invalid regex: {exc}", where=f"step {step.id}"
                ) from exc
            value = None if match is None else (match.group(1) if match.re.groups else match.group(0))
        if value is None:
            missing.append(name)
            continue
        values[name] = value
        if spec.secret:
            secret.add(name)
    return values, secret, missing


def _tail(text: str) -> str:
    if len(text) <= STDOUT_KEPT:
        return text
    dropped = len(text) - STDOUT_KEPT
    return f"[... {dropped} earlier characters dropped]\n" + text[-STDOUT_KEPT:]


def _with_outputs(step: Step, outcome: ActionOutcome, text: str, redactor: Redactor) -> ActionOutcome:
    """Add the declared outputs found in ``text`` to a successful ``outcome``."""
    if not outcome.ok or not step.outputs:
        return outcome
    values, secret, missing = extract_outputs(step, text)
    for name in secret:
        redactor.add(values[name])
    outcome.values = values
    outcome.secret_values = secret
    outcome.stdout = redactor(outcome.stdout)
    if missing:
        outcome.ok = False
        outcome.summary = f"{outcome.summary}; output {', '.join(missing)} not found in stdout"
    return outcome


# --------------------------------------------------------------------------- ssh / local


class _Lines:
    """Passes a command's lines on as they come (the engine's output recorder redacts them, and
    holds them back while a secret output is not known yet: the one place for both) and keeps
    them for the outcome's stdout."""

    def __init__(self, ctx: StepContext) -> None:
        self._ctx = ctx
        self.lines: list[tuple[str, str]] = []

    def __call__(self, stream: str, line: str) -> None:
        self.lines.append((stream, line))
        self._ctx.on_line(stream, line)

    def stdout(self) -> str:
        return "\n".join(line for stream, line in self.lines if stream == "stdout")


def run_command_step(
    step: Step,
    ctx: StepContext,
    transport: Transport,
    redactor: Redactor,
    *,
    command: Command,
    env: Mapping[str, str],
    stdin: str | None,
) -> ActionOutcome:
    """Run the (already rendered) ``command`` of a ssh or local step once."""
    lines = _Lines(ctx)
    try:
        result = transport.run(
            command,
            env=dict(env),
            stdin=stdin,
            timeout=float(step.timeout) if step.timeout else None,
            sudo=step.sudo,
            on_line=lines,
        )
    except CommandTimeout as exc:
        return ActionOutcome(
            ok=False,
            summary=f"stopped after its timeout of {format_duration(step.timeout)}: {redactor(exc.message)}",
            exit_code=None,
            stdout=_tail(redactor(lines.stdout())),
        )
    except OutcomeUnknown as exc:
        return ActionOutcome.unknown_outcome(redactor(str(exc)), stdout=_tail(redactor(lines.stdout())))
    stdout = result.stdout if result.stdout else lines.stdout()
    outcome = ActionOutcome(
        ok=result.ok,
        summary=_command_summary(result, redactor),
        exit_code=result.exit_code,
        stdout=_tail(redactor(stdout)),
    )
    return _with_outputs(step, outcome, stdout, redactor)


def _command_summary(result: CommandResult, redactor: Redactor) -> str:
    took = f"in {result.duration:.1f}s"
    if result.exit_code is None:
        return f"killed by a signal {took}"
    if result.ok:
        return f"exit 0 {took}"
    last = next((line for line in reversed(result.stderr.splitlines()) if line.strip()), "")
    detail = f": {redactor(last.strip())}" if last else ""
    return f"exit {result.exit_code} {took}{detail}"


# --------------------------------------------------------------------------- proxmox


def run_proxmox_step(
    step: Step, ctx: StepContext, client: ProxmoxClient, call: ProxmoxCall, redactor: Redactor
) -> ActionOutcome:
    """Make the (already rendered) API call once; wait for its task when it starts one."""
    shown: list[str] = []

    def on_log(line: str) -> None:
        shown.append(line)
        ctx.on_line("stdout", line)  # the engine's output recorder redacts (once)

    timeout = float(step.timeout or DEFAULT_TASK_TIMEOUT)
    try:
        result = client.run_call(call, timeout=timeout, on_log=on_log, cancel=ctx.cancel)
    except TaskFailed as exc:
        return ActionOutcome(
            ok=False,
            summary=f"{call.method} {call.path}: {redactor(exc.message)}",
            stdout=_tail("\n".join(shown)),
        )
    text = "" if result.data is None else json.dumps(result.data, sort_keys=True, default=str)
    log_lines = result.log_lines or shown
    stdout = "\n".join([text, *log_lines]) if text else "\n".join(log_lines)
    ok = result.exitstatus in (None, "OK")
    if result.upid and result.exitstatus:
        summary = f"{call.method} {call.path}: task {result.upid} ended {result.exitstatus}"
    elif result.upid:
        summary = f"{call.method} {call.path}: task {result.upid} started (not waited for)"
    else:
        summary = f"{call.method} {call.path}: done"
    outcome = ActionOutcome(ok=ok, summary=redactor(summary), stdout=_tail(redactor(stdout)))
    return _with_outputs(step, outcome, stdout, redactor)


# --------------------------------------------------------------------------- wait


def run_wait_step(
    step: Step,
    ctx: StepContext,
    probe: Callable[[], CheckResult],
    *,
    describe_until: str,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> ActionOutcome:
    """Probe ``step.until`` every ``step.interval`` until it passes or ``step.timeout`` expires."""
    limit = step.timeout or DEFAULT_WAIT_TIMEOUT
    deadline = clock() + limit
    probes = 0
    while True:
        if ctx.cancel():
            return ActionOutcome(ok=False, summary=f"cancelled while waiting for {describe_until}")
        result = probe()
        probes += 1
        # Waiting goes on while the check does not hold or cannot tell (a host rebooting).
        said = "passed" if result.passed else "cannot tell" if result.unknown else "not yet"
        seen = result.message if result.unknown else result.observed
        ctx.on_line("stdout", f"probe {probes}: {said} ({seen})")
        if result.passed:
            return ActionOutcome(ok=True, summary=f"{describe_until}: passed after {probes} probe(s)")
        remaining = deadline - clock()
        if remaining <= 0:
            return ActionOutcome(
                ok=False,
                summary=f"gave up after {format_duration(limit)}: {describe_until} still fails "
                f"({result.observed})",
            )
        pause = min(float(step.interval), remaining)
        until = clock() + pause
        while (left := until - clock()) > 0:
            if ctx.cancel():
                break
            sleep(min(CANCEL_POLL, left))
