"""A detached step's attempt: start its job on the host (exactly once), follow it, stop it.

The job protocol is :mod:`migrator.executors.detached`; this module drives it over a
:class:`~migrator.executors.base.Transport`, one short command per poll, so nothing on the
host depends on the SSH session staying up:

* **Start or reattach.** The start snippet launches the job unless its lock exists; the same
  call after a crash of migrator (a resume, same attempt, same name) finds it and launches
  nothing. So: finished -> its real exit status and output; running -> followed; never
  started -> started. No operator decision.
* **Follow.** Each poll returns the job's state and the output written since the last one.
  Lines ended by ``\\r`` (progress redraws) feed the progress parser only; ``\\n`` lines are
  output like a foreground command's.
* **Lost connection.** A poll that fails, or has no answer in :data:`POLL_TIMEOUT` (a network cut
  drops packets silently), reconnects with backoff (1, 2, 4 ... 30 s) and says "reconnecting";
  the step stays running. After :attr:`FollowSettings.give_up` seconds without the host (the
  step's ``reconnect_for``, default 1 h), :class:`JobLost` is raised: the job may still run, the
  step is left running and a resume reattaches.
* **Stop.** An abort (``ctx.cancel``) or the step timeout stops the job on the host
  (``systemctl stop`` / TERM then KILL of its process group) and says so.
"""

from __future__ import annotations

import codecs
import contextlib
import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from migrator.errors import CommandTimeout, ConnectError, JobLost
from migrator.executors.base import ActionOutcome, StepContext
from migrator.executors.detached import (
    BEGIN_OUTPUT,
    CHUNK,
    JobState,
    JobStatus,
    cancel_script,
    job_name,
    parse_poll,
    poll_script,
    start_script,
)
from migrator.executors.progress import ProgressParser, parser_for
from migrator.executors.steps import STDOUT_KEPT, _with_outputs
from migrator.plan.durations import format_duration
from migrator.secrets import Redactor

if TYPE_CHECKING:
    from migrator.executors.base import Transport
    from migrator.plan.model import Step

PREFIX = "[migrator]"
FIRST_POLL = 0.05
CALL_TIMEOUT = 60.0
"""One start or stop call; a host that does not answer in this long counts as lost."""
POLL_TIMEOUT = 5.0
"""One poll, or five poll intervals if that is longer. A poll reads a few bytes of status and
the output since the last one: a host that is slow but there answers it in well under a second,
so no answer in this long is a lost connection (said at once, while the job goes on)."""


@dataclass
class FollowSettings:
    poll: float = 1.0
    backoff: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0, 15.0, 30.0)
    give_up: float = 3600.0
    """Seconds without the host before the run stops (the job goes on; resume reattaches); a
    step's ``reconnect_for`` sets it."""
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep


def follow_settings(base: FollowSettings | None, step: Step) -> FollowSettings:
    """``base`` (None: the defaults) with the step's own ``reconnect_for``, if it has one."""
    settings = base or FollowSettings()
    if step.reconnect_for is None:
        return settings
    return dataclasses.replace(settings, give_up=float(step.reconnect_for))


class _Output:
    """The job's output: decoded incrementally, split into lines, shown (the engine's recorder
    redacts them), kept (tail)."""

    def __init__(self, ctx: StepContext, redactor: Redactor, parser: ProgressParser | None) -> None:
        self._ctx, self._redact, self._parser = ctx, redactor, parser
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._pending = ""
        self.kept: list[str] = []
        self._kept_chars = 0

    def feed(self, data: bytes, *, final: bool = False) -> None:
        text = self._pending + self._decoder.decode(data, final=final)
        *complete, self._pending = text.split("\n")
        if final and self._pending:
            complete.append(self._pending)
            self._pending = ""
        for segment in complete:
            *redraws, shown = segment.split("\r")
            for piece in redraws:
                self._progress(piece)
            self._progress(shown)
            self._line(shown)
        # an unfinished \r-redraw is progress too (rsync redraws its line without a newline)
        if "\r" in self._pending:
            *redraws, self._pending = self._pending.split("\r")
            for piece in redraws:
                self._progress(piece)

    def _progress(self, line: str) -> None:
        if self._parser is not None and line.strip():
            found = self._parser.feed(line)
            if found is not None:
                self._ctx.on_progress(found)

    def _line(self, line: str) -> None:
        self._ctx.on_line("stdout", line)  # the engine's output recorder redacts (once)
        self.kept.append(line)
        self._kept_chars += len(line) + 1
        while self._kept_chars > STDOUT_KEPT and len(self.kept) > 1:
            self._kept_chars -= len(self.kept.pop(0)) + 1

    def stdout(self) -> str:
        return "\n".join(self.kept)


