"""Shell plumbing shared by the transports: secrets via stdin, sudo, kill scripts, line splitting.

Secrets never travel on a command line (``ps`` shows argv to every user of the machine).
:func:`env_prelude` builds a shell fragment that reads each variable from stdin, one
base64 line per variable (so values may hold newlines), and exports it; the caller writes
:func:`env_stdin` before the command's own stdin. ``printf`` is a shell builtin, so the
value reaches ``base64 -d`` through a pipe, never through argv.
"""

from __future__ import annotations

import base64
import codecs
import re
import shlex
from collections.abc import Callable, Mapping

from migrator.errors import SecretError

ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Exit code of the wrapper when stdin ended before every variable arrived.
ENV_READ_FAILED = 97


def check_env_names(env: Mapping[str, str]) -> None:
    for name in env:
        if not ENV_NAME.match(name):
            raise SecretError(
                f"environment variable name {name!r} is not a shell identifier",
                hint="use letters, digits and underscores, not starting with a digit",
            )


def env_prelude(names: list[str]) -> str:
    """Shell code that reads ``names`` from stdin (as written by :func:`env_stdin`) and exports them."""
    parts = []
    for name in names:
        # The trailing "x" keeps trailing newlines that $(...) would strip.
        parts.append(
            f"IFS= read -r {name} || exit {ENV_READ_FAILED}; "
            f'{name}=$(printf %s "${name}" | base64 -d && echo x) || exit {ENV_READ_FAILED}; '
            f'{name}="${{{name}%x}}"; export {name}; '
        )
    return "".join(parts)


def env_stdin(env: Mapping[str, str], names: list[str]) -> bytes:
    return b"".join(base64.b64encode(env[name].encode()) + b"\n" for name in names)


def inner_script(command: str, env: Mapping[str, str] | None, shell: str = "sh") -> tuple[str, bytes]:
    """``(script, stdin_prefix)``: a script that imports ``env`` from stdin, then runs ``command``.

    ``command`` runs under its own ``sh -c`` so its syntax and ``$0`` are its own.
    """
    env = env or {}
    check_env_names(env)
    if not env:
        return command, b""  # no secrets: the command itself is the script (one shell fewer)
    names = sorted(env)
    script = env_prelude(names) + f"exec {shell} -c {shlex.quote(command)}"
    return script, env_stdin(env, names)


# A word the shell takes literally: shlex.quote's own "needs no quoting" set (ASCII).
_PLAIN_WORDS = re.compile(r"[\w@%+=:,./-]+(?: +[\w@%+=:,./-]+)*", re.ASCII)
# Words that `sh -c` would not hand to execvp as a program name: dash's builtins and
# reserved words (POSIX's special and regular builtins are among them). `exec WORD` would run
# /bin/echo, /usr/bin/test... instead, which differ (echo -e), or fail (cd, exit, export).
_SH_WORDS = (
    ". : [ alias bg break cd chdir command continue echo eval exec exit export false fg getopts "
    "hash jobs kill local printf pwd read readonly return set shift test times trap true type "
    "ulimit umask unalias unset wait "
    "! { } case do done elif else esac fi for if in then until while "
    # bash's own, so that a bash habit never silently becomes an external program either
    "builtin caller declare disown enable help history let logout mapfile popd pushd "
    "readarray shopt source suspend typeset coproc function select time"
)
SH_BUILTINS = frozenset(_SH_WORDS.split(" "))
# Commands whose result is the same as a builtin and as an external program, with no
# arguments: the login shell runs them itself, with no exec at all.
SAME_EVERYWHERE = frozenset({"true", "false"})


