"""Every step of the real plans says where it comes from: files (and report sections) of the
team's repository, openfoodfacts/openfoodfacts-infrastructure, or our own addition with a reason.

CI has no copy of that repository: tests/data/off-infra/ holds its file list and the heading
anchors of its markdown files at one commit (the header line names it), so a source that
names a file or a section the repository does not have fails here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from migrator.plan.load import LoadedPlan, check_plan
from migrator.plan.model import OwnAddition, source_lines

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "off-infra"
REAL_PLANS = ("off1", "off2", "stunnel")


def _listing(name: str) -> set[str]:
    lines = (DATA / name).read_text(encoding="utf-8").splitlines()
    return {line for line in lines if line and not line.startswith("#")}


FILES = _listing("files.txt")
ANCHORS = _listing("anchors.txt")


def _load(name: str) -> LoadedPlan:
    loaded, problems = check_plan(ROOT / "plans" / f"{name}.yaml")
    assert loaded is not None, "\n".join(str(p) for p in problems)
    return loaded


def unknown_sources(loaded: LoadedPlan) -> list[str]:
    """``step: source`` for every source naming a file or section the repository lacks."""
    bad = []
    for step in loaded.plan.steps():
        if step.source is None or isinstance(step.source, OwnAddition):
            continue
        for source in step.source:
            path, _, section = source.partition("#")
            if path not in FILES or (section and source not in ANCHORS):
                bad.append(f"{step.id}: {source}")
    return bad


@pytest.mark.parametrize("name", REAL_PLANS)
def test_every_step_has_a_source(name: str) -> None:
    loaded = _load(name)
    assert [s.id for s in loaded.plan.steps() if not source_lines(s)] == []


@pytest.mark.parametrize("name", REAL_PLANS)
def test_sources_name_files_and_sections_of_the_repository(name: str) -> None:
    assert unknown_sources(_load(name)) == []


def test_a_made_up_source_is_caught(tmp_path: Path) -> None:
    text = (ROOT / "plans" / "off1.yaml").read_text(encoding="utf-8")
    marker = "source: [docs/reports/2023-12-08-off1-upgrade.md#preparing-etchosts]"
    assert marker in text
    made_up = "[docs/reports/2023-12-08-off1-upgrade.md#no-such-section, packages/sanoid_2.1.0_all.deb]"
    bad = text.replace(marker, f"source: {made_up}")
    (tmp_path / "off1.yaml").write_text(bad, encoding="utf-8")
    inventory = (ROOT / "plans" / "inventory.yaml").read_text(encoding="utf-8")
    (tmp_path / "inventory.yaml").write_text(inventory, encoding="utf-8")
    loaded, _ = check_plan(tmp_path / "off1.yaml")
    assert loaded is not None
    assert unknown_sources(loaded) == [
        "etc-hosts: docs/reports/2023-12-08-off1-upgrade.md#no-such-section",
        "etc-hosts: packages/sanoid_2.1.0_all.deb",
    ]


def test_the_listing_is_of_the_team_repository() -> None:
    header = (DATA / "files.txt").read_text(encoding="utf-8").splitlines()[0]
    assert header.startswith("# openfoodfacts/openfoodfacts-infrastructure ")
    assert "docs/reports/2023-12-08-off1-upgrade.md" in FILES
    assert "docs/reports/2023-12-08-off1-upgrade.md#preparing-etchosts" in ANCHORS


def test_open_questions_are_linked_both_ways() -> None:
    """Every question of docs/open-questions.md is linked from a step, every link has its question."""
    import re

    doc = (ROOT / "docs" / "open-questions.md").read_text(encoding="utf-8")
    questions = set(re.findall(r"^## (\S+)$", doc, re.M))
    linked: set[str] = set()
    for name in REAL_PLANS:
        for step in _load(name).plan.steps():
            linked |= set(re.findall(r"open-questions\.md#([a-z0-9-]+)", step.description or ""))
    assert questions and linked <= questions, sorted(linked - questions)
    assert questions <= linked, f"questions no step links to: {sorted(questions - linked)}"


def _cli(*args: str) -> str:
    import subprocess
    import sys

    env = {"COLUMNS": "200", "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-m", "migrator", *args], cwd=ROOT, capture_output=True,
                            text=True, timeout=120, env=env, check=False)  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_plan_step_and_the_runbook_show_sources_and_requires() -> None:
    step = _cli("plan", "off1", "--step", "repoint-consumers")
    assert "source: docs/reports/2024-01-03-mongodb-migration-off1.md#migration-procedure" in step
    assert "requires    stunnel:mongodb-client-ovh1-ct113-verify" in step
    runbook = _cli("plan", "off1", "--format", "markdown")
    assert runbook.count("\n- Source: ") == len(_load("off1").plan.steps())
    assert "- Source: ours: " in runbook and "none given" not in runbook
    assert "- Requires (other plans, done first): `stunnel:mongodb-client-ovh1-ct113-verify`" in runbook
