"""`migrator report RUN` after a real rehearsal: markdown sections and facts, JSON, escaped HTML."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from migrator.cli import cli, main
from migrator.plan.load import load_plan
from migrator.report.change_record import SECTIONS
from migrator.store.db import Store
from migrator.store.dto import Evidence, OutputChunk
from tests.report.scenario import (
    AMEND_REASON,
    EVIDENCE_NOTE,
    INVENTORY,
    MARK_DONE_REASON,
    SECRET,
    SKIP_REASON,
    Rehearsal,
)


def report(db: str, *args: str) -> str:
    result = CliRunner().invoke(cli, ["report", *args, "--db", db], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def section(text: str, title: str) -> str:
    """The markdown between ``## title`` and the next ``## ``."""
    start = text.index(f"## {title}\n")
    end = text.find("\n## ", start + 3)
    return text[start : end if end > 0 else len(text)]


def test_markdown_change_record_has_every_section_and_the_key_facts(
    rehearsal: Rehearsal, db: str, tmp_path: Path
) -> None:
    out = tmp_path / "record.md"
    result = CliRunner().invoke(cli, ["report", str(rehearsal.run_id), "--db", db, "-o", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text()
    run = rehearsal.run_id
    assert text.startswith(f"# Change record: run {run} of rehearse (rehearsal)\n")
    for title in SECTIONS:
        assert f"\n## {title}\n" in text, title

    summary = section(text, "Summary")
    assert "| Inventory | lab (lab) |" in summary
    assert "| Mode | rehearsal |" in summary
    assert "| Status | completed: all steps done |" in summary
    assert "| Steps | 1 skipped, 6 succeeded |" in summary
    # flaky 5m + console 30m + optional 2m + broken 1m + switch 1m, notify has no estimate
    assert "planned 39m, actual " in summary
    assert "| Window | 4h from the run's start |" in summary

    timeline = section(text, "Timeline: planned vs actual")
    assert "| 2 | `flaky` |" in timeline and "| 5m (written) |" in timeline
    assert "| 4 | `optional` | Warm the caches | window | skipped |" in timeline
    flaky_row = next(row for row in timeline.splitlines() if "`flaky`" in row)
    assert flaky_row.rstrip().endswith("| 2 |")  # two attempts

    deviations = section(text, "Deviations, retries, skips and mark-dones")
    assert "`flaky` attempt 1 failed, retried: exit 1" in deviations
    assert f"`optional` skipped: {SKIP_REASON}" in deviations
    assert "`broken` attempt 1 failed: exit 4" in deviations
    assert f"`broken` marked done by hand: operator: {MARK_DONE_REASON}" in deviations
    assert "run stopped on a failure" in deviations and "run resumed" in deviations

    decisions = section(text, "Operator decisions")
    assert f"| `broken` | mark done | mark\\_done | {MARK_DONE_REASON} |" in decisions
    assert "| `switch` | go no go | yes |" in decisions

    evidence = section(text, "Manual steps: evidence")
    assert "### `console` Reinstall from the iDRAC console (attempt 1)" in evidence
    assert "[x] PERC in HBA mode" in evidence and "[x] ZFS RAID1 on the 4 HDDs" in evidence
    assert f"operator notes: {EVIDENCE_NOTE}" in evidence

    amendments = section(text, "Plan amendments")
    assert f": {AMEND_REASON}. added: notify." in amendments

    checks = section(text, "Checks")
    assert "| `prep` | post | 1 | snapshot marker | pass | exit 0 | exit 0 |" in checks

    values = section(text, "Values produced")
    assert "| `prep` | snap | `ready` |" in values
    assert "| `prep` | token | secret: `fingerprint sha256:" in values

    output = section(text, "Output")
    assert "### `notify` Tell the team on Slack (1 line(s), last 1 of attempt 1)" in output
    assert f"Full log: `migrator log {run} --step notify`" in output
    assert "stderr: starting app" in output
    assert "token=***" in output

    rollback = section(text, "Rollback readiness")
    assert "| `switch` | irreversible | - | DNS caches keep the new address for the TTL |" in rollback
    assert "| `flaky` | available | 10m | `echo restore` |" in rollback
    assert "| `console` | available | 20m | Boot the old system disk |" in rollback
    assert "| `notify` | none defined | - |" in rollback
    assert "32m by the estimates. Not undoable: switch." in rollback  # 2m + 10m + 20m

    assert SECRET not in text


def test_tail_keeps_the_last_lines_of_the_last_attempt(rehearsal: Rehearsal, db: str) -> None:
    text = report(db, str(rehearsal.run_id), "--tail", "1")
    output = section(text, "Output")
    assert "### `prep` Snapshot the data (2 line(s), last 1 of attempt 1)" in output
    assert "snapshot ready" not in output and "token=***" in output
    # flaky printed 'copying' in both attempts: 2 lines in all, the tail is attempt 2's
    assert "### `flaky` Copy" in output and "(2 line(s), last 1 of attempt 2)" in output


def test_json_report_parses_and_holds_the_facts(rehearsal: Rehearsal, db: str) -> None:
    doc = json.loads(report(db, str(rehearsal.run_id), "--format", "json"))
    assert doc["format"] == "migrator-change-record" and doc["run_id"] == rehearsal.run_id
    steps = {s["id"]: s for s in doc["steps"]}
    assert steps["optional"]["state"] == "skipped" and steps["optional"]["reason"] == SKIP_REASON
    assert steps["broken"]["reason"] == MARK_DONE_REASON
    assert steps["flaky"]["attempts"] == 2 and steps["flaky"]["failed_attempts"] == 1
    assert steps["flaky"]["estimate"] == {"seconds": 300, "measured": False, "count": 0}
    assert steps["switch"]["rollback"]["status"] == "irreversible"
    assert steps["notify"]["log_command"] == f"migrator log {rehearsal.run_id} --step notify"
    assert doc["planned_downtime"] == 39 * 60 and doc["rollback_total"] == 32 * 60
    assert doc["evidence"][0]["step_id"] == "console"
    assert doc["amendments"][0]["added"] == ["notify"]
    secret = next(v for v in doc["values"] if v["name"] == "token")
    assert secret["secret"] and secret["shown"].startswith("fingerprint sha256:")
    assert SECRET not in json.dumps(doc)


class _WellFormed(HTMLParser):
    VOID = frozenset({"meta", "br", "hr", "img", "link"})

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack[-1] == tag, (tag, self.stack)
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_html_is_one_well_formed_page_with_everything_escaped(rehearsal: Rehearsal, db: str) -> None:
    page = report(db, str(rehearsal.run_id), "--format", "html")
    assert page.startswith("<!DOCTYPE html>")
    parser = _WellFormed()
    parser.feed(page)
    parser.close()
    assert parser.stack == []
    assert "script" not in parser.tags  # the step title's <script> is text, not a tag
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>" not in page
    text = "".join(parser.text)
    assert "Copy <script>alert(1)</script> data" in text
    for title in SECTIONS:
        assert f"<h2>{title}</h2>" in page
    assert "src=" not in page and "href=" not in page  # self-contained
    assert SECRET not in page


def test_a_run_whose_plan_file_is_gone_is_still_reported(rehearsal: Rehearsal, db: str) -> None:
    rehearsal.plan_path.unlink()
    text = report(db, str(rehearsal.run_id))
    notes = section(text, "Notes")
    assert "rehearse.yaml not found: titles, estimates and rollbacks are missing (use --plan)" in notes
    assert "| 2 | `flaky` | flaky |" in section(text, "Timeline: planned vs actual")
    assert "unknown (plan not found)" in section(text, "Rollback readiness")


def test_unknown_run_is_one_clear_line(store: object, db: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["report", "99", "--db", db])
    assert exited.value.code == 2  # an unknown run is a usage error (README, exit codes)
    err = capsys.readouterr().err
    assert "no run 99 in this database" in err and "Traceback" not in err


def test_compare_needs_two_runs(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["report", "--compare", "1", "--db", db])
    assert exited.value.code == 2
    assert "--compare needs two runs" in capsys.readouterr().err


def test_text_is_redacted_again_with_the_secrets_the_plan_refers_to(
    store: Store, db: str, work: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Output recorded before a value was known to the run's redactor is masked in the report."""
    token = "pr0xm0x-api-t0ken-42"
    plan = {
        "name": "leaky",
        "title": "Leaky",
        "inventory": "inventory.yaml",
        "phases": [{"id": "p", "title": "P", "where": "window", "steps": [
            {"id": "api", "title": "Call the API", "kind": "local", "command": "true",
             "secrets": {"TOKEN": "env:REPORT_TEST_TOKEN"}},
        ]}],
    }  # fmt: skip
    (work / "inventory.yaml").write_text(yaml.safe_dump(INVENTORY))
    (work / "leaky.yaml").write_text(yaml.safe_dump(plan, sort_keys=False))
    loaded = load_plan(work / "leaky.yaml")
    run = store.create_run(plan_name="leaky", plan_path=str(loaded.path), plan_fingerprint=loaded.fingerprint,
                           step_hashes={}, inventory_name="lab", mode="rehearsal", operator="t@h",
                           steps=["api"])  # fmt: skip
    store.add_output(run.id, [OutputChunk("api", 1, "stdout", 0, [f"Authorization: {token}"])])
    store.add_evidence(Evidence(run.id, "api", 1, datetime.now(UTC), "t@h", f"pasted {token}", []))

    monkeypatch.setenv("REPORT_TEST_TOKEN", token)
    text = report(db, str(run.id))
    assert token not in text
    assert "Authorization: ***" in text and "pasted ***" in text

    monkeypatch.delenv("REPORT_TEST_TOKEN")
    text = report(db, str(run.id))
    assert "secret references not available here" in section(text, "Notes")
    assert "env:REPORT\\_TEST\\_TOKEN" in section(text, "Notes")


def test_a_rolled_back_step_shows_in_deviations_output_and_readiness(
    store: Store, db: str, work: Path
) -> None:
    from migrator.engine.rollback import rollback_step
    from migrator.engine.runner import RunOptions, start_run
    from migrator.secrets import Redactor
    from tests.report.scenario import OperatorDouble, executors

    plan = {
        "name": "undo",
        "title": "Undo",
        "inventory": "inventory.yaml",
        "phases": [{"id": "p", "title": "P", "where": "window", "steps": [
            {"id": "make", "title": "Make a file", "kind": "local", "command": f"touch {work}/made",
             "rollback": {"command": f"rm {work}/made; echo removed", "estimate": "3m"}},
            {"id": "keep", "title": "Keep going", "kind": "local", "command": "true", "depends_on": []},
        ]}],
    }  # fmt: skip
    (work / "inventory.yaml").write_text(yaml.safe_dump(INVENTORY))
    (work / "undo.yaml").write_text(yaml.safe_dump(plan, sort_keys=False))
    loaded = load_plan(work / "undo.yaml")
    operator, redactor = OperatorDouble(), Redactor()
    done = start_run(store, loaded, executors(loaded, operator, redactor), operator,
                     RunOptions(mode="rehearsal"), redactor=redactor)  # fmt: skip
    back = rollback_step(store, loaded, done.run_id, "make", executors(loaded, operator, redactor), operator,
                         reason="the copy was wrong", redactor=redactor)  # fmt: skip
    assert back.ok and not (work / "made").exists()
    text = report(db, str(done.run_id))
    assert "`make` rolled back" in section(text, "Deviations, retries, skips and mark-dones")
    assert "rollback: removed" in section(text, "Output")
    readiness = section(text, "Rollback readiness")
    assert "Rolled back during the run: make." in readiness
    assert "| `keep` | none defined |" in readiness and "| `make` |" not in readiness


def test_a_missing_database_is_refused_not_created(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "typo.db"
    with pytest.raises(SystemExit) as exited:
        main(["report", "1", "--db", str(missing)])
    assert exited.value.code == 2
    assert f"no state database at {missing}" in capsys.readouterr().err
    assert not missing.exists()
