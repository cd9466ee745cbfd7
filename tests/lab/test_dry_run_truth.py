"""Dry-run and preflight tell the truth about a fresh lab, through the CLI (issue 12).

On a fresh lab (off1 before its move), ``migrator run off1 --dry-run`` then the real run:
every step the dry-run called ``already_done`` is not executed by the run (the old dry-run
called 13 steps already done from ``mark_done`` pre-checks whose probes could not even run:
``pct: command not found``, an API ``no such container``, a missing file; the run then did
them all). ``migrator preflight off1`` on the fresh lab exits 1 (NO-GO) listing the halt
checks that do not hold or cannot tell (the old preflight printed them, then GO, exit 0).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from migrator.store.db import Store
from tests.lab.test_rehearsal import OffLab, off_lab  # noqa: F401 - the module's own lab

VERDICT_LINE = re.compile(r"^\s*(already_done|would_run|cannot_know|cannot_tell|would_fail) (\S+) - ")


def _off1_step_ids() -> set[str]:
    """Every step of the real off1 plan, read from the file (the plan grows; no fixed count)."""
    plan = yaml.safe_load((Path(__file__).parents[2] / "plans/off1.yaml").read_text())
    return {step["id"] for phase in plan["phases"] for step in phase["steps"]}


def _inventory(lab: OffLab) -> str:
    return str(lab.dir / "inventory.yaml")


def _db(lab: OffLab) -> str:
    return str(lab.dir / "state.db")


def _verdicts(stdout: str) -> dict[str, str]:
    """step -> verdict, from the dry-run's status lines (the same on old and new code)."""
    found = {}
    for line in stdout.splitlines():
        match = VERDICT_LINE.match(line)
        if match:
            found[match.group(2)] = match.group(1)
    return found


def _executed(db: str, run_id: int) -> set[str]:
    """Steps whose action the run launched (a ``launch`` in the step's journal)."""
    store = Store.open(db)
    try:
        return {e.step_id for e in store.journal(run_id) if e.trigger == "launch" and e.step_id}
    finally:
        store.close()


def test_preflight_on_a_fresh_lab_is_no_go_listing_the_failing_halt_checks(off_lab: OffLab) -> None:  # noqa: F811
    result = off_lab.migrator("preflight", "off1", "--inventory", _inventory(off_lab), "--db", _db(off_lab))
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-2000:]
    out = result.stdout
    assert "NO-GO" in out and "\nGO " not in out
    listed = out[out.index("failing halt checks:") :]
    # The probes that used to be read as verdicts are listed as what they are.
    assert "cannot tell" in listed and "pct: command not found" in listed, listed
    assert "no such container 102" in listed, listed
    assert "does not hold" in listed, listed
    # One row per step, with its host, and a summary by phase.
    assert re.search(r"^\s*\d+\s+ct102-create\s+off1\s+cannot_know\b", out, re.MULTILINE), out
    assert "by phase" in out and "  window: " in out

    as_json = off_lab.migrator(
        "preflight", "off1", "--format", "json", "--inventory", _inventory(off_lab), "--db", _db(off_lab)
    )
    assert as_json.returncode == 1, as_json.stderr
    sheet = json.loads(as_json.stdout)
    assert sheet["go"] is False and sheet["mode"] == "preflight"
    rows = {row["step"]: row for row in sheet["steps"]}
    assert set(rows) == _off1_step_ids() and rows["ct102-create"]["host"] == "off1"
    failing = [f for row in sheet["steps"] for f in row["failing"]]
    assert {f["outcome"] for f in failing} == {"does_not_hold", "cannot_tell"}
    assert all(f["message"] for f in failing)


def test_what_the_dry_run_calls_already_done_the_run_does_not_execute(off_lab: OffLab) -> None:  # noqa: F811
    dry = off_lab.migrator(
        "run", "off1", "--dry-run", "--inventory", _inventory(off_lab), "--db", _db(off_lab)
    )
    assert dry.returncode in (0, 1), dry.stdout[-3000:] + dry.stderr[-2000:]
    verdicts = _verdicts(dry.stdout)
    assert set(verdicts) == _off1_step_ids(), dry.stdout[-3000:]
    # Steps whose probes cannot run on the old system are not done; the dry-run says why.
    for sid in ("destroy-old-rpool", "ct102-create", "ct102-start", "network-vmbr1"):
        assert verdicts[sid] != "already_done", (sid, verdicts[sid])
    already = {sid for sid, verdict in verdicts.items() if verdict == "already_done"}

    as_json = off_lab.migrator(
        "run", "off1", "--dry-run", "--format", "json",
        "--inventory", _inventory(off_lab), "--db", _db(off_lab),
    )  # fmt: skip
    report = json.loads(as_json.stdout)  # nothing but the JSON on stdout
    assert {row["step"]: row["verdict"] for row in report["steps"]} == verdicts
    waits = {row["step"]: row["until"] for row in report["steps"] if row["verdict"] == "cannot_know"}
    # cannot_know names the step whose effect the check waits for: the reinstall, not the first
    # step of the plan that happens to act on off1.
    # (network-vmbr1 has no pre-check since its done_when reads the kernel's route: it would run.)
    assert waits["ct102-start"] == "install-pve", waits

    # The rehearsal may stop short of the end on a machine whose /etc/hosts the lab copies
    # without a 127.0.1.1 line (etc-hosts' post-check on off2, on main too); every step it
    # reached is judged.
    run = off_lab.migrator(*off_lab.run_argv())
    assert run.returncode in (0, 1), run.stdout[-3000:] + run.stderr[-2000:]
    match = re.search(r"starting run (\d+)", run.stdout)
    assert match is not None, run.stdout[:500]
    executed = _executed(_db(off_lab), int(match.group(1)))
    assert len(executed) >= 30 and "ct102-create" in verdicts, (executed, run.stdout[-2000:])
    assert {"destroy-old-rpool", "network-vmbr1", "user-off"} <= executed, executed
    twice = already & executed
    assert twice == set(), f"called already_done by the dry-run, then executed by the run: {twice}"
