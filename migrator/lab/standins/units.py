"""What systemd would do from a unit's drop-in before starting it: the ``RuntimeDirectory``.

stunnel starts as root, drops to stunnel4, then writes its pid into /run/stunnel-%i, so that
directory must be group-writable for stunnel4 (off-facts 5, pitfall 17). In production it is
the drop-in (``Group=stunnel4``, ``RuntimeDirectoryMode=0775``) that makes it so; the lab's
``systemctl`` honours the same drop-in, so a missing or wrong one fails as it would there.
"""

from __future__ import annotations

import grp
import os
import re
import subprocess
from pathlib import Path
from typing import Any

from migrator.lab.standins.context import Context, ToolError, out

UNIT_DIR = Path("/etc/systemd/system")
DEFAULT_MODE = 0o755  # systemd's RuntimeDirectoryMode default


def dropin_settings(template: str) -> dict[str, str]:
    """``Key=value`` of the ``[Service]`` sections of ``TEMPLATE.service.d/*.conf`` (last wins)."""
    found: dict[str, str] = {}
    for conf in sorted((UNIT_DIR / f"{template}.service.d").glob("*.conf")):
        section = ""
        for raw in conf.read_text(encoding="utf-8", errors="replace").splitlines():
            line = raw.strip()
            if line.startswith("[") and line.endswith("]"):
                section = line[1:-1]
            elif section == "Service" and (m := re.match(r"(\w+)\s*=\s*(.*)$", line)):
                found[m.group(1)] = m.group(2).strip()
    return found


def prepare_runtime_directory(runtime: Path, template: str) -> None:
    """Owner root, group ``Group=`` (root if unset), mode ``RuntimeDirectoryMode=`` (0755 if unset)."""
    settings = dropin_settings(template)
    mode = int(settings.get("RuntimeDirectoryMode", oct(DEFAULT_MODE)), 8)
    gid = grp.getgrnam(settings["Group"]).gr_gid if "Group" in settings else 0
    os.chown(runtime, 0, gid)
    runtime.chmod(mode)


def journalctl(ctx: Context) -> int:
    """``journalctl [-xe] -u UNIT [-n N]``: the unit's output as the lab's systemctl captured it.

    What an operator runs after a failed restart (``journalctl -xeu stunnel@off.service``):
    stunnel's own lines, e.g. ``bind: Address already in use (98)`` when the port is taken.
    """
    args, unit, lines = list(ctx.args), None, 10
    while args:
        arg = args.pop(0)
        if arg in ("-u", "--unit") and args:
            unit = args.pop(0)
        elif arg.startswith("--unit="):
            unit = arg.split("=", 1)[1]
        elif arg.startswith("-") and not arg.startswith("--") and len(arg) > 2:  # combined: -xeu UNIT
            lines = 1000 if "e" in arg else lines  # -e: the end of the journal (1000 lines, as journalctl)
            unit = args.pop(0) if arg.endswith("u") and args else unit
        elif arg in ("-n", "--lines") and args:
            lines = int(args.pop(0))
    if unit is None:
        raise ToolError("lab journalctl stand-in: only -u UNIT is supported", 1)
    log = ctx.state_dir / "journal" / f"{unit.removesuffix('.service')}.log"
    text = log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""
    if not text:
        out("-- No entries --")
        return 0
    out("\n".join(text.splitlines()[-lines:]))
    return 0


# --------------------------------------------------------------------------- oneshot services

# Units a package ships in /lib/systemd/system (the lab keeps them in the host's state).
PACKAGE_UNIT_FILES = {
    "sanoid": {
        "sanoid.service": "[Unit]\nDescription=Snapshot ZFS Pool\n\n[Service]\nType=oneshot\n"
        "ExecStart=/usr/sbin/sanoid --take-snapshots --verbose\n",
        "sanoid-prune.service": "[Unit]\nDescription=Prune ZFS snapshots\n\n[Service]\nType=oneshot\n"
        "ExecStart=/usr/sbin/sanoid --prune-snapshots --verbose\n",
        "sanoid.timer": "[Unit]\nDescription=Run Sanoid Every 15 Minutes\n\n[Timer]\nOnCalendar=*:0/15\n"
        "Persistent=true\n\n[Install]\nWantedBy=timers.target\n",
    }
}


def unit_file(state: dict[str, Any], unit: str) -> str | None:
    """The text of ``unit`` (``name`` = ``name.service``): /etc/systemd/system first, then packages'."""
    full = unit if "." in unit else f"{unit}.service"
    local = UNIT_DIR / full
    if local.exists():  # follows the symlinks into the infrastructure repo, as systemd does
        return local.read_text(encoding="utf-8", errors="replace")
    text = state.get("unit_files", {}).get(full)
    return str(text) if text is not None else None


def oneshot_command(text: str) -> str | None:
    """``ExecStart`` of a ``Type=oneshot`` unit, with the package binaries where the lab has them."""
    if not re.search(r"^\s*Type\s*=\s*oneshot\s*$", text, re.M):
        return None
    found = re.search(r"^\s*ExecStart\s*=\s*-?(.+)$", text, re.M)
    if found is None:
        return None
    from migrator.lab.standins import TOOLS

    command = found.group(1).strip()
    for tool in TOOLS:  # /usr/sbin/syncoid of the deb is the stand-in in /usr/local/sbin
        command = re.sub(rf"(?<![\w/])/usr/s?bin/{re.escape(tool)}\b", f"/usr/local/sbin/{tool}", command)
    return command


def run_oneshot(ctx: Context, unit: str, command: str) -> tuple[str, int]:
    """Run the service's command now (outside the state lock: it may run stand-ins); (Result, code)."""
    log_dir = ctx.state_dir / "journal"
    log_dir.mkdir(exist_ok=True)
    with (log_dir / f"{unit}.log").open("ab") as log:
        code = subprocess.run(
            ["/bin/sh", "-c", command], stdin=subprocess.DEVNULL, stdout=log, stderr=log, check=False
        ).returncode
    return ("success", 0) if code == 0 else ("exit-code", code)
