"""``migrator report RUN`` and ``migrator report --compare RUN_A RUN_B``: change records."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from migrator.cli.options import FormatChoice, db_option
from migrator.errors import PlanError, SecretError, UsageError

if TYPE_CHECKING:
    from migrator.plan.load import LoadedPlan
    from migrator.report.facts import RunFacts
    from migrator.secrets import Redactor
    from migrator.store.db import Store

FORMATS = ("markdown", "json", "html")


@click.command("report")
@click.argument("runs", nargs=-1, type=int, required=True)
@click.option(
    "--compare", is_flag=True, help="Put two runs side by side: RUN_A RUN_B (e.g. rehearsal, live)."
)
@click.option(
    "--format",
    "fmt",
    type=FormatChoice(FORMATS),
    default="markdown",
    show_default=True,
    help="markdown (a change record to file with the post-mortems); json; html (one page).",
)
@db_option()
@click.option(
    "-o",
    "--output",
    "output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to FILE instead of standard output.",
)
@click.option(
    "--tail",
    default=20,
    show_default=True,
    type=click.IntRange(0, 10000),
    help="Lines of output shown per step (the full log: migrator log RUN --step ID).",
)
@click.option(
    "--plan",
    "plan_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Plan file for titles, estimates and rollbacks (default: the one the run recorded).",
)
def report_command(
    *,
    runs: tuple[int, ...],
    compare: bool,
    fmt: str,
    db: str | None,
    output: Path | None,
    tail: int,
    plan_path: Path | None,
) -> None:
    """Write the change record of run RUN: timeline planned vs actual, deviations with their
    reasons, decisions, evidence, amendments, checks, output tails and rollback readiness.

    With --compare, RUN_A RUN_B side by side, step by step. Secrets are never shown: only
    fingerprints.
    """
    from migrator import report
    from migrator.store.db import Store

    if compare and len(runs) != 2:
        raise UsageError("--compare needs two runs: RUN_A RUN_B", hint="e.g. migrator report --compare 3 7")
    if not compare and len(runs) != 1:
        raise UsageError("give one run (or --compare RUN_A RUN_B)", hint="see `migrator runs`")
    store = Store.open(db, read_only=True)  # a report only reads: nothing is created or written
    try:
        facts = [gather(store, run_id, tail=tail, plan_path=plan_path) for run_id in runs]
    finally:
        store.close()
    text = report.render_comparison(facts[0], facts[1], fmt) if compare else report.render_run(facts[0], fmt)
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write the report: {exc.strerror}", where=str(output)) from exc
    click.echo(f"wrote {output}", err=True)


def gather(store: Store, run_id: int, *, tail: int = 20, plan_path: Path | None = None) -> RunFacts:
    """The facts of ``run_id``, with its plan when the plan file can still be loaded."""
    from migrator.report.facts import collect

    run = store.run(run_id)
    notes: list[str] = []
    inventory = Path(run.inventory_path) if run.inventory_path else None
    if inventory is not None and not inventory.is_file():
        inventory = None
    loaded = _load(Path(plan_path or run.plan_path), notes, inventory)
    redactor = _redactor(loaded, notes)
    return collect(store, run_id, loaded, redact=redactor, tail=tail, notes=tuple(notes))


def _load(path: Path, notes: list[str], inventory: Path | None = None) -> LoadedPlan | None:
    """The plan, against the run's recorded inventory when it is still there."""
    from migrator.plan.load import load_plan

    if not path.is_file():
        notes.append(f"plan file {path} not found: titles, estimates and rollbacks are missing (use --plan)")
        return None
    try:
        return load_plan(path, inventory=inventory)
    except PlanError as exc:
        # The record of what ran is still worth having; the report says what it lacks.
        notes.append(
            f"plan file {path} does not load ({exc.message}): titles, estimates and rollbacks are missing"
        )
        return None


def _redactor(loaded: LoadedPlan | None, notes: list[str]) -> Redactor:
    """Secrets the plan refers to, as far as they resolve here: every text is masked by value.

    The engine redacted output when it was recorded; this is the second belt for output
    recorded before a secret was known (e.g. a value printed by an earlier step).
    """
    from migrator.secrets import Redactor, resolve

    redactor = Redactor()
    if loaded is None:
        return redactor
    missing = set()
    for step in loaded.plan.steps():
        for reference in step.secrets.values():
            try:
                resolve(reference, redactor=redactor, where=f"step {step.id}")
            except SecretError:
                missing.add(reference)
    if missing:
        notes.append(
            "secret references not available here, so not re-checked in this report (they were redacted "
            "when recorded): " + ", ".join(sorted(missing))
        )
    return redactor
