"""The detached-job protocol: a step's action as a job on the host that outlives the SSH session.

A job is a set of files in the host's jobs directory (``/var/lib/migrator/jobs`` unless the
host's inventory var ``migrator_jobs_dir`` says otherwise), all named after the job:

=================  ===========================================================================
``J.lock``         created with ``set -C`` (O_EXCL) by the one start that may launch it: a
                   second start of the same name (a resume, a repeated request) finds it and
                   launches nothing - the start is exactly-once on the host's side.
``J.sh``           the step's command, as written in the plan (rendered).
``J.run``          the wrapper: records its pid (= process group and session), runs ``J.sh``
                   with output appended to ``J.out``, then writes the exit status to ``J.rc``
                   (write-then-rename, so a reader sees all of it or nothing).
``J.mode``         ``systemd`` (a transient unit ``J.service`` started by ``systemd-run``) or
                   ``setsid`` (a new session, no controlling terminal, stdin from /dev/null).
``J.end``          systemd only: ``SERVICE_RESULT EXIT_CODE EXIT_STATUS`` from ``ExecStopPost``,
                   so a unit killed by ``RuntimeMaxSec`` is told apart after ``--collect``.
``J.stopped``      written by whoever stops the job (migrator's cancel, the setsid watchdog on
                   timeout) before stopping it: why it ended without an exit status.
=================  ===========================================================================

This module holds the shell snippets (start, poll, cancel) and the pure parsing of what the
poll prints; :mod:`migrator.executors.detached_step` runs them over a transport. Every snippet
is plain POSIX sh with coreutils, run by the transport like any command.
"""

from __future__ import annotations

import base64
import re
import shlex
from dataclasses import dataclass
from enum import StrEnum

JOBS_DIR = "/var/lib/migrator/jobs"
JOBS_DIR_VAR = "migrator_jobs_dir"
"""Inventory host var overriding :data:`JOBS_DIR` (tests on a shared machine, odd hosts)."""
CHUNK = 64 * 1024
"""Bytes of new output one poll reads at most."""
KILL_GRACE = 5
"""Seconds between SIGTERM and SIGKILL when a setsid job is stopped."""
BEGIN_OUTPUT = "--migrator-job-output--"

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def job_name(plan: str, run_id: int, step_id: str, attempt: int) -> str:
    """The job's name on the host, from plan, run, step and attempt: the same inputs always give
    the same name, so a resume finds the job a crashed migrator started. Also a valid systemd
    unit name prefix (letters, digits, ``_.-``)."""
    name = f"migrator-{plan}-r{run_id}-{step_id}-a{attempt}"
    return _UNSAFE.sub("_", name)[:200]


def _q(text: str) -> str:
    return shlex.quote(text)


def wrapper_script(directory: str, name: str) -> str:
    """``J.run``: the job itself. Its pid is the process group of everything the command
    starts (setsid/systemd make it a session leader), which is what a stop kills."""
    base = f"{directory}/{name}"
    return (
        f"echo $$ > {_q(base + '.pid')}\n"
        f"sh {_q(base + '.sh')} >> {_q(base + '.out')} 2>&1 < /dev/null\n"
        "rc=$?\n"
        f"printf '%s\\n' \"$rc\" > {_q(base + '.rc.tmp')} && mv {_q(base + '.rc.tmp')} {_q(base + '.rc')}\n"
        # the watchdog is a session of its own: kill its group, its sleep too
        f'[ -s {_q(base + ".wpid")} ] && kill -TERM -"$(cat {_q(base + ".wpid")})" 2>/dev/null\n'
        'exit "$rc"\n'
    )


