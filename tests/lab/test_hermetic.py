"""The lab owes nothing to the machine's /etc (issue 16): a machine /etc/hosts that names the
lab's hosts, or one that names none of them, gives the same lab.

Each lab is built in its own mount namespace where a doctored file is bound over /etc/hosts
(``unshare --mount``; the machine's file is never touched) and its own network namespace.
The rehearsal itself under a doctored /etc/hosts is ``test_rehearsal.py`` (its lab runs so).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tests.lab.private_world import HOSTS_WITH_LAB_NAMES, HOSTS_WITHOUT_LAB_NAMES, in_private_world

TIMEOUT = 240
# Made anew by every lab (keys, certificates, a random password's hash): compared by name only.
PER_LAB = ("ssh/", "pve/", "shadow", "gshadow")
DIGEST = """
import hashlib, json, sys
from pathlib import Path
out = {}
for etc in sorted(Path(sys.argv[1]).glob("hosts/*/root/etc")) + sorted(
        Path(sys.argv[1]).glob("hosts/*/root/var/lib/migrator-lab/ct/*/root/etc")):
    for path in sorted(etc.rglob("*")):
        key = str(path.relative_to(sys.argv[1]))
        if path.is_symlink():
            out[key] = "-> " + str(path.readlink())
        elif path.is_file():
            out[key] = hashlib.sha256(path.read_bytes()).hexdigest()
print(json.dumps(out))
"""


def lab_etc(tmp_path: Path, name: str, hosts_text: str) -> dict[str, str]:
    """Bring a lab up under a machine /etc/hosts of ``hosts_text``; its hosts' /etc, digested."""
    directory = tmp_path / name
    hosts_file = tmp_path / f"{name}.hosts"
    hosts_file.write_text(hosts_text, encoding="utf-8")
    py = sys.executable
    script = (
        f"{py} -m migrator lab up --dir {directory} >/dev/null && "
        f"{py} -c '{DIGEST}' {directory}; rc=$?; "
        f"{py} -m migrator lab down --dir {directory} >/dev/null; exit $rc"
    )
    result = in_private_world(hosts_file, script, timeout=TIMEOUT)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    digests: dict[str, str] = json.loads(result.stdout)
    hosts = (directory / "hosts/off2/root/etc/hosts").read_text(encoding="utf-8")
    assert "127.0.1.1 off1" in hosts, hosts  # what off2's own move wrote (off2.yaml etc-hosts)
    return digests


def comparable(digests: dict[str, str]) -> dict[str, str]:
    """Relative to the lab directory; per-lab secrets and keys by name only."""
    out = {}
    for key, digest in digests.items():
        inner = key.split("/etc/", 1)[1]
        out[key] = "(per lab)" if inner.startswith(PER_LAB) else digest
    return out


def test_a_machine_hosts_file_with_or_without_lab_names_gives_the_same_lab(tmp_path: Path) -> None:
    with_names = comparable(lab_etc(tmp_path, "a", HOSTS_WITH_LAB_NAMES))
    without = comparable(lab_etc(tmp_path, "b", HOSTS_WITHOUT_LAB_NAMES))
    assert with_names == without
    assert "hosts/off1/root/etc/hosts" in with_names and "hosts/off2/root/etc/passwd" in with_names
    assert_nothing_of_the_machine(tmp_path / "a")


def assert_nothing_of_the_machine(directory: Path) -> None:
    """The machine's uid-1000+ users and its /etc/hosts names never reach a lab host."""
    for etc in directory.glob("hosts/*/root/etc"):
        hosts = (etc / "hosts").read_text(encoding="utf-8")
        assert "lab-name-from-the-machine" not in hosts, hosts
        rows = [line.split(":") for line in (etc / "passwd").read_text(encoding="utf-8").splitlines()]
        assert {row[0] for row in rows} >= {"root", "sshd", "stunnel4", "nobody"}
        name = etc.parent.parent.name
        expected_login_users = {"off2": 3}.get(name, 0)  # off, off1operator, ovh3operator (off2's move)
        assert len([r for r in rows if 1000 <= int(r[2]) < 65534]) == expected_login_users, (name, rows)