def direct_command(command: str) -> str | None:
    """Shell text that runs ``command`` with no ``sh -c`` in between, or None when it needs one.

    Only for a plain program call: words separated by spaces, each free of anything a shell
    interprets (quotes, ``$``, globs, ``~``, redirections, ``;``, newlines...), the first not
    an assignment, an option, a path or a shell builtin/keyword. Any Bourne-family login shell
    (and csh) runs ``exec WORDS`` as ``sh -c`` runs ``WORDS``: the program found on ``$PATH``,
    those arguments, in the same process (so still the session's process group leader), the
    same exit status (127 when not found). It saves the extra ``sh``: one exec, ~0.6 ms a step.
    What still differs: the wording of the shell's own error when the program is missing, and
    a script on ``$PATH`` without ``#!`` would be read by the login shell instead of sh.
    A bare ``true``/``false`` is run by the login shell itself: no exec at all.

    Not for sudo (the caller keeps ``sudo -n -- sh -c``): sudoers may allow ``sh`` and not
    the program, or the program and not ``sh``; a step must get the same answer either way.
    """
    text = command.strip(" ")
    if not _PLAIN_WORDS.fullmatch(text):
        return None
    words = text.split()
    first = words[0]
    if len(words) == 1 and first in SAME_EVERYWHERE:
        return first
    if first in SH_BUILTINS:
        return None
    if any(word.startswith("=") for word in words):
        return None  # zsh (EQUALS) would expand =prog to prog's path; sh passes it as is
    if "=" in first or first.startswith("-") or "/" in first:
        # A path is where a script without "#!" turns up (copied there by an earlier step):
        # execve() refuses it and the shell that tried runs it itself. sh -c would run it
        # with sh; the login shell (bash on Debian) with bash. Programs found on $PATH are
        # packaged ones (Debian policy: scripts there start with "#!").
        return None
    return "exec " + shlex.join(words)


def sudo_prefix(user: str, sudo: bool) -> list[str]:
    """``sudo -n --`` when a step asks for root and the login user is not root.

    ``-n``: never prompt for a password (a prompt would hang a non-interactive channel).
    """
    if sudo and user != "root":
        return ["sudo", "-n", "--"]
    return []


def kill_group_command(pgid: int, sig: str, sudo: list[str]) -> str:
    """Signal a whole process group; ``|| true`` because the group may already be gone."""
    return shlex.join([*sudo, "kill", f"-{sig}", "--", f"-{pgid}"]) + " 2>/dev/null || true"


def kill_by_marker_script(marker: str, grace: float = 3.0) -> str:
    """Stop every process whose environment holds ``marker`` (e.g. ``MIGRATOR_RUN=<uuid>``).

    TERM them, wait up to ``grace`` seconds for them to go, KILL what is left. Used inside
    containers, where the transport cannot see the process group: every descendant of the
    command inherits the marker variable, whatever process groups it made. This script's
    own processes carry the marker only in argv, never in their environment.
    """
    find = (
        "for e in /proc/[0-9]*/environ; do "
        f"if tr '\\0' '\\n' < \"$e\" 2>/dev/null | grep -qxF {shlex.quote(marker)}; then "
        'p=${e#/proc/}; echo "${p%/environ}"; fi; done'
    )
    return (
        f"pids() {{ {find}; }}; kill -TERM $(pids) 2>/dev/null; "
        f"n={max(1, int(grace * 5))}; "
        'while [ $n -gt 0 ] && [ -n "$(pids)" ]; do sleep 0.2; n=$((n-1)); done; '
        'left=$(pids); [ -z "$left" ] || kill -KILL $left 2>/dev/null; true'
    )


class LineSplitter:
    """Turns a byte stream into complete text lines (UTF-8, invalid bytes replaced).

    ``feed`` returns the finished lines; ``flush`` returns the unterminated tail, if any.
    """

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._pending = ""

    def feed(self, data: bytes) -> list[str]:
        text = self._pending + self._decoder.decode(data)
        lines = text.split("\n")
        self._pending = lines.pop()
        return [line.removesuffix("\r") for line in lines]

    def flush(self) -> list[str]:
        tail = self._pending + self._decoder.decode(b"", final=True)
        self._pending = ""
        return [tail] if tail else []


class OutputCollector:
    """Redacts each line, passes it to the sink and keeps it for the result, per stream."""

    def __init__(self, redact: Callable[[str], str], sink: Callable[[str, str], None]) -> None:
        self._redact = redact
        self._sink = sink
        self.lines: dict[str, list[str]] = {"stdout": [], "stderr": []}

    def emit(self, stream: str, lines: list[str]) -> None:
        for line in lines:
            clean = self._redact(line)
            self.lines[stream].append(clean)
            self._sink(stream, clean)

    def text(self, stream: str) -> str:
        lines = self.lines[stream]
        return "\n".join(lines) + ("\n" if lines else "")
