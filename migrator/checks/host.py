"""Checks on one host's processes and files: command, systemd_active, file."""

from __future__ import annotations

import re
import shlex

from migrator.checks.base import (
    CheckResult,
    CommandProbe,
    ProbeOutput,
    UnreadableOutput,
    check_ran,
    first_line,
    sh,
    shorten,
)
from migrator.plan.checks import CommandCheck, FileCheck, SystemdCheck

# --- command ---------------------------------------------------------------------------


def probe_command(check: CommandCheck) -> CommandProbe:
    return CommandProbe(check.command)


def describe_command(check: CommandCheck) -> str:
    text = check.command if isinstance(check.command, str) else shlex.join(check.command)
    return shorten(f"`{text}` exits {check.exit_code}", 100)


def _command_expected(check: CommandCheck) -> str:
    parts = [f"exit {check.exit_code}"]
    if check.stdout_contains is not None:
        parts.append(f"stdout contains {check.stdout_contains!r}")
    if check.stdout_matches is not None:
        parts.append(f"stdout matches /{check.stdout_matches}/")
    if check.stdout_lacks is not None:
        parts.append(f"stdout lacks {check.stdout_lacks!r}")
    return shorten(", ".join(parts))


def command_answers(check: CommandCheck) -> set[int]:
    """The exit statuses that answer ``check``: its ``answers``, else 0, 1 and ``exit_code``."""
    return set(check.answers) if check.answers else {0, 1, check.exit_code}


def evaluate_command(check: CommandCheck, output: ProbeOutput) -> CheckResult:
    """Exits in :func:`command_answers` are answers; 126/127, a "not found" program (also one
    inside a pipeline), a killed command and any other exit cannot tell."""
    expected = _command_expected(check)
    if output.exit_code is None:
        raise UnreadableOutput("the command was killed before it finished", expected=expected)
    text = check.command if isinstance(check.command, str) else shlex.join(check.command)
    check_ran(output, shorten(text, 60), expected=expected)
    answers = command_answers(check)
    if output.exit_code not in answers:
        detail = first_line(output.stderr)
        raise UnreadableOutput(
            f"exit {output.exit_code} is not an answer (answers: {', '.join(map(str, sorted(answers)))})"
            + (f": {shorten(detail, 100)}" if detail else ""),
            expected=expected,
        )
    problems: list[str] = []
    if output.exit_code != check.exit_code:
        problems.append(f"exit {output.exit_code}, expected {check.exit_code}")
    stdout = output.stdout
    if check.stdout_contains is not None and check.stdout_contains not in stdout:
        problems.append(f"stdout lacks {check.stdout_contains!r}")
    if check.stdout_matches is not None:
        try:
            if re.search(check.stdout_matches, stdout, re.MULTILINE) is None:
                problems.append(f"stdout does not match /{check.stdout_matches}/")
        except re.error as e:
            raise UnreadableOutput(
                f"stdout_matches /{check.stdout_matches}/ is not a valid regular expression ({e})",
                expected=expected,
            ) from e
    if check.stdout_lacks is not None and check.stdout_lacks in stdout:
        problems.append(f"stdout contains {check.stdout_lacks!r}")

    observed = f"exit {output.exit_code}"
    if first_line(stdout):
        observed += f", stdout {shorten(first_line(stdout), 80)!r}"
    if not problems:
        return CheckResult(True, shorten(observed), expected, "ok: " + shorten(observed))
    message = "; ".join(problems)
    if output.exit_code != check.exit_code and first_line(output.stderr):
        message += f" (stderr: {shorten(first_line(output.stderr), 100)})"
    return CheckResult(False, shorten(observed), expected, message)


# --- systemd_active ----------------------------------------------------------------------

# Every ActiveState systemd 252 (Debian 12, PVE 8) prints for `systemctl is-active`.
_UNIT_STATES = {
    "active",
    "inactive",
    "failed",
    "activating",
    "deactivating",
    "reloading",
    "refreshing",
    "maintenance",
}
_EXIT_NO_SUCH_UNIT = 4  # systemctl: "program or service status is unknown"


def probe_systemd(check: SystemdCheck) -> CommandProbe:
    # `--` so that a unit name can never be read as an option.
    return CommandProbe(sh("systemctl", "is-active", "--", check.unit))


