"""The printable runbook: what someone needs on paper when the laptop dies."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from migrator.estimates import learned
from migrator.plan.load import LoadedPlan, load_plan
from migrator.render import render_markdown
from migrator.render.markdown import code, code_block
from migrator.render.words import shell_text
from tests.render.plans import ssh, write_plan

OFF1 = Path(__file__).resolve().parent / "data" / "off1-skeleton.yaml"  # frozen: the figures depend on it


@pytest.fixture(scope="module")
def off1() -> LoadedPlan:
    return load_plan(OFF1)


@pytest.fixture(scope="module")
def runbook(off1: LoadedPlan) -> str:
    return render_markdown(off1)


def section(text: str, step_id: str) -> str:
    """The markdown of one step: from its heading to the next heading."""
    match = re.search(rf"^### \[ \] \d+\. `{re.escape(step_id)}`.*?(?=^##)", text + "\n## ", re.M | re.S)
    assert match is not None, step_id
    return match.group(0)


def test_title_and_summary(runbook: str) -> None:
    assert runbook.startswith("# off1 to Proxmox VE\n")
    assert "**Planned downtime: 4h15m**" in runbook
    assert "Window 10h, slack 5h45m." in runbook
    assert "| **Total** | | 11 | 4h21m |" in runbook
    assert "Inventory: **production** (production)" in runbook


def test_every_step_has_a_numbered_checkbox_heading_in_order(off1: LoadedPlan, runbook: str) -> None:
    headings = re.findall(r"^### \[ \] (\d+)\. `([^`]+)`", runbook, re.M)
    assert headings == [(str(n), s.id) for n, s in enumerate(off1.plan.steps(), start=1)]


def test_every_step_has_room_to_sign_it_off(off1: LoadedPlan, runbook: str) -> None:
    assert runbook.count("done at __:__ by ____") == len(off1.plan.steps())


def test_commands_are_exact_in_code_blocks(off1: LoadedPlan, runbook: str) -> None:
    for step in off1.plan.steps():
        if step.command is not None:
            exact = shell_text(step.command).rstrip("\n")  # a folded YAML scalar ends in a newline
            assert f"```sh\n{exact}\n```" in section(runbook, step.id)


def test_checks_are_checkboxes_with_their_probe(runbook: str) -> None:
    zfs = section(runbook, "zfs-hdd-create")
    assert "**Done when (all hold: already done, the action is skipped)**" in zfs and "**Post-checks**" in zfs
    assert "- [ ] zfs-hdd exists (if it does not hold or cannot tell: not done, run the step)" in zfs
    pools = section(runbook, "pools-healthy-before")
    assert "- [ ] every pool on off2 is healthy (stop if it fails or cannot tell)" in pools
    assert "  - on `off2`: `zpool status -x`" in pools


def test_manual_checklists_are_checkboxes(off1: LoadedPlan, runbook: str) -> None:
    hardware = section(runbook, "hardware")
    assert "Photograph the cables" in hardware
    for item in off1.step("hardware").checklist:
        assert f"- [ ] {item}" in hardware


def test_wait_step_shows_the_check_it_waits_for(runbook: str) -> None:
    boot = section(runbook, "first-boot")
    assert "Wait (probe every 10s) until:" in boot
    assert "TCP 213.36.253.206" in boot
    assert "on `local`" in boot


def test_rollback_and_irreversible_reasons(runbook: str) -> None:
    zfs = section(runbook, "zfs-hdd-create")
    assert "**Rollback**" in zfs
    assert "```sh\nzpool destroy zfs-hdd\n```" in zfs
    assert "Takes about 1m." in zfs
    assert "Destructive:" in zfs
    join = section(runbook, "cluster-join")
    assert "Irreversible:** leaving a cluster means reinstalling the node" in join
    assert "Go/no-go decided by ____" in join
    assert "Go/no-go" not in zfs


def test_estimates_and_dependencies(off1: LoadedPlan) -> None:
    text = render_markdown(off1, estimates=learned(off1.plan, {"install-pve": [3000, 3600, 4200]}))
    assert "estimate 1h (measured, n=3)" in section(text, "install-pve")
    assert "estimate 5m (written)" in section(text, "rpool-unique")
    assert "estimate 3h" in section(text, "hardware")
    assert "Depends on: `zfs-hdd-create`, `cluster-fingerprint`" in section(text, "cluster-join")
    assert "**Planned downtime: 4h30m**" in text


def test_backticks_in_a_command_do_not_break_the_fences(tmp_path: Path) -> None:
    command = "echo ```; echo `hostname`"
    loaded = write_plan(tmp_path, window=[ssh("ticks", "1m", command=command)])
    text = render_markdown(loaded)
    assert f"````sh\n{command}\n````" in text
    assert code("a `b` c") == "``a `b` c``"
    assert code_block("x") == ["```sh", "x", "```"]


def test_markup_in_titles_is_escaped(tmp_path: Path) -> None:
    loaded = write_plan(tmp_path, window=[ssh("pipes", "1m", title="Check a|b and <html> *now*")])
    assert r"Check a\|b and \<html> \*now\*" in render_markdown(loaded)


def test_unestimated_steps_are_warned(tmp_path: Path) -> None:
    loaded = write_plan(tmp_path, window=[ssh("known", "5m"), ssh("unknown")])
    text = render_markdown(loaded)
    assert "In-window steps without an estimate (counted as 0): `unknown`" in text
    assert "estimate ?" in section(text, "unknown")
