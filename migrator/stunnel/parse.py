"""Parse-check an stunnel config with the real stunnel binary, binding only loopback.

A restart of stunnel@off cuts every tunnel on the host, so a config must be proven parseable
first (pitfall 16). stunnel has no "test config" flag; the team ran ``stunnel off.conf`` by
hand and read the parse errors while the busy ports failed to bind. We do the same, safely:

* a copy of the config is written to a temp dir, line for line, with every ``accept`` moved to
  ``127.0.0.1:0`` (a free loopback port), every ``connect`` to ``127.0.0.1:9`` (nothing
  connects, so nothing is contacted and no DNS name is resolved), ``pid`` into the temp dir and
  ``output``/``syslog``/``foreground`` commented out, ``debug`` raised to ``notice`` where it is
  lower (stunnel logs its success at notice); ``foreground = yes`` is added as line 1;
* stunnel runs on the copy; "Configuration successful" on stderr means it parsed, a non-zero
  exit before that means it did not. It is stopped by PID either way;
* error messages name the original file with the original line numbers.

``placeholder_psk=True`` also points ``PSKsecrets`` at a throwaway file with a random key, to
check a rendered config before the real PSK files exist. Otherwise stunnel reads the real
PSK files (and complains if they are missing or malformed), which is part of the check.
"""

from __future__ import annotations

import os
import re
import select
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from migrator.errors import CommandTimeout, UsageError
from migrator.stunnel.conffile import option_of
from migrator.stunnel.model import split_host_port
from migrator.stunnel.psk import generate_psk, write_psk_file

SUCCESS = "Configuration successful"
_COMMENTED = {"output", "syslog", "foreground", "pid"}
# syslog's levels, as stunnel's ``debug`` takes them (by name or number)
_LEVELS = {"emerg": 0, "alert": 1, "crit": 2, "err": 3, "warning": 4, "notice": 5, "info": 6, "debug": 7}


@dataclass(frozen=True)
class ParseResult:
    """``ok`` when stunnel accepted the config; ``errors`` are its error lines, located."""

    ok: bool
    errors: list[str]
    output: str


def find_stunnel() -> str:
    """The stunnel binary: ``stunnel4`` (Debian's name) or ``stunnel``."""
    for name in ("stunnel4", "stunnel"):
        found = shutil.which(name)
        if found:
            return found
    raise UsageError("stunnel is not installed", hint="apt-get install stunnel4")


def _rewrite_line(line: str, placeholder_psk: Path | None) -> str:
    option = option_of(line)
    key = option[0].lower() if option else ""
    if key == "accept":
        return "accept = 127.0.0.1:0"
    if key == "connect":
        return "connect = 127.0.0.1:9"
    if key == "psksecrets" and placeholder_psk is not None:
        return f"PSKsecrets = {placeholder_psk}"
    if key in _COMMENTED:
        return f"; parse_check: {line.strip()}"
    if key == "debug" and option is not None:
        return _audible_debug(line, option[1])
    return line


def _audible_debug(line: str, value: str) -> str:
    """``debug`` at least ``notice`` (5): "Configuration successful" is logged at notice, so a
    valid config with ``debug = warning`` (OFF's ovh1 proxy, moji) would never say it parsed.
    A level stunnel does not know is left as it is, for stunnel to refuse."""
    facility, _, level = value.strip().rpartition(".")
    number = _LEVELS.get(level.lower(), int(level) if level.isdigit() else None)
    if number is None or number >= _LEVELS["notice"]:
        return line
    return f"debug = {facility + '.' if facility else ''}notice"


def loopback_copy(text: str, workdir: Path, placeholder_psk: Path | None = None) -> str:
    """The config stunnel really parses: accepts on 127.0.0.1:0, connects to 127.0.0.1:9."""
    # Two global lines first; every original line keeps its place, shifted by two (_locate).
    lines = ["foreground = yes", f"pid = {workdir / 'stunnel.pid'}"]
    lines += [_rewrite_line(line, placeholder_psk) for line in text.splitlines()]
    return "\n".join(lines) + "\n"


def _address_errors(text: str, original: Path) -> list[str]:
    """accept/connect values stunnel will not see (they are rewritten): check their syntax here."""
    errors = []
    for number, line in enumerate(text.splitlines(), start=1):
        option = option_of(line)
        if option and option[0].lower() in ("accept", "connect"):
            try:
                split_host_port(option[1])
            except ValueError as exc:
                errors.append(f"{original}:{number}: \"{line.strip()}\": {exc}")
    return errors


def _locate(output: str, copy: Path, original: Path) -> str:
    """Rename the copy to the original and undo the two added lines in ``file:N:`` messages."""
    pattern = re.compile(re.escape(str(copy)) + r":(\d+):")
    return pattern.sub(lambda m: f"{original}:{max(int(m[1]) - 2, 1)}:", output).replace(
        str(copy), str(original))


def _read_until_outcome(process: subprocess.Popen[bytes], timeout: float) -> tuple[bool | None, str]:
    """Read stderr until success is logged or the process exits; None if neither in time."""
    assert process.stderr is not None
    fd = process.stderr.fileno()
    buffer = b""
    deadline = time.monotonic() + timeout
    while True:
        if SUCCESS.encode() in buffer:
            return True, buffer.decode(errors="replace")
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None, buffer.decode(errors="replace")
        ready, _, _ = select.select([fd], [], [], remaining)
        if not ready:
            continue
        chunk = os.read(fd, 65536)
        if not chunk:  # EOF: stunnel exited (or closed stderr)
            process.wait()
            return process.returncode == 0 and SUCCESS.encode() in buffer, buffer.decode(errors="replace")
        buffer += chunk


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def parse_check(config_path: Path, *, stunnel: str | None = None, timeout: float = 15.0,
                placeholder_psk: bool = False) -> ParseResult:
    """Let stunnel parse ``config_path`` without binding anything but loopback."""
    binary = stunnel or find_stunnel()
    try:
        text = config_path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read {config_path}: {exc.strerror}") from exc
    with tempfile.TemporaryDirectory(prefix="stunnel-parse-") as tmp:
        workdir = Path(tmp)
        psk: Path | None = None
        if placeholder_psk:
            psk = workdir / "placeholder-psk.txt"
            write_psk_file(psk, "parse-check", generate_psk())
        copy = workdir / config_path.name
        copy.write_text(loopback_copy(text, workdir, psk), encoding="utf-8")
        # cwd = the original's directory, so relative paths in the config resolve as on the host
        process = subprocess.Popen(
            [binary, str(copy)], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, cwd=config_path.parent.resolve())
        try:
            outcome, output = _read_until_outcome(process, timeout)
        finally:
            _stop(process)
            if process.stderr is not None:
                process.stderr.close()
    output = _locate(output, copy, config_path)
    if outcome is None:
        raise CommandTimeout(f"stunnel did not finish parsing {config_path} in {timeout:.0f}s",
                             hint="run `stunnel <config>` by hand and read its output")
    errors = _address_errors(text, config_path)
    if not outcome:
        errors += [line for line in output.splitlines() if re.search(r"\[!\]|LOG[0-3]\[", line)]
    return ParseResult(ok=bool(outcome) and not errors, errors=errors, output=output)
