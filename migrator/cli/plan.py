"""``migrator plan``, ``migrator validate`` and ``migrator schema``: no network, no hosts, no state.

``plan`` and ``validate`` read a plan, write and end: their objects live until the process
exits. They run with the cycle collector off and freeze what is left at the end, so no
collection walks a large plan's million objects (it cost 0.2-0.5 s at 10,000 steps, each
time ``gc_paused`` handed the collector back).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from migrator.cli.entry import loading_without_gc
from migrator.cli.options import db_option, format_option, inventory_option
from migrator.errors import PlanError
from migrator.plan.load import check_plan, find_plan, load_inventory, load_plan, plans_dir
from migrator.plan.problems import Problem, errors, sort_problems

FORMATS = ("text", "markdown", "json", "mermaid")


def _console() -> object:
    from rich.console import Console

    return Console(highlight=False)


@click.command("plan")
@click.argument("name")
@inventory_option()
@click.option("--step", "step_id", help="Show one step in full.")
@format_option(
    FORMATS, help="text (the terminal view); markdown (a printable runbook); json; mermaid (the graph)."
)
@db_option("State store for measured estimates (default: $MIGRATOR_DB, else state.db if it exists).")
def plan_command(name: str, inventory: str | None, step_id: str | None, fmt: str, db: str | None) -> None:
    """Show what plan NAME will do, where, in what order, and how long the downtime is.

    NAME is plans/NAME.yaml or a path. Needs no network, no hosts and no state.
    """
    with loading_without_gc():  # see the module's docstring
        _plan(name, inventory, step_id, fmt, db)


def _plan(name: str, inventory: str | None, step_id: str | None, fmt: str, db: str | None) -> None:
    from migrator import render
    from migrator.estimates import learned

    loaded = load_plan(find_plan(name), inventory=Path(inventory) if inventory else None)
    if step_id is not None and step_id not in loaded.order:
        from migrator.plan.schema_errors import did_you_mean

        raise PlanError(
            f"plan {loaded.plan.name} has no step '{step_id}'" + did_you_mean(step_id, loaded.order),
            hint="see the ids in `migrator plan " + name + "`",
        )
    estimates = learned(loaded.plan, _measured_durations(loaded.plan.name, db))
    if fmt == "text":
        render.render_terminal(loaded, _console(), estimates=estimates, step_id=step_id)  # type: ignore[arg-type]
    elif fmt == "markdown":
        click.echo(render.render_markdown(loaded, estimates=estimates))
    elif fmt == "json":
        click.echo(render.render_json(loaded, estimates=estimates))
    else:
        click.echo(render.render_mermaid(loaded))


def _measured_durations(plan_name: str, db: str | None) -> dict[str, list[float]]:
    """Durations of succeeded steps in earlier runs of this plan (empty without a store)."""
    try:
        from migrator.store.durations import measured_durations
    except ImportError:
        return {}
    return measured_durations(plan_name, db)


def _targets(paths: tuple[Path, ...]) -> list[Path]:
    if paths:
        return list(paths)
    found = sorted(plans_dir().glob("*.yaml"))
    if not found:
        raise click.UsageError(f"no plans found in {plans_dir()}/; give files to validate")
    return found


def _validate_one(path: Path, inventory: Path | None) -> list[Problem]:
    name = path.name
    if name.startswith("inventory"):
        return load_inventory(path)[1]
    if name.startswith("tunnels"):
        from migrator.stunnel.load import check_file

        return check_file(path)
    return check_plan(path, inventory=inventory)[1]


@click.command("validate")
@click.argument("files", nargs=-1, type=click.Path(path_type=Path))
@inventory_option("Validate plans against this inventory instead of the one they name.")
@format_option(["text", "json"])
def validate_command(files: tuple[Path, ...], inventory: str | None, fmt: str) -> None:
    """Check plans (and inventories, tunnel files) and report every problem with file:line:column.

    With no FILES, every YAML file in plans/. Exit 0 when clean (warnings allowed), 1 on errors.
    """
    with loading_without_gc():  # see the module's docstring
        _validate(files, inventory, fmt)


def _validate(files: tuple[Path, ...], inventory: str | None, fmt: str) -> None:
    results: dict[str, list[Problem]] = {}
    for target in _targets(files):
        path = find_plan(str(target)) if not target.suffix else target
        if not path.is_file():
            raise click.UsageError(f"no such file: {path}")
        results[str(path)] = sort_problems(_validate_one(path, Path(inventory) if inventory else None))
    all_problems = [p for found in results.values() for p in found]
    failed = bool(errors(all_problems))
    if fmt == "json":
        click.echo(
            json.dumps(
                {
                    "ok": not failed,
                    "files": {name: [p.as_dict() for p in found] for name, found in results.items()},
                },
                indent=2,
            )
        )
    else:
        for name, found in results.items():
            for problem in found:
                click.echo(str(problem))
            n_err = len(errors(found))
            n_warn = len(found) - n_err
            status = "ok" if n_err == 0 else "INVALID"
            click.echo(f"{name}: {status} ({n_err} error(s), {n_warn} warning(s))", err=True)
    sys.exit(1 if failed else 0)


@click.command("schema")
@click.option("--inventory", "what", flag_value="inventory", help="The inventory schema instead.")
@click.option("--tunnels", "what", flag_value="tunnels", help="The tunnel inventory schema instead.")
@click.option("--plan", "what", flag_value="plan", default=True, help="The plan schema (default).")
def schema_command(what: str) -> None:
    """Print the JSON Schema of plan files (or inventories, tunnel files) for editors and CI."""
    from migrator.plan.schema import json_schema

    click.echo(json.dumps(json_schema(what), indent=2))  # type: ignore[arg-type]