class DetachedJob:
    """One attempt's job on one target."""

    def __init__(
        self,
        step: Step,
        ctx: StepContext,
        transport: Callable[[], Transport],
        reconnect: Callable[[], None],
        redactor: Redactor,
        *,
        command: str,
        jobs_dir: str,
        settings: FollowSettings | None = None,
    ) -> None:
        self.step, self.ctx, self._transport, self._reconnect = step, ctx, transport, reconnect
        self.redact, self.command, self.dir = redactor, command, jobs_dir
        self.settings = settings or FollowSettings()
        self.name = job_name(ctx.plan, ctx.run_id, step.id, ctx.attempt)

    # -- the attempt ----------------------------------------------------------------------

    def run(self) -> ActionOutcome:
        step, s = self.step, self.settings
        out = _Output(self.ctx, self.redact, parser_for(step.progress, self.command))
        reply = self._call(start_script(self.dir, self.name, self.command, _timeout(step)), "start")
        if "job=exists" in reply:
            self._say(f"job {self.name} already exists on {step.host}: reattaching")
        elif "job=started" in reply:
            mode = (
                reply.split("job=started", 1)[1].split()[0]
                if reply.split("job=started", 1)[1].split()
                else "?"
            )
            self._say(
                f"job {self.name} started on {step.host} ({mode}); output in {self.dir}/{self.name}.out"
            )
        else:
            return ActionOutcome(ok=False, summary=f"job {self.name} did not start: {reply.strip()[-300:]}")
        started = s.clock()
        offset = polls = 0
        while True:
            if self.ctx.cancel():
                return self._stop(out, "cancelled by the operator (abort)")
            if step.timeout and s.clock() - started > step.timeout + 30:
                # The host's own limit (RuntimeMaxSec / the watchdog) should have fired; enforce it.
                return self._stop(out, f"stopped after its timeout of {format_duration(step.timeout)}")
            status = parse_poll(self._call(poll_script(self.dir, self.name, offset), "poll"))
            out.feed(status.output)
            offset += len(status.output)
            if status.state is JobState.RUNNING:
                if status.size <= offset or len(status.output) < CHUNK:
                    # Short jobs end within the first polls: start at 50 ms, double up to s.poll.
                    s.sleep(min(s.poll, FIRST_POLL * 2**polls))
                    polls += 1
                continue
            if status.size > offset:  # finished: read the rest of its output first
                continue
            out.feed(b"", final=True)
            return self._outcome(status, out)

    def _outcome(self, status: JobStatus, out: _Output) -> ActionOutcome:
        stdout = out.stdout()
        if status.state is JobState.ABSENT:
            return ActionOutcome(
                ok=False,
                summary=f"job {self.name} is gone from {self.dir} on {self.step.host} (removed by hand?)",
            )
        if status.state is JobState.STOPPED:
            outcome = ActionOutcome(
                ok=False,
                summary=f"job {self.name} ended without an exit status: {self.redact(status.detail)}",
                stdout=self.redact(stdout),
            )
            return outcome
        code = status.exit_code
        last = next((line for line in reversed(out.kept) if line.strip()), "")
        summary = f"exit {code} (detached job {self.name}, {status.mode})"
        if code != 0 and last:
            summary += f": {self.redact(last.strip())[:200]}"
        outcome = ActionOutcome(ok=code == 0, summary=summary, exit_code=code, stdout=self.redact(stdout))
        return _with_outputs(self.step, outcome, stdout, self.redact)

    def _stop(self, out: _Output, why: str) -> ActionOutcome:
        how = self.cancel(why)
        status = parse_poll(self._call(poll_script(self.dir, self.name, 0), "poll"))
        summary = f"{why}: job {self.name} stopped on {self.step.host} ({how})"
        if status.state is JobState.FINISHED:
            summary = f"{why}; job {self.name} had already ended with exit {status.exit_code}"
        return ActionOutcome(
            ok=False, summary=summary, exit_code=status.exit_code, stdout=self.redact(out.stdout())
        )

    def cancel(self, why: str) -> str:
        """Stop the job on the host; what was done (``systemctl-stop``, ``kill-TERM-group``...)."""
        reply = self._call(cancel_script(self.dir, self.name, why), "stop")
        how = next((ln.split("=", 1)[1] for ln in reply.splitlines() if ln.startswith("stopped=")), "?")
        if how in ("already-ended", "absent"):
            self._say(f"job {self.name}: {why}; it had already ended on {self.step.host}")
        else:
            self._say(f"job {self.name}: {why}; stopped on {self.step.host}: {how}")
        return how

    # -- plumbing -------------------------------------------------------------------------

    def _say(self, text: str) -> None:
        self.ctx.on_line("stdout", f"{PREFIX} {text}")

    def _call(self, script: str, what: str) -> str:
        """Run one snippet; on a lost connection reconnect with backoff until the host answers
        or :attr:`FollowSettings.give_up` passes (then :class:`JobLost`)."""
        s = self.settings
        timeout = max(POLL_TIMEOUT, 5 * s.poll) if what == "poll" else CALL_TIMEOUT
        lost_at: float | None = None
        tries = 0
        while True:
            try:
                result = self._transport().run(script, timeout=timeout, sudo=self.step.sudo)
                if result.exit_code is None or (what == "poll" and BEGIN_OUTPUT not in result.stdout
                                                and "state=absent" not in result.stdout):  # fmt: skip
                    # The session died under the call (sshd killed, connection cut): no answer.
                    raise ConnectError(
                        "the call ended without an answer (connection lost)", where=self.step.host
                    )
            except (ConnectError, CommandTimeout) as exc:
                now = s.clock()
                lost_at = now if lost_at is None else lost_at
                if now - lost_at >= s.give_up:
                    raise JobLost(
                        f"lost {self.step.host} for {format_duration(int(now - lost_at))} while following "
                        f"job {self.name}: {self.redact(exc.message)}",
                        where=f"step {self.step.id} on {self.step.host}",
                        hint="the job may still be running there; `migrator resume` reattaches to it",
                    ) from exc
                pause = s.backoff[min(tries, len(s.backoff) - 1)]
                tries += 1
                self._say(f"connection to {self.step.host} lost ({self.redact(exc.message)}); "
                          f"reconnecting in {pause:g}s (try {tries})")  # fmt: skip
                s.sleep(pause)
                with contextlib.suppress(ConnectError):
                    self._reconnect()
                continue
            if tries:
                self._say(f"reconnected to {self.step.host} after {tries} tries")
            if result.exit_code not in (0, None) and what != "start":
                raise ConnectError(
                    f"the job's {what} command failed on {self.step.host}: exit {result.exit_code} "
                    f"{self.redact(result.stderr.strip())[-300:]}",
                    where=f"step {self.step.id}",
                )
            if what == "start" and result.exit_code not in (0,):
                return f"exit {result.exit_code}: {result.stdout} {result.stderr}"
            return result.stdout


def _timeout(step: Step) -> int | None:
    return int(step.timeout) if step.timeout else None
