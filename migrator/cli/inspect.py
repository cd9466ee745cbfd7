"""Read-only commands: status, runs, log (what the store holds) and states (the lifecycles).

They open the store read-only and print (``--format json`` for scripts); none takes a lease,
loads a plan or touches a host, and none creates or writes the database. Split from
:mod:`migrator.cli.run`, which registers them (and still answers their names), so that
module keeps the commands that drive a run.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from datetime import datetime
from typing import Any

import click

from migrator.cli.options import db_option, format_option
from migrator.errors import UsageError

TABLE_OR_JSON = format_option(
    ["text", "json"],
    help="text: a box table at a terminal, plain columns when piped; json: one document for scripts.",
)


def _reader(db: str | None) -> Any:
    """The store opened read-only: a missing file is an error naming it (exit 2), nothing is
    created, nothing waits behind a writer, a read-only directory is fine."""
    from migrator.store.db import Store

    return Store.open(db, read_only=True)


def _terminal() -> bool:
    from migrator.cli.printer import styled

    return styled(sys.stdout)


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def _emit_json(document: dict[str, Any]) -> None:
    click.echo(json.dumps(_jsonable(document), indent=2, ensure_ascii=False))


def _table(headers: tuple[str, ...], rows: list[list[str]]) -> None:
    if _terminal():
        from rich.console import Console
        from rich.markup import escape
        from rich.table import Table

        table = Table(*headers)
        for row in rows:
            table.add_row(*map(escape, row))
        Console().print(table)
        return
    from migrator.render.columns import plain_columns

    click.echo(plain_columns(headers, rows), nl=False)


def run_document(run: Any) -> dict[str, Any]:
    """A run as the JSON documents show it (without the plan text: `migrator handover` has it)."""
    data = dataclasses.asdict(run)
    data.pop("plan_text", None)
    data.pop("step_hashes", None)
    return data


@click.command("status")
@click.argument("run_id", required=False, type=int)
@db_option()
@TABLE_OR_JSON
def status_command(run_id: int | None, db: str | None, fmt: str) -> None:
    """Steps of RUN (default: the newest run) with their state."""
    from migrator.engine.headline import headline
    from migrator.engine.run_inputs import resume_command
    from migrator.engine.states import resumable

    store = _reader(db)
    try:
        runs = store.runs() if run_id is None else [store.run(run_id)]
        if not runs:
            if fmt == "json":
                _emit_json({"db": str(store.path), "run": None, "steps": [], "lease": None})
            else:
                click.echo(f"no runs in {store.path} yet (start one with `migrator run PLAN`)")
            return
        run = runs[0]
        steps = store.steps(run.id)
        lease = store.lease(run.plan_name)
        next_command = resume_command(store, run.id) if resumable(run.mode, run.status) else None
        if fmt == "json":
            _emit_json(
                {
                    "db": str(store.path),
                    "run": run_document(run),
                    "steps": [dataclasses.asdict(s) for s in steps],
                    "lease": None if lease is None else dataclasses.asdict(lease) | {"token": None},
                    "next_command": next_command,
                }
            )
            return
        env = f" on {run.inventory_name}" + (f" ({run.environment})" if run.environment else "")
        click.echo(
            f"run {run.id} {run.plan_name} {run.mode} {run.status} by {run.operator}{env} "
            f"since {run.created_at:%Y-%m-%d %H:%M} UTC {headline(run, steps)}".rstrip()
        )
        rows = [
            [
                str(s.position + 1),
                s.step_id,
                s.state,
                str(s.attempt),
                "" if s.exit_code is None else str(s.exit_code),
                s.reason or s.summary,
            ]
            for s in steps
        ]
        _table(("#", "step", "state", "attempt", "exit", "summary"), rows)
        if lease is not None:
            click.echo(f"lease: {lease.holder} (run {lease.run_id}) until {lease.expires_at:%H:%M:%S} UTC")
        if next_command is not None:
            click.echo(f"to continue: {next_command}")
    finally:
        store.close()


@click.command("runs")
@db_option()
@TABLE_OR_JSON
def runs_command(db: str | None, fmt: str) -> None:
    """Every run in the database, newest first."""
    from migrator.engine.headline import headline

    store = _reader(db)
    try:
        runs = store.runs()
        if fmt == "json":
            _emit_json({"db": str(store.path), "runs": [run_document(r) for r in runs]})
            return
        rows = [
            [
                str(r.id),
                r.plan_name,
                r.mode,
                r.status,
                r.operator,
                r.inventory_name + (f" ({r.environment})" if r.environment else ""),
                f"{r.created_at:%Y-%m-%d %H:%M}",
                headline(r, store.steps(r.id)),
            ]
            for r in runs
        ]
        _table(("run", "plan", "mode", "status", "operator", "inventory", "started (UTC)", "summary"), rows)
    finally:
        store.close()


@click.command("log")
@click.argument("run_id", type=int)
@click.option("--step", "step_id", metavar="ID", help="Only this step.")
@db_option()
@TABLE_OR_JSON
def log_command(run_id: int, step_id: str | None, db: str | None, fmt: str) -> None:
    """The journal and stored output of RUN."""
    store = _reader(db)
    try:
        store.run(run_id)  # an unknown run is an error (exit 2), not an empty log
        if step_id is not None and step_id not in {s.step_id for s in store.steps(run_id)}:
            raise UsageError(
                f"run {run_id} has no step '{step_id}'", hint=f"`migrator status {run_id}` lists its steps"
            )
        journal = store.journal(run_id, step_id)
        output = store.output(run_id, step_id)
        if fmt == "json":
            _emit_json(
                {
                    "db": str(store.path),
                    "run": run_id,
                    "journal": [dataclasses.asdict(e) for e in journal],
                    "output": [dataclasses.asdict(c) for c in output],
                }
            )
            return
        for e in journal:
            what = e.step_id or f"run {run_id}"
            move = f"{e.from_state} -> {e.to_state}" if e.kind == "transition" else e.trigger
            click.echo(f"{e.at:%Y-%m-%d %H:%M:%S} {e.actor} {what} {move} ({e.trigger}) {e.reason}".rstrip())
            for i, line in enumerate(e.command.rstrip("\n").splitlines()):  # the command as run
                click.echo(("    $ " if i == 0 else "      ") + line)
        for chunk in output:
            for line in chunk.lines:
                click.echo(f"{chunk.step_id}#{chunk.attempt} {chunk.stream} | {line}")
    finally:
        store.close()


@click.command("states")
@format_option(
    ["text", "json", "mermaid"], help="text: a line per transition; json: the tables; mermaid: two drawings."
)
def states_command(fmt: str) -> None:
    """The step and run lifecycles (mermaid: two stateDiagram-v2 drawings)."""
    from migrator.engine import states

    if fmt == "mermaid":
        click.echo(states.mermaid_all(), nl=False)
        return
    tables = (("step", states.STEP_TRANSITIONS), ("run", states.RUN_TRANSITIONS))
    if fmt == "json":
        _emit_json({
            title: [{"trigger": t.trigger, "from": [str(s) for s in t.sources], "to": str(t.dest)}
                    for t in table]
            for title, table in tables
        })  # fmt: skip
        return
    for title, table in (("step", states.STEP_TRANSITIONS), ("run", states.RUN_TRANSITIONS)):
        click.echo(f"{title} lifecycle:")
        for t in table:
            click.echo(f"  {t.trigger:<13} {', '.join(t.sources)} -> {t.dest}")