def start_script(directory: str, name: str, command: str, timeout: int | None) -> str:
    """Start the job unless it exists: prints ``job=started MODE`` or ``job=exists``.

    ``trap '' HUP PIPE``: the start finishes even when the SSH session dies half-way. The
    command goes into ``J.sh`` through a quoted here-document, so its text is not expanded.
    """
    d, j = _q(directory), _q(name)
    base = f"{directory}/{name}"
    eof = "MIGRATOR_JOB_EOF"
    while eof in command:
        eof += "_"
    runtime = f" -p RuntimeMaxSec={int(timeout)}" if timeout else ""
    stop_post = f"ExecStopPost=/bin/sh -c 'echo $$SERVICE_RESULT $$EXIT_CODE $$EXIT_STATUS > {base}.end'"
    watchdog = ""
    if timeout:
        # setsid has no RuntimeMaxSec: a watchdog in its own session stops the group on time.
        watchdog = (
            f"  setsid sh -c 'sleep {int(timeout)}; [ -e {base}.rc ] && exit 0; "
            f'echo "timeout after {int(timeout)}s" > {base}.stopped; '
            f"kill -TERM -$(cat {base}.pid) 2>/dev/null; sleep {KILL_GRACE}; "
            f"kill -KILL -$(cat {base}.pid) 2>/dev/null' < /dev/null > /dev/null 2>&1 &\n"
            f"  echo $! > {_q(base + '.wpid')}\n"
        )
    return (
        "trap '' HUP PIPE\n"
        "umask 077\n"
        f"mkdir -p {d} || exit 90\n"
        f"cd {d} || exit 90\n"
        f"if ! (set -C; : > {j}.lock) 2>/dev/null; then echo job=exists; exit 0; fi\n"
        f"cat > {j}.sh <<'{eof}'\n{command}\n{eof}\n"
        f"cat > {j}.run <<'{eof}'\n{wrapper_script(directory, name)}{eof}\n"
        ": > " + f"{j}.out\n"
        "if [ -d /run/systemd/system ] && command -v systemd-run > /dev/null 2>&1; then\n"
        f"  echo systemd > {j}.mode\n"
        f"  systemd-run --unit={j} --collect --quiet{runtime} -p {_q(stop_post)} /bin/sh {_q(base + '.run')}"
        ' || { rc=$?; echo "systemd-run failed: exit $rc" > ' + f"{j}.stopped; exit 91; }}\n"
        "  echo job=started systemd\n"
        "else\n"
        f"  echo setsid > {j}.mode\n"
        f"  setsid sh {_q(base + '.run')} < /dev/null > /dev/null 2>&1 &\n"
        f"{watchdog}"
        "  echo job=started setsid\n"
        "fi\n"
    )


def poll_script(directory: str, name: str, offset: int) -> str:
    """What is known of the job, as ``key=value`` lines, then up to :data:`CHUNK` bytes of its
    output from ``offset`` (base64, so carriage returns and odd bytes survive).

    Liveness is read *before* the exit status: a job seen gone was done writing ``J.rc``
    (the wrapper writes it before it exits), so "gone and no rc" really means killed.
    """
    d, j = _q(directory), _q(name)
    return (
        ALIVE_FUNCTIONS + f"cd {d} 2>/dev/null || {{ echo state=absent; exit 0; }}\n"
        f"[ -e {j}.lock ] || {{ echo state=absent; exit 0; }}\n"
        f"m=$(cat {j}.mode 2>/dev/null); echo mode=$m\n"
        f"if [ -s {j}.pid ]; then p=$(cat {j}.pid); echo pid=$p; "
        'alive "$p" && echo alive=1; fi\n'
        'if [ "$m" = systemd ]; then\n'
        f"  systemctl show -p ActiveState -p SubState -p Result -p MainPID {j}.service 2>/dev/null"
        " | sed 's/^/unit./'\n"
        "fi\n"
        f"[ -e {j}.rc ] && echo rc=$(cat {j}.rc)\n"
        f"[ -e {j}.end ] && echo end=$(cat {j}.end)\n"
        f"[ -e {j}.stopped ] && echo stopped=$(head -c 300 {j}.stopped | tr '\\n' ' ')\n"
        f"echo size=$(wc -c < {j}.out 2>/dev/null || echo 0)\n"
        f"echo {BEGIN_OUTPUT}\n"
        f"tail -c +{int(offset) + 1} {j}.out 2>/dev/null | head -c {CHUNK} | base64 -w 0\n"
        "echo\n"
    )


# Liveness that does not count zombies: a job whose parent is gone is reparented to PID 1,
# and a PID 1 that does not reap (a container's init, a lab namespace) leaves it a zombie, to
# which `kill -0` still answers.
ALIVE_FUNCTIONS = r"""alive() {
  kill -0 "$1" 2>/dev/null || return 1
  [ "$(sed 's/.*) //' /proc/$1/stat 2>/dev/null | cut -c1)" != Z ]
}
group_alive() {
  g=$1
  for f in /proc/[0-9]*/stat; do
    s=$(sed 's/.*) //' "$f" 2>/dev/null) || continue
    set -- $s
    [ "$3" = "$g" ] && [ "$1" != Z ] && return 0
  done
  return 1
}
"""


