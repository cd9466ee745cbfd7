"""``migrator backup`` and ``migrator handover``: the state (and what goes with it) for a
teammate, written while a run may still be live. Both only read the state database."""

from __future__ import annotations

from pathlib import Path

import click

from migrator.cli.options import db_option


@click.command("backup")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@db_option()
def backup_command(file: Path, db: str | None) -> None:
    """Write a consistent single-file copy of the state database to FILE.

    SQLite's online backup: what was committed, including what is still in the -wal file,
    while a run goes on writing. The copy needs no -wal beside it.
    """
    from migrator.errors import UsageError
    from migrator.store.db import Store

    if file.exists() and file.is_dir():
        raise UsageError(f"{file} is a directory", hint="give backup a file name")
    store = Store.open(db, read_only=True)
    try:
        if file.absolute() == store.path:
            raise UsageError("the backup would overwrite the database itself", where=str(file))
        store.backup(file)
        runs = len(store.runs())
    finally:
        store.close()
    click.echo(
        f"wrote {file.absolute()} ({runs} run(s)); read it with `migrator runs --db {file.absolute()}`"
    )


@click.command("handover")
@click.argument("run_id", type=int)
@click.option(
    "--to",
    "to",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="A new or empty directory.",
)
@db_option()
def handover_command(run_id: int, to: Path, db: str | None) -> None:
    """Write what a teammate needs to continue RUN on another machine into --to DIR.

    A copy of the state, the plan as run, the inventory and its known_hosts, and a README
    listing what is not included (private keys, secret values) with the exact resume command.
    """
    from migrator.handover import write_handover
    from migrator.store.db import Store

    store = Store.open(db, read_only=True)
    try:
        handover = write_handover(store, run_id, to)
    finally:
        store.close()
    click.echo(f"wrote {handover.directory} (see its README.md)")
    for warning in handover.warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo("not included: " + ("; ".join(handover.missing) or "nothing"))
    click.echo(f"to continue there: {handover.resume_command()}")
