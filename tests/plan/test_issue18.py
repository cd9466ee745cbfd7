"""Issue 18: inputs that crashed, meant something silently, or were blamed on the wrong line.

Each case is one mistake as an operator, an editor or a YAML tool makes it, and the exact lines
`migrator validate` must print for it (file:line:column, what, what to do). Every case here
failed on c33c810: a crash (exit 70), a silent acceptance, or another line or story.
"""

# ruff: noqa: E501 - the expected lines are compared word for word, one per line

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from migrator.plan.load import check_plan
from migrator.plan.source import MAX_BYTES
from migrator.stunnel.load import check_file

ROOT = Path(__file__).resolve().parent.parent.parent

INVENTORY = """\
name: lab
environment: lab
hosts:
  off1: {address: 127.0.0.11, role: proxmox}
  off2: {address: 127.0.0.21}
  off3: {address: 127.0.0.31, role: mongodb-interim}
"""

HEAD = """\
name: p
title: P
inventory: inventory.yaml
"""


def plan(steps: str, *, top: str = "") -> str:
    """A plan with one phase holding ``steps`` (indented as list items of steps:)."""
    return HEAD + top + "phases:\n  - id: ph\n    title: Ph\n    where: before\n    steps:\n" + steps


STEP = """\
      - id: a
        title: A
        host: off1
        kind: ssh
        command: "true"
"""

