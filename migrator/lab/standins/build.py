"""Fake ``dpkg-buildpackage`` (stand-in: the lab hosts have no debhelper tool chain).

Builds what ``docs/sanoid.md`` builds: run in a source tree whose ``debian`` (a directory or
sanoid's ``packages/debian`` link) has a ``changelog``, it writes ``../NAME_VERSION_all.deb``
from the changelog's first line, as the real tool names its output. Without a changelog it fails
as the real one does, so a plan that forgets the ``debian`` link fails here too.
"""

from __future__ import annotations

import re
from pathlib import Path

from migrator.lab.standins.context import Context, ToolError, out

CHANGELOG = Path("debian/changelog")


def dpkg_buildpackage(ctx: Context) -> int:
    del ctx
    if not CHANGELOG.is_file():
        raise ToolError(
            "dpkg-source: error: cannot read debian/changelog: No such file or directory\n"
            "dpkg-buildpackage: error: dpkg-source --before-build . subprocess returned exit status 2",
            2,
        )
    first = CHANGELOG.read_text(encoding="utf-8").splitlines()[0]
    found = re.match(r"^(\S+) \(([^)]+)\)", first)
    if found is None:
        raise ToolError(f"dpkg-parsechangelog: error: badly formatted heading line: {first}", 255)
    name, version = found.groups()
    deb = Path("..") / f"{name}_{version}_all.deb"
    deb.write_text(f"!<arch>\nlab stand-in for {name} {version}, built from {Path.cwd()}\n", encoding="utf-8")
    out(f"dpkg-deb: building package '{name}' in '{deb}'.")
    out("dpkg-buildpackage: info: binary and diff upload (original source NOT included)")
    return 0