def describe_systemd(check: SystemdCheck) -> str:
    return f"unit {check.unit} is {check.state}"


def evaluate_systemd(check: SystemdCheck, output: ProbeOutput) -> CheckResult:
    expected = check.state
    check_ran(output, "systemctl", expected=expected)
    state = first_line(output.stdout)
    if state not in _UNIT_STATES:
        detail = first_line(output.stderr) or repr(shorten(state, 60))
        raise UnreadableOutput(f"`systemctl is-active` gave no unit state ({detail})", expected=expected)
    observed = state
    if output.exit_code == _EXIT_NO_SUCH_UNIT:
        observed = f"{state} (no such unit)"
    passed = state == check.state
    message = f"{check.unit} is {observed}" + ("" if passed else f", expected {check.state}")
    return CheckResult(passed, observed, expected, message)


# --- file --------------------------------------------------------------------------------

_STAT = re.compile(r"^([0-7]{1,4}) (\S+) (\S+)$")
_CONTAINS = re.compile(r"^contains=(\d+)$")


def probe_file(check: FileCheck) -> CommandProbe:
    command = sh("stat", "-c", "%a %U %G", "--", check.path)
    if check.contains is not None:
        # grep -q prints nothing: the file's content never reaches the output or the logs.
        grep = sh("grep", "-qF", "-e", check.contains, "--", check.path)
        command += f' && {{ {grep}; echo "contains=$?"; }}'
    return CommandProbe(command)


def describe_file(check: FileCheck) -> str:
    if not check.exists:
        return f"{check.path} does not exist"
    return f"{check.path} is {_file_expected(check)}"


def _file_expected(check: FileCheck) -> str:
    if not check.exists:
        return "absent"
    parts = []
    if check.mode is not None:
        parts.append(f"mode {int(check.mode, 8):04o}")
    if check.owner is not None or check.group is not None:
        parts.append(f"owner {check.owner or '*'}:{check.group or '*'}")
    if check.contains is not None:
        parts.append("contains the expected text")
    return ", ".join(parts) or "present"


def evaluate_file(check: FileCheck, output: ProbeOutput) -> CheckResult:
    expected = _file_expected(check)
    check_ran(output, "stat", expected=expected)
    if output.exit_code != 0 and not output.stdout.strip():
        error = first_line(output.stderr)
        if "No such file or directory" in error:
            message = f"{check.path} does not exist"
            return CheckResult(not check.exists, "absent", expected, message)
        # Permission denied, not a directory...: stat did not see the file, so it says
        # nothing about its existence, mode or owner.
        reason = error.rsplit(": ", 1)[-1] if error else f"exit {output.exit_code}"
        raise UnreadableOutput(f"`stat` could not look at {check.path} ({reason})", expected=expected)

    lines = [line.strip() for line in output.stdout.splitlines() if line.strip()]
    match = _STAT.match(lines[0]) if lines else None
    if match is None:
        raise UnreadableOutput("`stat` did not print 'mode owner group'", expected=expected)
    mode, owner, group = match.groups()
    observed = f"mode {int(mode, 8):04o}, owner {owner}:{group}"
    if not check.exists:
        return CheckResult(False, observed, expected, f"{check.path} exists ({observed})")

    problems = []
    if check.mode is not None and int(mode, 8) != int(check.mode, 8):
        problems.append(f"mode {int(mode, 8):04o}, expected {int(check.mode, 8):04o}")
    if check.owner is not None and owner != check.owner:
        problems.append(f"owner {owner}, expected {check.owner}")
    if check.group is not None and group != check.group:
        problems.append(f"group {group}, expected {check.group}")
    if check.contains is not None:
        found = _CONTAINS.match(lines[1]) if len(lines) > 1 else None
        if found is None:
            raise UnreadableOutput("the grep result is missing", expected=expected)
        code = int(found.group(1))
        if code == 0:
            observed += ", contains the expected text"
        elif code == 1:
            observed += ", lacks the expected text"
            problems.append(f"it lacks the expected text {check.contains!r}")
        else:
            raise UnreadableOutput(f"grep could not read {check.path} (exit {code})", expected=expected)
    if problems:
        return CheckResult(False, observed, expected, f"{check.path}: " + "; ".join(problems))
    return CheckResult(True, observed, expected, f"{check.path}: {observed}")