CASES: dict[str, tuple[str | bytes, list[str]]] = {
    # 1. crashes and bytes
    "tag-bool": (
        plan(STEP + "        idempotent: !!bool sometimes\n"),
        [
            "14:21: error: YAML tag '!!bool' is not allowed in this file (remove the tag and write the value plainly (quote it if it is text))",
        ],
    ),
    "tag-python": (
        plan(STEP.replace('"true"', "!!python/object/apply:os.system [id]")),
        [
            "13:18: error: YAML tag '!!python/object/apply:os.system' is not allowed in this file (remove the tag and write the value plainly (quote it if it is text))",
        ],
    ),
    "tag-unknown": (
        plan(STEP.replace("title: A", "title: !secret A")),
        [
            "10:16: error: YAML tag '!secret' is not allowed in this file (remove the tag and write the value plainly (quote it if it is text))",
        ],
    ),
    "length-overflow": (
        plan(STEP, top="window: {start: 2026-12-18T08:00:00+01:00, length: 999999999d}\n"),
        [
            "4:52: error: length: '999999999d' is longer than 366d (366 days), the longest a plan may give",
        ],
    ),
    "start-year-9999": (
        plan(STEP, top="window: {start: 9999-12-31T20:00:00+00:00, length: 8h}\n"),
        [
            "4:52: error: length: the window would end after the year 9999; check window.start",
        ],
    ),
    # 2. meanings explicit
    "start-naive": (
        plan(STEP, top="window: {start: 2026-12-18T08:00:00, length: 8h}\n"),
        [
            "4:17: error: start needs a time zone; got '2026-12-18T08:00:00' (add the offset, e.g. 2026-12-18T08:00:00+01:00 (a naive time would be read on the machine that runs the plan))",
        ],
    ),
    "bare-number-duration": (
        plan(STEP + "        estimate: 5\n"),
        [
            "14:19: error: step a: estimate: '5' has no unit: write 5s, 5m or 5h",
        ],
    ),
    "sexagesimal": (
        plan(STEP + "        estimate: 6:00\n"),
        [
            "14:19: error: '6:00' is read by YAML 1.1 as the base-60 number 360 (and by YAML 1.2 as text) (write the number you mean without leading zero, or a duration with its unit (6m, 1h30m); quote it if it is text)",
        ],
    ),
    "octal": (
        plan(STEP + "        post:\n          - {kind: command, command: 'false', exit_code: 010}\n"),
        [
            "15:58: error: '010' is read by YAML 1.1 as the number 8 (octal, hex or with '_'), not 010 (write the number you mean without leading zero, or a duration with its unit (6m, 1h30m); quote it if it is text)",
        ],
    ),
    "container-not-on-proxmox": (
        plan(STEP.replace("host: off1", "host: off3/ct:102")),
        [
            "11:15: error: step a: 'off3/ct:102' is a container on 'off3', which inventory 'lab' says is 'mongodb-interim', not a Proxmox node (containers live on the Proxmox nodes (off1, off2); or give 'off3' role: proxmox in the inventory)",
        ],
    ),
    "relative-file-path": (
        plan(STEP + "        post:\n          - {kind: file, path: etc/hosts}\n"),
        [
            "15:32: error: step a: file check path 'etc/hosts' is not absolute: relative to what directory? (write the full path, e.g. /etc/hosts)",
        ],
    ),
    # 3. the on: key
    "old-on-key": (
        plan(STEP + "        post:\n          - {kind: tcp_open, address: 10.0.0.1, port: 22, on: off2}\n"),
        [
            "15:59: warning: step a: 'on:' is the old name of 'probe_from:' (YAML 1.1 tools read 'on' as true and rewrite it) (rewrite 'on: off2' as 'probe_from: off2')",
        ],
    ),
    "on-after-yaml11-round-trip": (
        plan(STEP + "        post:\n          - {kind: tcp_open, address: 10.0.0.1, port: 22, true: off2}\n"),
        [
            "15:59: error: step a: 'true:' in a check is an 'on:' that a YAML 1.1 tool rewrote as a boolean; left so, the check would probe from the step's own host (write 'probe_from: off2' (the host to probe from))",
        ],
    ),
    # 4. locations and stories
    "block-scalar-line": (
        plan(STEP.replace('"true"', ">\n          echo one\n          echo {{ params.nope }}")),
        [
            "15:16: error: step a: unknown parameter 'nope': declare it under params: at the top of the plan",
        ],
    ),
    "not-utf8": (
        plan(STEP.replace("title: A", "title: caf\xe9")).encode("latin-1"),
        [
            "10:19: error: not UTF-8 text: byte 0xe9 at offset 137 (line 10, column 19) (save the file as UTF-8 (e.g. iconv -f latin1 -t utf-8))",
        ],
    ),
    "control-character": (
        plan(STEP.replace("title: A", "title: A\x07")),
        [
            "10:17: error: a control character (U+0007) is not allowed in YAML (delete it; write special characters in a quoted value as \\uXXXX)",
        ],
    ),
    "unclosed-quote": (
        plan(STEP.replace("title: A", 'title: "A')),
        [
            "10:16: error: YAML syntax error: a quoted value is not closed on its line (close the quote at the end of the value (or use a block scalar | for text over several lines))",
        ],
    ),
    "conflict-markers": (
        plan(
            STEP.replace(
                "        title: A\n",
                "<<<<<<< HEAD\n        title: A\n=======\n        title: B\n>>>>>>> theirs\n",
            )
        ),
        [
            "10:1: error: a git merge conflict marker: the file is in the middle of a merge (resolve the conflict: keep one side, delete the <<<<<<<, ======= and >>>>>>> lines)",
        ],
    ),
    "dash-glued": (
        plan(STEP.replace("      - id: a", "      -id: a")),
        [
            "9:7: error: YAML syntax error: '-' must be followed by a space to start a list item (write '- id: a')",
        ],
    ),
    "output-step-misspelt": (
        plan(
            STEP
            + "        outputs: {ct: {regex: '(.*)'}}\n"
            + STEP.replace("id: a", "id: b").replace('"true"', '"echo {{ outputs.aa.ct }}"')
        ),
        [
            "19:18: error: step b: '{{ outputs.aa.ct }}': this plan has no step 'aa' (did you mean 'a'?) (outputs.STEP.NAME names the step that declares NAME)",
        ],
    ),
    "duplicated-params": (
        plan(
            STEP.replace('"true"', '"{{ params.x }} {{ params.y }}"')
            + STEP.replace("id: a", "id: b").replace('"true"', '"{{ params.x }}"')
            + STEP.replace("id: a", "id: c").replace('"true"', '"{{ params.x }}"'),
            top="params: {x: '1', y: '2'}\nparams: {z: '3'}\n",
        ),
        [
            "5:1: error: duplicate key 'params' (first at line 4) (remove one: YAML would silently keep only the last)",
            "15:18: error: step a: unknown parameter 'x': declare it under params: at the top of the plan (and 2 more uses of this parameter)",
            "15:18: error: step a: unknown parameter 'y': declare it under params: at the top of the plan",
        ],
    ),
    "duplicated-step-id": (
        plan(STEP + STEP.replace("id: a", "id: b") + STEP + "        depends_on: [b]\n"),
        [
            "19:13: error: step a: duplicate step id 'a' (first used at line 9) (step ids are the resume keys: make each one unique)",
        ],
    ),
    "producer-output-typo": (
        plan(
            STEP
            + "        outputs: {ctid_: {regex: '(.*)'}}\n"
            + STEP.replace("id: a", "id: b").replace('"true"', '"echo {{ outputs.a.ctid }}"')
            + STEP.replace("id: a", "id: c").replace('"true"', '"echo {{ outputs.a.ctid }}"')
        ),
        [
            "14:19: error: step a: step a declares output 'ctid_', which no step uses, but 2 uses ask for 'ctid' (first at line 19) (rename it to ctid, or fix the spelling of the uses)",
        ],
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_mistake_is_reported_once_at_its_place(tmp_path: Path, name: str) -> None:
    text, expected = CASES[name]
    (tmp_path / "inventory.yaml").write_text(INVENTORY)
    path = tmp_path / "p.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    _, problems = check_plan(path)
    assert [str(p).removeprefix(f"{path}:") for p in problems] == expected


TUNNELS = """\
name: t
hosts:
  off2/ct:101: {public: true, public_addresses: [proxy1.example.org]}
  ovh1/ct:113: {public: false, private_addresses: [10.1.0.113]}
tunnels:
  - service: MongoDB
    server: {host: off2/ct:101, accept: ":::16000", connect: "10.0.0.102:27017"}
    clients:
      - {host: ovh1/ct:113, accept: "10.1.0.113:27017", connect: "proxy1.example.org:16000"}
    psk: {name: mongodb, identity: mongodb-ovh1, secret: env:PSK_MONGODB}
"""


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            'connect: "10.0.0.102:27017"',
            "conect: 10.0.0.102:27017",
            ["7:53: error: unknown field 'conect' (did you mean 'connect'?) (remove it or fix its spelling)"],
        ),
        (
            'connect: "10.0.0.102:27017"',
            "connect: !!binary aGVsbG8=",
            [
                "7:62: error: YAML tag '!!binary' is not allowed in this file "
                "(remove the tag and write the value plainly (quote it if it is text))"
            ],
        ),
        (
            "public: false",
            "public: maybe",
            ["4:25: error: public must be true or false; got 'maybe'"],
        ),
    ],
    ids=["misspelt-field", "binary-address", "not-a-bool"],
)
def test_tunnel_file_messages_read_like_plan_messages(
    tmp_path: Path, old: str, new: str, expected: list[str]
) -> None:
    assert old in TUNNELS
    path = tmp_path / "tunnels.yaml"
    path.write_text(TUNNELS.replace(old, new))
    assert [str(p).removeprefix(f"{path}:") for p in check_file(path)] == expected


def test_an_oversized_file_is_refused_at_once_with_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    with path.open("wb") as out:
        out.truncate(MAX_BYTES + 1)
    done = subprocess.run(
        [sys.executable, "-m", "migrator", "validate", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert (
        done.stdout == f"{path}:1:1: error: the file is 16.0 MiB; the limit is 16 MiB (a plan this large is "
        "not written by hand: check that it is the right file)\n"
    )
