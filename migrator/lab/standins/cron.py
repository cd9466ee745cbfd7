"""Fake ``crontab`` (the cron package is not on the lab machine): per-host spool files.

Keeps each user's crontab where cron does, /var/spool/cron/crontabs/USER (bound per host),
and prints what the real ``crontab`` prints: the file for ``-l``, "no crontab for USER".
"""

from __future__ import annotations

import sys
from pathlib import Path

from migrator.lab.standins.context import Context, ToolError

SPOOL = Path("/var/spool/cron/crontabs")


def crontab(ctx: Context) -> int:
    args = list(ctx.args)
    user = "root"
    if "-u" in args:
        at = args.index("-u")
        user = args[at + 1]
        del args[at : at + 2]
    path = SPOOL / user
    if "-l" in args:
        if not path.exists():
            raise ToolError(f"no crontab for {user}", 1)
        sys.stdout.write(path.read_text(encoding="utf-8"))
        return 0
    if "-r" in args:
        if not path.exists():
            raise ToolError(f"no crontab for {user}", 1)
        path.unlink()
        return 0
    files = [a for a in args if not a.startswith("-") or a == "-"]
    if len(files) != 1:
        raise ToolError("usage:\tcrontab [-u user] file\n\tcrontab [ -u user ] [ -i ] { -e | -l | -r }", 1)
    text = sys.stdin.read() if files[0] == "-" else Path(files[0]).read_text(encoding="utf-8")
    SPOOL.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)
    return 0
