"""Every plan in tests/data/broken/ holds ONE mistake; the loader must say what, where and what to do.

The expected lines are written by hand, read for what a sysadmin needs, and compared word for
word (file:line:column included). A new broken plan without an entry here fails the test.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from migrator.errors import PlanError
from migrator.plan.load import check_plan, load_plan
from migrator.plan.problems import Severity

BROKEN = Path(__file__).resolve().parent.parent / "data" / "broken"
MARK_DONE_RETIRED = (
    "on_fail: mark_done is retired (a failing 'not done yet' check marked the step done, and so did a probe "
    "that could not run) (move the check to the step's `done_when:` list and state it positively "
    "(exists: false -> true, exit_code: 1 -> 0, stdout_contains -> stdout_lacks): the step is already done "
    "only when every done_when check holds)"
)

KINDS = (
    "command, tcp_open, tcp_closed, listening_only_on, systemd_active, zpool_healthy, zpool_unique, "
    "zfs_dataset, pve_quorate, pve_storage_active, file, http_status, pve_api"
)

# file -> the exact lines check_plan reports (directory of the broken plans stripped).
EXPECTED: dict[str, list[str]] = {
    "bad-regex.yaml": [
        "bad-regex.yaml:17:29: error: step check-pools: stdout_matches 'ONLINE(' is not a valid regular "
        "expression: missing ), unterminated subpattern at position 6 "
        "(Python re syntax; put a backslash before ( ) [ ] . * + ? meant literally)",
    ],
    "bad-step-id.yaml": [
        "bad-step-id.yaml:9:13: error: step Check Pools: id 'Check Pools' is not valid: use lower-case "
        "letters, digits, '.', '_' or '-', starting with a letter or digit",
    ],
    "check-command-not-text.yaml": [
        "check-command-not-text.yaml:15:38: error: step check-pools: command must be a string or a list "
        "of strings; got 42",
    ],
    "cyclic-depends-on.yaml": [
        "cyclic-depends-on.yaml:14:21: error: step a: depends_on forms a cycle: a -> b -> a "
        "(remove one of these dependencies)",
    ],
    "dangling-depends-on.yaml": [
        "dangling-depends-on.yaml:19:22: error: step create-pool: depends_on 'check-pool', which is not a "
        "step of this plan (did you mean 'check-pools'?) (depends_on lists step ids of this plan)",
    ],
    "depends-on-not-a-list.yaml": [
        "depends-on-not-a-list.yaml:19:21: error: step list-pools: depends_on must be a list; got "
        "'check-pools' (write [a, b] or one '- item' per line, even for a single item)",
    ],
    "destructive-without-rollback.yaml": [
        "destructive-without-rollback.yaml:14:9: error: step create-pool: destructive step has neither "
        "rollback nor irreversible (add rollback: {command: ...} or irreversible: 'why it cannot be undone')",
    ],
    "duplicate-step-id.yaml": [
        "duplicate-step-id.yaml:14:13: error: step check-pools: duplicate step id 'check-pools' (first used "
        "at line 9) (step ids are the resume keys: make each one unique)",
    ],
    "duplicate-yaml-key.yaml": [
        "duplicate-yaml-key.yaml:14:9: error: duplicate key 'host' (first at line 11) "
        "(remove one: YAML would silently keep only the last)",
    ],
    "empty.yaml": [
        "empty.yaml:1:1: error: the file is empty: a plan is a mapping with name, title, inventory and "
        "phases (start with 'name: ...' at the left margin; see 'Plan format')",
    ],
    "inline-password-proxmox.yaml": [
        "inline-password-proxmox.yaml:18:23: error: step create-ct: 'password' holds an inline secret; "
        "plans must only reference secrets (move the value to the environment or a file and write "
        "env:NAME or file:PATH)",
    ],
    "inline-secret-psk.yaml": [
        "inline-secret-psk.yaml:15:16: error: step write-psk: secret 'PSK' is a literal value; secrets must "
        "be references (write env:NAME or file:PATH and keep the value out of the plan)",
    ],
    "literal-token-secret.yaml": [  # the mistake is in the inventory the plan names
        "inventory-literal-token.yaml:12:19: error: proxmox endpoint 'off1': token_secret is a literal "
        "value (write env:NAME or file:PATH; never the token itself)",
    ],
    "local-step-with-host.yaml": [
        "local-step-with-host.yaml:11:15: error: step idrac-reachable: a local step runs on this machine, "
        "not on 'off1' (remove host:, or use kind: ssh)",
    ],
    "malformed-duration.yaml": [
        "malformed-duration.yaml:14:18: error: step check-pools: timeout: '5 minutes' is not a duration: "
        "write it like 45s, 10m, 1h30m or 2d",
    ],
    "manual-without-instructions.yaml": [
        "manual-without-instructions.yaml:12:15: error: step cable-off1: a manual step needs instructions "
        "or a checklist (say what the person does, item by item)",
    ],
    "mark-done-on-post.yaml": [
        f"mark-done-on-post.yaml:16:56: error: step create-pool: {MARK_DONE_RETIRED}",
    ],
    "mark-done-retired.yaml": [
        f"mark-done-retired.yaml:16:72: error: step create-pool: {MARK_DONE_RETIRED}",
    ],
    "missing-inventory-file.yaml": [
        "missing-inventory-file.yaml:3:12: error: inventory file 'inventroy.yaml' not found (looked for "
        "inventroy.yaml) (did you mean 'inventory.yaml'?) (fix inventory:, a path relative to the plan, "
        "or pass --inventory FILE)",
    ],
    "missing-phases.yaml": [
        "missing-phases.yaml:1:1: error: missing required field 'phases' (add phases: ...)",
    ],
    "output-nobody-produces.yaml": [
        "output-nobody-produces.yaml:20:18: error: step join-cluster: "
        "'{{ outputs.read-fingerprint.fingerprnt }}': no step produces output 'fingerprnt' "
        "(step read-fingerprint declares: fingerprint) "
        "(declare it under outputs: of the step that makes it)",
    ],
    "output-of-later-step.yaml": [
        "output-of-later-step.yaml:13:18: error: step join-cluster: "
        "'{{ outputs.read-fingerprint.fingerprint }}': step read-fingerprint does not run before this step "
        "(add read-fingerprint to depends_on)",
    ],
    "proxmox-host-without-endpoint.yaml": [
        "proxmox-host-without-endpoint.yaml:11:15: error: step list-cts: inventory 'lab' has no Proxmox "
        "endpoint for 'off2' (add it under proxmox: in the inventory)",
    ],
    "proxmox-method-lowercase.yaml": [
        "proxmox-method-lowercase.yaml:13:24: error: step list-cts: method must be 'GET', 'POST', 'PUT' or "
        "'DELETE'; got 'get' (did you mean 'GET'?)",
    ],
    "reconnect-for-without-detach.yaml": [
        "reconnect-for-without-detach.yaml:14:9: error: step seed: reconnect_for applies to detached steps "
        "(how long to follow a job through a lost connection) (add detach: true, or remove reconnect_for:)",
    ],
    "rollback-and-irreversible.yaml": [
        "rollback-and-irreversible.yaml:15:9: error: step create-pool: a step cannot have both rollback and "
        "irreversible (keep the one that is true)",
    ],
    "self-dependency.yaml": [
        "self-dependency.yaml:14:22: error: step check-pools: a step cannot depend on itself "
        "(remove check-pools from its depends_on)",
    ],
    "ssh-without-command.yaml": [
        "ssh-without-command.yaml:12:15: error: step check-pools: an ssh step needs a command "
        "(add command: a shell string, or a list [program, arg, ...])",
    ],
    "stdin-secret-undeclared.yaml": [
        "stdin-secret-undeclared.yaml:16:23: error: step write-psk: stdin_secret 'TUNNEL_PSK' is not one of "
        "this step's secrets (declared: PSK) (declare it under secrets: with env:NAME or file:PATH)",
    ],
    "top-level-list.yaml": [
        "top-level-list.yaml:1:1: error: the file holds a list, not a mapping: "
        "a plan is a mapping with name, title, inventory and phases "
        "(start with 'name: ...' at the left margin; see 'Plan format')",
    ],
    "unknown-check-field.yaml": [
        "unknown-check-field.yaml:17:13: error: step check-pools: unknown field 'stdout_contain' "
        "(did you mean 'stdout_contains'?) (remove it or fix its spelling)",
    ],
    "unknown-check-kind.yaml": [
        "unknown-check-kind.yaml:15:19: error: step check-pools: unknown check kind 'zpool_healty' "
        f"(did you mean 'zpool_healthy'?) (kinds: {KINDS})",
    ],
    "unknown-host-reference.yaml": [
        "unknown-host-reference.yaml:13:18: error: step ping-cluster: '{{ hosts.nope.address }}' names host "
        "'nope', which inventory 'lab' does not have; hosts: off1, off2",
    ],
    "unknown-host.yaml": [
        "unknown-host.yaml:11:15: error: step check-pools: unknown host 'of1' (did you mean 'off1'?) "
        "(hosts in inventory 'lab': off1, off2)",
    ],
    "unknown-param.yaml": [
        "unknown-param.yaml:13:18: error: step ping-cluster: unknown parameter 'cluster_ip': declare it "
        "under params: at the top of the plan",
    ],
    "unknown-step-field.yaml": [  # one typo, one line: no "missing required field 'title'" as well
        "unknown-step-field.yaml:10:9: error: step check-pools: unknown field 'titel' "
        "(did you mean 'title'?) (remove it or fix its spelling)",
    ],
    "wait-without-until.yaml": [
        "wait-without-until.yaml:12:15: error: step first-boot: a wait step needs until: a check that passes "
        "when the wait is over (e.g. until: {kind: tcp_open, address: ..., port: 22})",
    ],
    "window-step-without-estimate.yaml": [
        "window-step-without-estimate.yaml:19:13: warning: step stop-mongodb: in-window step has no "
        "estimate: the downtime cannot be planned (add estimate: 10m)",
    ],
    "wrong-kind.yaml": [
        "wrong-kind.yaml:12:15: error: step check-pools: kind must be one of ssh, local, proxmox, manual, "
        "wait, stunnel; got 'shh' (did you mean 'ssh'?)",
    ],
    "yaml-bad-indentation.yaml": [
        "yaml-bad-indentation.yaml:11:14: error: YAML syntax error: a 'key: value' cannot start here "
        "(indent this line like the key above it, or quote a value that contains ': ')",
    ],
    "yaml-tab.yaml": [
        "yaml-tab.yaml:7:1: error: YAML syntax error: a tab character; YAML indents with spaces only "
        "(replace the tab with spaces)",
    ],
}

# Plans that load despite their mistake: it is only a warning.
LOADS_WITH_WARNING = {"window-step-without-estimate.yaml"}

# Secret values written into broken plans: no message may repeat them.
LEAKED_VALUES = ("0123456789abcdef0123456789abcdef", "hunter2hunter2", "5f1b2c3d-aaaa-bbbb-cccc-0123456789ab")


def _rendered(problems: Sequence[object]) -> list[str]:
    return [str(p).replace(f"{BROKEN}/", "") for p in problems]


def test_every_broken_plan_has_expectations() -> None:
    plans = {p.name for p in BROKEN.glob("*.yaml") if not p.name.startswith("inventory")}
    assert plans == set(EXPECTED)
    assert len(plans) >= 30


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_broken_plan_reports_its_mistake(name: str) -> None:
    loaded, problems = check_plan(BROKEN / name)
    assert _rendered(problems) == EXPECTED[name]
    if name in LOADS_WITH_WARNING:
        assert loaded is not None
        assert [p.severity for p in problems] == [Severity.WARNING]
        assert loaded.warnings == problems
    else:
        assert loaded is None
    for problem in problems:
        assert problem.position.line >= 1 and problem.position.column >= 1
        assert not any(value in str(problem) for value in LEAKED_VALUES)


@pytest.mark.parametrize("name", sorted(set(EXPECTED) - LOADS_WITH_WARNING))
def test_load_plan_raises_with_every_problem(name: str) -> None:
    with pytest.raises(PlanError) as caught:
        load_plan(BROKEN / name)
    assert _rendered(caught.value.problems) == EXPECTED[name]
    assert caught.value.hint == f"run: migrator validate {BROKEN / name}"
    assert EXPECTED[name][0].split(": ", 1)[1] in str(caught.value).replace(f"{BROKEN}/", "")


def test_shipped_plan_is_clean() -> None:
    plans = Path(__file__).resolve().parent.parent.parent / "plans"
    loaded, problems = check_plan(plans / "off1.yaml")
    assert loaded is not None
    assert [str(p) for p in problems] == []
