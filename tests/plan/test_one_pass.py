"""Several mistakes come back together, and odd input is a problem, never an exception."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from migrator.plan import source as source_module
from migrator.plan.load import check_plan
from migrator.plan.params import substitute_outputs
from migrator.plan.source import parse_yaml

BROKEN = Path(__file__).resolve().parent.parent / "data" / "broken"

THREE_MISTAKES = """\
name: three
title: Three independent mistakes
inventory: inventory.yaml
phases:
  - id: prepare
    title: Before the window
    where: before
    steps:
      - id: check-pools
        title: Pools are healthy
        host: of2
        kind: ssh
        command: zpool status -x
      - id: list-pools
        title: List the pools
        host: off1
        kind: ssh
        command: zpool list
        kind: ssh
      - id: stop-db
        title: Stop the database
        host: off1
        kind: ssh
        command: systemctl stop mongod
        timeout: 5 minutes
"""


def _write(tmp_path: Path, name: str, text: str) -> Path:
    (tmp_path / "inventory.yaml").write_text((BROKEN / "inventory.yaml").read_text())
    plan = tmp_path / name
    plan.write_text(text)
    return plan


def test_three_independent_mistakes_in_one_pass(tmp_path: Path) -> None:
    plan = _write(tmp_path, "three.yaml", THREE_MISTAKES)
    loaded, problems = check_plan(plan)
    assert loaded is None
    assert [str(p).replace(f"{tmp_path}/", "") for p in problems] == [
        "three.yaml:19:9: error: duplicate key 'kind' (first at line 17) "
        "(remove one: YAML would silently keep only the last)",
        "three.yaml:11:15: error: step check-pools: unknown host 'of2' (did you mean 'off2'?) "
        "(hosts in inventory 'lab': off1, off2)",
        "three.yaml:25:18: error: step stop-db: timeout: '5 minutes' is not a duration: "
        "write it like 45s, 10m, 1h30m or 2d",
    ]


def test_a_missing_plan_file_is_a_problem_not_an_exception(tmp_path: Path) -> None:
    loaded, problems = check_plan(tmp_path / "nope.yaml")
    assert loaded is None
    assert [str(p) for p in problems] == [
        f"{tmp_path}/nope.yaml:1:1: error: cannot read the file: No such file or directory "
        "(check the path and its permissions)"
    ]


def test_a_directory_given_as_plan_is_a_problem(tmp_path: Path) -> None:
    loaded, problems = check_plan(tmp_path)
    assert loaded is None
    assert [p.message for p in problems] == ["cannot read the file: Is a directory"]


def test_an_explicit_missing_inventory_points_at_the_inventory(tmp_path: Path) -> None:
    loaded, problems = check_plan(BROKEN / "unknown-param.yaml", inventory=tmp_path / "lab.yaml")
    assert loaded is None
    assert [str(p) for p in problems] == [
        f"{tmp_path}/lab.yaml:1:1: error: inventory file {tmp_path}/lab.yaml does not exist "
        "(create it or pass --inventory FILE)"
    ]


# The same YAML mistakes, in our words whichever parser PyYAML was built with.
SYNTAX = {
    "a: b: c\n": "1:5: a 'key: value' cannot start here",
    "a:\n\tb: 1\n": "2:1: a tab character; YAML indents with spaces only",
    "a: 'abc\nb: 2\n": "1:4: a quoted value is never closed",
    "a: [1, 2\nb: 3\n": "1:4: a [list] or {mapping} written on one line is not closed properly",
    "a: 1\n---\nb: 2\n": "2:1: a second YAML document ('---'); a file holds one",
    "a:\n    b: 1\n  c: 2\n": "3:3: this line does not line up with the keys of its mapping",
    "a:\n  - 1\n  b: 2\n": "3:3: a 'key: value' where a '- item' was expected, or the reverse",
    "a: @x\n": "1:4: a value cannot start with this character (@, ` and % are reserved)",
    "a: *nope\n": "1:4: '*name' refers to no '&name' anchor above",
}


@pytest.mark.parametrize(
    "loader", [yaml.SafeLoader, getattr(yaml, "CSafeLoader", yaml.SafeLoader)], ids=["python", "libyaml"]
)
@pytest.mark.parametrize("text", sorted(SYNTAX))
def test_yaml_syntax_errors_read_the_same_with_either_parser(
    monkeypatch: pytest.MonkeyPatch, loader: type, text: str
) -> None:
    monkeypatch.setattr(source_module, "_Loader", loader)
    data, _, issues = parse_yaml(text, "f.yaml")
    assert data is None
    assert [
        f"{i.position.line}:{i.position.column}: {i.message.removeprefix('YAML syntax error: ')}"
        for i in issues
    ] == [SYNTAX[text]]
    assert all(i.hint for i in issues)


STEP_MISTAKES = {
    # value written -> the exact message for it
    "retries: 50": "retries must be at most 20; got 50",
    "retries: -1": "retries must be at least 0; got -1",
    "timeout: -5": "timeout: '-5' is not a duration: a duration cannot be negative",
    "description: 2024": "description must be a string; got 2024",
    "idempotent: maybe": "idempotent must be true or false; got 'maybe'",
    "checklist: plug in the disk": "checklist must be a list; got 'plug in the disk'",
    "pre: [5]": "pre item 1 must be a mapping of 'key: value'; got 5",
    "pre: [{kind: file, path: /etc/x, mode: '888'}]": "mode '888' is not an octal file mode",
    "pre: [{kind: tcp_open, address: 127.0.0.1, port: ssh}]": "port must be a whole number; got 'ssh'",
    "pre: [{kind: tcp_open, address: 127.0.0.1, prot: 22}]": "unknown field 'prot' (did you mean 'port'?)",
    "pre: [{address: 127.0.0.1, port: 22}]": "a check needs a kind",
    "pre: [{kind: command}]": "missing required field 'command'",
    "until: {kind: tcp_open, address: 127.0.0.1, port: 22, timeout: soon}": (
        "timeout: 'soon' is not a duration: write it like 45s, 10m, 1h30m or 2d"
    ),
    "rollback: {comand: zpool destroy tank}": "unknown field 'comand' (did you mean 'command'?)",
    "lab_effect: reboots": (
        "lab_effect must be one of reinstall, reboot, none; got 'reboots' (did you mean 'reboot'?)"
    ),
}


@pytest.mark.parametrize("line", sorted(STEP_MISTAKES))
def test_schema_mistakes_read_as_sentences(tmp_path: Path, line: str) -> None:
    text = (BROKEN / "unknown-host.yaml").read_text().replace("host: of1", "host: off1") + f"        {line}\n"
    loaded, problems = check_plan(_write(tmp_path, "plan.yaml", text))
    assert loaded is None
    assert [p.message for p in problems] == [STEP_MISTAKES[line]]
    assert problems[0].position.line == 14
    assert problems[0].step_id == "check-pools"


def test_durations_survive_resolution_exactly(tmp_path: Path) -> None:
    """A resolved step is dumped and validated again; 1h30m15s must not come back as 1h30m."""
    text = (BROKEN / "unknown-host.yaml").read_text().replace("host: of1", "host: off1")
    text += "        timeout: 1h30m15s\n        retry_delay: 2d1s\n"
    loaded, problems = check_plan(_write(tmp_path, "plan.yaml", text))
    assert problems == []
    assert loaded is not None
    step = loaded.step("check-pools")
    assert (step.timeout, step.retry_delay) == (5415, 172801)
    assert substitute_outputs(step, {}) == step


SCALARS = """\
plain: Step 12 copies dataset 12
letters: [yes, No, on, off, true, False, null, Null, ~, '', "", y, n]
numbers: [0, 7, -3, +4, 12.5, .5, -.inf, .NaN, 1e3, 6m, 1h30m, 10s]
dates: [2026-12-18, 2026-12-18T08:00:00+01:00]
quoted: ['12', "true", '~', "null"]
empty:
block: |
  zfs send a |
  ssh b
folded: >
  one
  two
odd: [<, '<<', "!x", '&y', '*z', -, ., +]
"""


def test_the_fast_reading_gives_the_values_of_the_full_reading() -> None:
    """The reading from parser events (most files) and the one through nodes (files with
    something to say) agree on every kind of scalar, types included."""
    fast = source_module._read_plain(SCALARS)
    builder = source_module._Builder("f.yaml", SCALARS)
    full = builder.build(yaml.compose(SCALARS, Loader=source_module._CachedLoader), ())
    assert not builder.issues
    assert repr(fast) == repr(full)
    assert fast["letters"][:4] == [True, False, True, False] and fast["quoted"] == ["12", "true", "~", "null"]
