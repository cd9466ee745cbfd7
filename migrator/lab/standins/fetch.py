"""Fake ``wget`` and ``apt-key``: the lab hosts reach no network but loopback.

``wget URL`` answers from the lab's mirror (``DIR/mirror/HOST/PATH``, written by ``lab up``)
like a caching proxy would, and fails as the real wget does for a name it cannot resolve.
``apt-key add -`` reads the key and says ``OK`` (the stand-in ``apt-get`` checks no signature).
"""

from __future__ import annotations

import sys
from pathlib import Path
from urllib.parse import urlsplit

from migrator.lab.standins.context import Context, ToolError, out


def wget(ctx: Context) -> int:
    urls = [a for a in ctx.args if "://" in a]
    if not urls:
        raise ToolError("wget: missing URL", 1)
    target = None
    args = list(ctx.args)
    if "-O" in args:
        target = args[args.index("-O") + 1]
    elif any(a.startswith("-") and not a.startswith("--") and a.endswith("O") for a in args):
        flag = next(a for a in args if a.startswith("-") and not a.startswith("--") and a.endswith("O"))
        target = args[args.index(flag) + 1]
    parts = urlsplit(urls[0])
    mirrored = ctx.lab_dir / "mirror" / (parts.hostname or "") / parts.path.lstrip("/")
    if not mirrored.is_file():
        raise ToolError(f"wget: unable to resolve host address '{parts.hostname}'", 4)
    data = mirrored.read_bytes()
    if target in (None, "-"):
        sys.stdout.buffer.write(data)
    else:
        with open(str(target), "wb") as handle:
            handle.write(data)
    return 0


def apt_key(ctx: Context) -> int:
    if ctx.args[:1] == ["add"]:
        key = sys.stdin.read() if ctx.args[1:] == ["-"] else Path(ctx.args[1]).read_text(encoding="utf-8")
        if "BEGIN PGP PUBLIC KEY BLOCK" not in key:
            raise ToolError("gpg: no valid OpenPGP data found.", 2)
        sys.stderr.write(
            "Warning: apt-key is deprecated. Manage keyring files in trusted.gpg.d instead"
            " (see apt-key(8)).\n"
        )
        out("OK")
        return 0
    raise ToolError(f"apt-key: the lab stand-in knows only 'add' (got {' '.join(ctx.args)})", 1)
