"""Read-only commands: status, runs, log (what the store holds) and states (the lifecycles).

They open the store and print; none takes a lease, loads a plan or touches a host. Split from
:mod:`migrator.cli_run`, which registers them (and still answers their names), so that
module keeps the commands that drive a run.
"""

from __future__ import annotations

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from migrator.cli_run import _store, db_option
from migrator.errors import UsageError


@click.command("status")
@click.argument("run_id", required=False, type=int)
@db_option
def status_command(run_id: int | None, db: str | None) -> None:
    """Steps of RUN (default: the newest run) with their state."""
    store = _store(db)
    try:
        runs = store.runs()
        if run_id is None and not runs:
            raise UsageError("no runs in this database yet", hint="`migrator run PLAN`")
        run = store.run(run_id) if run_id is not None else runs[0]
        console = Console()
        console.print(
            f"[bold]run {run.id}[/] {escape(run.plan_name)} {run.mode} [bold]{run.status}[/] "
            f"by {escape(run.operator)} since {run.created_at:%Y-%m-%d %H:%M} UTC {escape(run.summary)}"
        )
        table = Table("#", "step", "state", "attempt", "exit", "summary")
        for s in store.steps(run.id):
            table.add_row(
                str(s.position + 1),
                s.step_id,
                s.state,
                str(s.attempt),
                "" if s.exit_code is None else str(s.exit_code),
                escape(s.reason or s.summary),
            )
        console.print(table)
        lease = store.lease(run.plan_name)
        if lease is not None:
            console.print(
                f"lease: {escape(lease.holder)} (run {lease.run_id}) until {lease.expires_at:%H:%M:%S} UTC"
            )
    finally:
        store.close()


@click.command("runs")
@db_option
def runs_command(db: str | None) -> None:
    """Every run in the database, newest first."""
    store = _store(db)
    try:
        table = Table("run", "plan", "mode", "status", "operator", "started (UTC)", "summary")
        for r in store.runs():
            table.add_row(
                str(r.id),
                r.plan_name,
                r.mode,
                r.status,
                escape(r.operator),
                f"{r.created_at:%Y-%m-%d %H:%M}",
                escape(r.summary),
            )
        Console().print(table)
    finally:
        store.close()


@click.command("log")
@click.argument("run_id", type=int)
@click.option("--step", "step_id", metavar="ID", help="Only this step.")
@db_option
def log_command(run_id: int, step_id: str | None, db: str | None) -> None:
    """The journal and stored output of RUN."""
    store = _store(db)
    try:
        console = Console(highlight=False)
        for e in store.journal(run_id, step_id):
            what = e.step_id or f"run {run_id}"
            move = f"{e.from_state} -> {e.to_state}" if e.kind == "transition" else e.trigger
            console.print(
                f"{e.at:%Y-%m-%d %H:%M:%S} {escape(e.actor)} {escape(what)} {move} ({e.trigger}) "
                f"{escape(e.reason)}"
            )
        for chunk in store.output(run_id, step_id):
            for line in chunk.lines:
                console.print(
                    f"[dim]{escape(chunk.step_id)}#{chunk.attempt} {chunk.stream} |[/] {escape(line)}"
                )
    finally:
        store.close()


@click.command("states")
@click.option("--format", "fmt", type=click.Choice(["text", "mermaid"]), default="text")
def states_command(fmt: str) -> None:
    """The step and run lifecycles (mermaid: two stateDiagram-v2 drawings)."""
    from migrator.engine import states

    if fmt == "mermaid":
        click.echo(states.mermaid_all(), nl=False)
        return
    for title, table in (("step", states.STEP_TRANSITIONS), ("run", states.RUN_TRANSITIONS)):
        click.echo(f"{title} lifecycle:")
        for t in table:
            click.echo(f"  {t.trigger:<13} {', '.join(t.sources)} -> {t.dest}")
