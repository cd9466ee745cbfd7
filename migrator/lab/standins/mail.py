"""postconf and newaliases: postfix's admin tools, for the ``ct_postinstall`` of the off2 plan.

Postfix cannot run in the lab; its configuration can. ``postconf -e KEY=VALUE ...`` rewrites or
appends ``KEY = VALUE`` in the host's /etc/postfix/main.cf (each lab host has its own /etc), as
the real tool does; ``postconf KEY`` prints the value; ``newaliases`` checks /etc/aliases parses.
"""

from __future__ import annotations

import re
from pathlib import Path

from migrator.lab.standins.context import Context, ToolError, out

MAIN_CF = Path("/etc/postfix/main.cf")
ALIASES = Path("/etc/aliases")


def postconf(ctx: Context) -> int:
    args = [a for a in ctx.args if a != "-e"]
    text = MAIN_CF.read_text(encoding="utf-8") if MAIN_CF.exists() else ""
    if "-e" not in ctx.args:
        for key in args:
            found = re.findall(rf"^{re.escape(key)}\s*=\s*(.*)$", text, re.M)
            if not found:
                raise ToolError(f"postconf: warning: {key}: unknown parameter", 1)
            out(f"{key} = {found[-1]}")
        return 0
    for setting in args:
        key, sep, value = setting.partition("=")
        if not sep or not key.strip():
            raise ToolError(f"postconf: fatal: invalid parameter assignment: {setting}", 1)
        line = f"{key.strip()} = {value.strip()}"
        pattern = re.compile(rf"^{re.escape(key.strip())}\s*=.*$", re.M)
        text = pattern.sub(line, text) if pattern.search(text) else text + line + "\n"
    MAIN_CF.parent.mkdir(parents=True, exist_ok=True)
    MAIN_CF.write_text(text, encoding="utf-8")
    return 0


def newaliases(ctx: Context) -> int:
    del ctx
    if not ALIASES.exists():
        raise ToolError("newaliases: fatal: open /etc/aliases: No such file or directory", 75)
    for number, line in enumerate(ALIASES.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip() and not line.startswith(("#", " ", "\t")) and ":" not in line:
            raise ToolError(f"newaliases: warning: /etc/aliases, line {number}: need name:value pair", 75)
    return 0
