"""The shell scripts the stunnel step runs on a tunnel host, as functions of quoted paths.

Every path is quoted with :func:`shlex.quote`; file contents (configs, PSK lines) always go
on stdin (``cat > file``), never into a script, so no key reaches a command line or a
process listing. Scripts use POSIX sh and coreutils only (Debian CTs, the rehearsal lab).
"""

from __future__ import annotations

import re
import shlex
from posixpath import dirname

PARSE_OK = "Configuration successful"
PARSE_WAIT_STEPS = 150  # x 0.1 s: how long stunnel may take to read the config
PARSE_EXIT_NO_STUNNEL = 4


def psk_state(path: str) -> str:
    """Print ``absent``, or ``sha <hex>`` and ``identity <id>`` of a PSK file.

    ``sed '1s/:.*//p'`` prints the identity only when the line has a colon: a malformed file
    (a bare key) prints nothing, so the key is never echoed.
    """
    f = shlex.quote(path)
    return (
        f"if [ -f {f} ]; then "
        f"printf 'sha %s\\n' \"$(sha256sum < {f} | cut -d' ' -f1)\"; "
        f"printf 'identity %s\\n' \"$(sed -n '1s/:.*//p' {f})\"; "
        "else echo absent; fi"
    )


def parse_psk_state(stdout: str) -> tuple[str | None, str | None]:
    """``(sha256 hex, identity)`` from :func:`psk_state` output; ``(None, None)`` when absent."""
    sha = re.search(r"^sha ([0-9a-f]{64})$", stdout, re.M)
    identity = re.search(r"^identity (\S*)$", stdout, re.M)
    if sha is None:
        return None, None
    return sha[1], identity[1] if identity and identity[1] else None


def write_private(path: str) -> str:
    """Write stdin to ``path`` mode 0600 in a 0700 directory, atomically (never briefly readable)."""
    f, d = shlex.quote(path), shlex.quote(dirname(path))
    tmp = shlex.quote(path + ".migrator-new")
    return (
        f"set -e; umask 077; mkdir -p {d}; chmod 700 {d}; "
        f"cat > {tmp}; chmod 600 {tmp}; mv -f {tmp} {f}"
    )


def tighten(path: str) -> str:
    """The PSK rules: directory 0700, file 0600 (``chmod -R go-rwx /etc/stunnel/psk``)."""
    f, d = shlex.quote(path), shlex.quote(dirname(path))
    return f"set -e; chmod 700 {d}; chmod 600 {f}"


def read_base64(path: str) -> str:
    """The file as one base64 line: the redactor (which masks the key) cannot mangle it."""
    return f"base64 -w0 < {shlex.quote(path)}"


def write_public(path: str) -> str:
    """Write stdin to ``path`` (0644), through a temp file and a rename."""
    f, d = shlex.quote(path), shlex.quote(dirname(path))
    tmp = shlex.quote(path + ".migrator-new")
    return f"set -e; umask 022; mkdir -p {d}; cat > {tmp}; mv -f {tmp} {f}"


def sha256(path: str) -> str:
    """``<hex>`` of the file, or ``absent``."""
    f = shlex.quote(path)
    return f"if [ -f {f} ]; then sha256sum < {f} | cut -d' ' -f1; else echo absent; fi"


def parse_test(workdir: str) -> str:
    """Write stdin (a loopback copy of the config) into ``workdir`` and let stunnel parse it.

    ``mkdir`` without ``-p`` refuses an existing directory (no one can plant a file there).
    stunnel runs in the foreground; once it logs "Configuration successful" (or exits) it is
    stopped by its PID. The exit status is 0 only when the config parsed.
    """
    d = shlex.quote(workdir)
    return f"""set -u
d={d}
mkdir -m 700 "$d" || exit 3
cat > "$d/off.conf"
bin=$(command -v stunnel4 || command -v stunnel) || {{
  echo "stunnel is not installed" >&2; rm -rf "$d"; exit {PARSE_EXIT_NO_STUNNEL}; }}
"$bin" "$d/off.conf" > "$d/log" 2>&1 < /dev/null &
pid=$!
i=0
while [ "$i" -lt {PARSE_WAIT_STEPS} ]; do
  grep -q '{PARSE_OK}' "$d/log" && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
  i=$((i + 1))
done
kill "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
cat "$d/log"
grep -q '{PARSE_OK}' "$d/log"
rc=$?
rm -rf "$d"
exit "$rc"
"""


def locate_parse_errors(output: str, workdir: str, shown_as: str) -> list[str]:
    """stunnel's ``[!]`` lines with the copy renamed to ``shown_as`` and line numbers restored.

    :func:`migrator.stunnel.parse.loopback_copy` adds two lines at the top of the copy.
    """
    copy = re.escape(f"{workdir}/off.conf")
    pattern = re.compile(copy + r":(\d+):")
    errors = []
    for line in output.splitlines():
        if "[!]" not in line and not re.search(r"LOG[0-3]\[", line):
            continue
        located = pattern.sub(lambda m: f"{shown_as}:{max(int(m[1]) - 2, 1)}:", line)
        errors.append(located.replace(f"{workdir}/off.conf", shown_as).strip())
    return errors


LINKED_EXIT = 4
"""A target is the team's link into its git checkout and the rendered file differs from it."""


def move_into_place(new: str, target: str) -> str:
    """Keep the current file as ``.previous`` (the rollback), then rename the new one over it.

    Where the team linked ``target`` into its git checkout (``ln -s /opt/openfoodfacts-
    infrastructure/confs/...``), the link stays: the same content is done, a different one
    stops (exit :data:`LINKED_EXIT`) with ``new`` kept; git is where that file changes.
    """
    n, t, p = shlex.quote(new), shlex.quote(target), shlex.quote(target + ".previous")
    return (
        f"set -e; if [ -L {t} ]; then if cmp -s {n} {t}; then rm -f {n}; exit 0; fi; "
        f'echo "{target} is a link to $(readlink -f {t}) (the team\'s git checkout) and differs from the '
        f'rendered file, left as {new}: commit it there, then run the step again" >&2; '
        f"exit {LINKED_EXIT}; fi; "
        f"if [ -f {t} ]; then cp -p {t} {p}; fi; mv -f {n} {t}"
    )


def write_unless_linked(path: str) -> str:
    """:func:`write_public`, except where the file or its directory is a link (into git).

    There the content on stdin must already be the file's: nothing is written into the team's
    checkout (a tracked file edited behind git's back), and a difference stops with
    :data:`LINKED_EXIT`.
    """
    f, d = shlex.quote(path), shlex.quote(dirname(path))
    return (
        f"set -e; if [ -L {f} ] || [ -L {d} ]; then t=$(mktemp); cat > \"$t\"; "
        f'if cmp -s "$t" {f}; then rm -f "$t"; exit 0; fi; rm -f "$t"; '
        f'echo "{path} is in the team\'s git checkout ($(readlink -f {d})) and differs from the '
        f'rendered file: commit the change there, then run the step again" >&2; exit {LINKED_EXIT}; fi; '
        + write_public(path).removeprefix("set -e; ")
    )