def cancel_script(directory: str, name: str, reason: str) -> str:
    """Stop the job on the host: ``systemctl stop`` of its unit, or TERM then KILL of its
    process group. Writes ``J.stopped`` first; prints ``stopped=...`` saying what it did."""
    d, j = _q(directory), _q(name)
    why = _q(reason.replace("\n", " ")[:200])
    return (
        ALIVE_FUNCTIONS + f"cd {d} 2>/dev/null || {{ echo stopped=absent; exit 0; }}\n"
        f"[ -e {j}.rc ] && {{ echo stopped=already-ended; exit 0; }}\n"
        f"printf '%s\\n' {why} > {j}.stopped\n"
        f'if [ "$(cat {j}.mode 2>/dev/null)" = systemd ]; then\n'
        f"  systemctl stop {j}.service && echo stopped=systemctl-stop; exit 0\n"
        "fi\n"
        f"p=$(cat {j}.pid 2>/dev/null)\n"
        '[ -n "$p" ] || { echo stopped=no-pid; exit 0; }\n'
        'kill -TERM -"$p" 2>/dev/null || { echo stopped=not-running; exit 0; }\n'
        f'i=0; while group_alive "$p" && [ $i -lt {KILL_GRACE * 5} ]; '
        "do sleep 0.2; i=$((i+1)); done\n"
        'if group_alive "$p"; then kill -KILL -"$p" 2>/dev/null; echo stopped=kill-KILL-group; '
        "else echo stopped=kill-TERM-group; fi\n"
        f'[ -s {j}.wpid ] && kill -TERM -"$(cat {j}.wpid)" 2>/dev/null\n'
        "exit 0\n"
    )


# --------------------------------------------------------------------------- parsing


class JobState(StrEnum):
    ABSENT = "absent"
    """No such job on the host: it never started (a crash between write-ahead and start)."""
    RUNNING = "running"
    FINISHED = "finished"
    """It ended with an exit status (``exit_code``)."""
    STOPPED = "stopped"
    """It ended without one: stopped (cancel, timeout) or killed; ``detail`` says what is known."""


@dataclass(frozen=True)
class JobStatus:
    state: JobState
    mode: str = ""
    exit_code: int | None = None
    pid: int | None = None
    size: int = 0
    detail: str = ""
    output: bytes = b""
    """Output from the polled offset (at most :data:`CHUNK` bytes)."""


def parse_poll(text: str) -> JobStatus:
    """What :func:`poll_script` printed, as a :class:`JobStatus`.

    A job whose files exist but whose process is gone without an exit status is STOPPED
    (never RUNNING): a job that cannot be seen running is not reported as running. A job whose
    lock exists but which has no pid yet is RUNNING (the start is between lock and launch).
    """
    head, sep, tail = text.partition(BEGIN_OUTPUT)
    fields: dict[str, str] = {}
    for line in head.splitlines():
        key, eq, value = line.partition("=")
        if eq:
            fields[key.strip()] = value.strip()
    if fields.get("state") == "absent":
        return JobStatus(JobState.ABSENT)
    output = base64.b64decode(tail.strip()) if sep and tail.strip() else b""
    mode = fields.get("mode", "")
    pid = _int(fields.get("pid"))
    size = _int(fields.get("size")) or 0
    common = {"mode": mode, "pid": pid, "size": size, "output": output}
    rc = _int(fields.get("rc"))
    if rc is not None:
        return JobStatus(JobState.FINISHED, exit_code=rc, **common)  # type: ignore[arg-type]
    stopped = fields.get("stopped", "")
    end = fields.get("end", "")
    if not mode:  # between the lock and the launch: the start is under way
        return JobStatus(JobState.RUNNING, **common)  # type: ignore[arg-type]
    if mode == "systemd":
        if fields.get("unit.ActiveState", "") in ("active", "activating", "reloading", "deactivating"):
            return JobStatus(JobState.RUNNING, **common)  # type: ignore[arg-type]
        detail = _systemd_end(end, fields.get("unit.Result", ""))
        return JobStatus(JobState.STOPPED, detail=_join(stopped, detail), **common)  # type: ignore[arg-type]
    if fields.get("alive") == "1" or (pid is None and not stopped):
        return JobStatus(JobState.RUNNING, **common)  # type: ignore[arg-type]
    return JobStatus(
        JobState.STOPPED,
        detail=_join(stopped, "its process ended without writing an exit status (killed?)"),
        **common,  # type: ignore[arg-type]
    )


def _systemd_end(end: str, result: str) -> str:
    parts = end.split()
    service_result = parts[0] if parts else result
    if service_result == "timeout":
        return "systemd stopped the unit at its RuntimeMaxSec (Result=timeout)"
    if parts:
        return f"unit ended: Result={parts[0]}" + (f" ({' '.join(parts[1:])})" if len(parts) > 1 else "")
    return f"unit gone without an exit status (Result={result or 'unknown'})"


def _join(first: str, second: str) -> str:
    return f"{first.strip()}; {second}" if first.strip() else second


def _int(text: str | None) -> int | None:
    if text is None or not text.strip().lstrip("-").isdigit():
        return None
    return int(text.strip())
