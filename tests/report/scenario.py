"""A small rehearsal, run for real: local steps through the real executors, a real SQLite store.

The plan has a step that fails once and is retried, a manual step whose checklist the
operator confirms with notes, a step skipped with a reason, a step that fails and is marked
done by hand, a plan amendment accepted on resume, checks, outputs (one secret), rollbacks
and an irreversible point of no return. Its window phase title contains ``<script>``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from migrator.engine.runner import RunOptions, RunReport, resume_run, start_run
from migrator.executors.base import ChecklistAnswer
from migrator.executors.registry import Executors
from migrator.plan.load import LoadedPlan, load_plan
from migrator.secrets import Redactor
from migrator.store.db import Store

SECRET = "s3cr3t-token-value"
EVIDENCE_NOTE = "PERC switched to HBA mode at 11:26, photo in the ticket"
SKIP_REASON = "caches warm themselves after the switch"
MARK_DONE_REASON = "started by hand with systemctl start app"
AMEND_REASON = "added the notification step after the dry-run"
SCRIPT_TITLE = "Copy <script>alert(1)</script> data"

INVENTORY = {"name": "lab", "environment": "lab", "hosts": {}}


@dataclass
class OperatorDouble:
    """Answers like an operator at a terminal: yes, the checklist with notes, scripted choices."""

    choices: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    interactive: bool = True
    asked: list[str] = field(default_factory=list)

    def confirm(self, question: str, *, expect: str | None = None) -> bool:
        self.asked.append(question)
        return True

    def checklist(self, title: str, instructions: str, items: list[str]) -> ChecklistAnswer | None:
        self.asked.append(title)
        return ChecklistAnswer([True] * len(items), evidence=EVIDENCE_NOTE)

    def choose(self, question: str, choices: list[str]) -> str:
        self.asked.append(question)
        return self.choices.pop(0)

    def text(self, question: str) -> str:
        self.asked.append(question)
        return self.texts.pop(0)


def local(step_id: str, command: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": step_id,
        "title": extra.pop("title", f"Step {step_id}"),
        "kind": "local",
        "command": command,
        **extra,
    }


def plan_steps(work: Path, *, amended: bool = False) -> dict[str, list[dict[str, Any]]]:
    counter = work / "tries"
    before = [
        local(
            "prep",
            # The token is made at run time, as a real tool makes one: the plan text (and the
            # command the journal records) never holds a secret output's value.
            f"echo snapshot $(echo ready); printf 'token=%s-%s\\n' {SECRET.rsplit('-', 1)[0]} "
            f"{SECRET.rsplit('-', 1)[1]}; touch {work}/prep",
            title="Snapshot the data",
            estimate="1m",
            outputs={
                "snap": {"regex": r"snapshot (\w+)"},
                "token": {"regex": r"token=(\S+)", "secret": True},
            },
            rollback={"command": "echo undo snapshot", "estimate": "2m"},
            post=[{"kind": "command", "command": f"test -f {work}/prep", "description": "snapshot marker"}],
        ),
    ]
    window = [
        local(
            "flaky",
            f"echo copying; echo try >> {counter}; test $(wc -l < {counter}) -ge 2",
            title=SCRIPT_TITLE,
            retries=1,
            retry_delay=0,
            estimate="5m",
            rollback={"command": "echo restore", "estimate": "10m"},
        ),
        {
            "id": "console",
            "title": "Reinstall from the iDRAC console",
            "kind": "manual",
            "instructions": "On the rear screen: F2, set the PERC to HBA mode, install PVE.",
            "checklist": ["PERC in HBA mode", "ZFS RAID1 on the 4 HDDs"],
            "estimate": "30m",
            "rollback": {"instructions": "Boot the old system disk", "estimate": "20m"},
        },
        local("optional", "echo warming", title="Warm the caches", estimate="2m"),
        local(
            "broken",
            "echo starting app >&2; exit 4",
            title="Start the app",
            estimate="1m",
            rollback={"command": "echo stop app"},
        ),
        local(
            "switch",
            "echo switched",
            title="Switch DNS to the new host",
            estimate="1m",
            irreversible="DNS caches keep the new address for the TTL",
            point_of_no_return=True,
        ),
    ]
    if amended:
        window.append(local("notify", "echo told the team", title="Tell the team on Slack"))
    return {"before": before, "window": window}


def write_plan(work: Path, *, amended: bool = False, length: str = "4h", start: str | None = None) -> Path:
    steps = plan_steps(work, amended=amended)
    window: dict[str, Any] = {"length": length}
    if start is not None:
        window["start"] = start
    plan = {
        "name": "rehearse",
        "title": "Rehearsal of a small move",
        "inventory": "inventory.yaml",
        "window": window,
        "phases": [
            {"id": "before", "title": "Preparation", "where": "before", "steps": steps["before"]},
            {"id": "downtime", "title": "Downtime", "where": "window", "steps": steps["window"]},
        ],
    }
    (work / "inventory.yaml").write_text(yaml.safe_dump(INVENTORY))
    path = work / "rehearse.yaml"
    path.write_text(yaml.safe_dump(plan, sort_keys=False))
    return path


def executors(loaded: LoadedPlan, prompter: OperatorDouble, redactor: Redactor) -> Executors:
    return Executors(
        loaded.inventory, inventory_dir=loaded.inventory_path.parent, prompter=prompter, redactor=redactor
    )


@dataclass
class Rehearsal:
    store: Store
    plan_path: Path
    run_id: int
    first: RunReport
    final: RunReport


def rehearse(store: Store, work: Path) -> Rehearsal:
    """Run the rehearsal: it stops on ``broken``; the plan is amended; resume marks it done."""
    path = write_plan(work)
    loaded = load_plan(path)
    prompter, redactor = OperatorDouble(), Redactor()
    first = start_run(
        store,
        loaded,
        executors(loaded, prompter, redactor),
        prompter,
        RunOptions(mode="rehearsal", skip={"optional": SKIP_REASON}, sleep=lambda s: None),
        redactor=redactor,
    )
    assert first.status == "failed", first
    path = write_plan(work, amended=True)
    loaded = load_plan(path)
    final = resume_run(
        store,
        loaded,
        first.run_id,
        executors(loaded, prompter, redactor),
        prompter,
        options=RunOptions(
            mode="rehearsal",
            mark_done={"broken": MARK_DONE_REASON},
            accept_plan_change=AMEND_REASON,
            sleep=lambda s: None,
        ),
        redactor=redactor,
    )
    assert final.status == "completed", final
    return Rehearsal(store, path, first.run_id, first, final)
