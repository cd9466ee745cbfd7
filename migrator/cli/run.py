"""Headless run commands: run, resume, verify, preflight, abort, rollback (status, runs, log and
states, which only read, are in :mod:`migrator.cli.inspect`, loaded by name like the others).

Each command builds the objects (store, loaded plan, executors, prompter, printer) and calls
one engine function; errors are mapped to exit codes by :func:`migrator.cli.main`.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from migrator.cli.entry import loading_without_gc
from migrator.errors import ExitCode, UsageError

if TYPE_CHECKING:
    from rich.console import Console

    from migrator.executors.base import Prompter

DB_HELP = "State database: a SQLite file path or sqlite:///PATH (default: $MIGRATOR_DB or ./state.db)."

# Options several commands share (here and in migrator tui), defined once so that their
# names and help stay the same everywhere.
db_option = click.option("--db", help=DB_HELP)
inventory_option = click.option(
    "--inventory", type=click.Path(dir_okay=False), help="Inventory file (overrides the plan's)."
)
confirm_manual_option = click.option(
    "--confirm-manual", is_flag=True, help="Tick manual checklists (lab rehearsals)."
)
i_mean_it_option = click.option("--i-mean-it", is_flag=True, help="Allow --yes with a production inventory.")


def _stdout_console() -> Console | None:
    from migrator.cli.printer import stdout_console

    return stdout_console()


def _store(db: str | None) -> Any:
    from migrator.store.db import Store

    return Store.open(db)


def _load(plan: str, inventory: str | None) -> Any:
    from migrator.plan.load import find_plan, load_plan

    return load_plan(find_plan(plan), inventory=Path(inventory) if inventory else None)


def _tools(
    loaded: Any,
    console: Console | None,
    *,
    yes: bool,
    i_mean_it: bool,
    confirm_manual: bool,
    prompter: Prompter | None = None,
) -> tuple[Any, Any, Any]:
    """Prompter, executors, redactor for a live or rehearsal run.

    ``prompter`` replaces the terminal prompter (the TUI passes its own); the executors and
    the engine must mask with the one redactor returned here."""
    from migrator.executors.paramiko_lean import import_paramiko

    import_paramiko()  # before the executors import it whole
    from migrator.cli.prompter import CliPrompter
    from migrator.executors.registry import Executors
    from migrator.plan.inventory import Environment
    from migrator.secrets import Redactor

    lab = loaded.inventory.environment is Environment.LAB
    if yes and not lab and not i_mean_it:
        raise UsageError(
            f"--yes confirms destructive steps without a person; inventory {loaded.inventory.name} is "
            f"{loaded.inventory.environment.value}",
            hint="use it with a lab inventory, or add --i-mean-it",
        )
    if confirm_manual and not lab:
        raise UsageError("--confirm-manual is for lab rehearsals only", hint="use a lab inventory")
    redactor = Redactor()
    if prompter is None:
        prompter = CliPrompter(console, assume_yes=yes)
    hooks = None
    if lab:
        # A lab inventory lives in its lab's directory: the hooks act on that lab.
        from migrator.lab.hooks import hooks_for_inventory

        hooks = hooks_for_inventory(Path(loaded.inventory_path))
    executors = Executors(
        loaded.inventory,
        inventory_dir=Path(loaded.inventory_path).parent,
        prompter=prompter,
        redactor=redactor,
        confirm_manual=confirm_manual,
        lab=hooks,
        plan_dir=Path(loaded.path).parent,
    )
    return prompter, executors, redactor


def _first_steps(loaded: Any, from_step: str | None, only: tuple[str, ...]) -> list[Any]:
    """The step a run starts with (``--only``'s first, ``--from``'s, else the plan's first);
    none when the id is unknown (the engine reports that)."""
    first = only[0] if only else from_step or (loaded.order[0] if loaded.order else None)
    return [loaded.step(first)] if first in loaded.order else []


def _pending_steps(store: Any, run_id: int, loaded: Any) -> list[Any]:
    """The steps of ``run_id`` not done yet, in plan order (a resume starts with the first)."""
    from migrator.engine.states import STEP_DONE

    left = {r.step_id for r in store.steps(run_id) if r.state not in STEP_DONE}
    return [loaded.step(sid) for sid in loaded.order if sid in left]


def _reasons(ids: tuple[str, ...], reason: str | None, what: str) -> dict[str, str]:
    if ids and not reason:
        raise UsageError(f"{what} needs --reason TEXT (it is recorded in the journal)")
    return dict.fromkeys(ids, reason or "")


def _plan_steps(values: tuple[str, ...], reason: str | None) -> dict[str, str]:
    """``--assume-done PLAN:STEP`` -> {"PLAN:STEP": reason}."""
    for value in values:
        plan, sep, step = value.partition(":")
        if not (sep and plan and step):
            raise UsageError(
                f"--assume-done {value}: expected PLAN:STEP", hint="e.g. --assume-done off1:mongodb-start"
            )
    return _reasons(values, reason, "--assume-done")


def _exit(status: str) -> None:
    if status in ("failed", "aborted"):
        raise SystemExit(int(ExitCode.FAILED))


def common(f: Any) -> Any:
    return inventory_option(db_option(f))


def operator_options(f: Any) -> Any:
    f = click.option("--yes", is_flag=True, help="Confirm destructive steps non-interactively (lab only).")(f)
    f = i_mean_it_option(f)
    f = confirm_manual_option(f)
    f = click.option("--take-over", is_flag=True, help="Take over an expired lease (needs --reason).")(f)
    f = click.option("--skip", "skip", multiple=True, metavar="ID", help="Skip this step (needs --reason).")(
        f
    )
    f = click.option(
        "--assume-done",
        "assume_done",
        multiple=True,
        metavar="PLAN:STEP",
        help="Take another plan's step as done for a `requires:` (needs --reason; recorded).",
    )(f)
    f = click.option(
        "--reason",
        help="Why: for --skip, --assume-done, --retry, --mark-done, --take-over, --accept-plan-change."
    )(f)
    f = click.option(
        "--go-reason",
        metavar="TEXT",
        help="Go on past a point of no return although the window is too short (recorded as the decision).",
    )(f)
    return f


@click.command("run")
@click.argument("plan")
@common
@operator_options
@click.option("--dry-run", is_flag=True, help="Run checks only and say what would happen; never act.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="With --dry-run: json prints the verdicts (one object per step) and nothing else.",
)
@click.option("--from", "from_step", metavar="ID", help="Start at this step.")
@click.option("--until", "until_step", metavar="ID", help="Stop after this step.")
@click.option("--only", multiple=True, metavar="ID", help="Run only these steps.")
def run_command(
    *,
    plan: str,
    db: str | None,
    inventory: str | None,
    yes: bool,
    i_mean_it: bool,
    confirm_manual: bool,
    take_over: bool,
    skip: tuple[str, ...],
    assume_done: tuple[str, ...],
    reason: str | None,
    go_reason: str | None,
    dry_run: bool,
    fmt: str,
    from_step: str | None,
    until_step: str | None,
    only: tuple[str, ...],
) -> None:
    """Run PLAN (a name in plans/ or a path) from the start."""
    if fmt == "json" and not dry_run:
        raise UsageError("--format json goes with --dry-run", hint="a run prints status lines")
    with loading_without_gc():
        console = _stdout_console()
        loaded = _load(plan, inventory)
        prompter, executors, redactor = _tools(
            loaded, console, yes=yes, i_mean_it=i_mean_it, confirm_manual=confirm_manual
        )
        # The first step's SSH handshake overlaps loading the engine and opening the store
        # (~40 ms of a run's start on loopback, more across a WAN): the engine is imported now.
        executors.connect_early(_first_steps(loaded, from_step, only))
        try:
            from migrator.cli.printer import Printer
            from migrator.engine.runner import RunOptions, start_run

            store = _store(db)
        except BaseException:
            executors.close()
            raise
    try:
        if dry_run:
            from migrator.engine.dryrun import dry_run as do_dry_run

            printer = Printer(console)
            listeners = [] if fmt == "json" else [printer]
            report = do_dry_run(store, loaded, executors, listeners=listeners, redactor=redactor)
            _print_report(printer, report, fmt, f"dry-run of {loaded.plan.name} (run {report.run_id})")
            if not report.go:
                raise SystemExit(int(ExitCode.FAILED))
            return
        if take_over and not reason:
            raise UsageError("--take-over needs --reason TEXT")
        mode = "rehearsal" if loaded.inventory.environment.value == "lab" else "live"
        options = RunOptions(
            mode=mode,
            from_step=from_step,
            until_step=until_step,
            only=only,
            skip=_reasons(skip, reason, "--skip"),
            assume_done=_plan_steps(assume_done, reason),
            yes=yes,
            take_over_reason=reason if take_over else None,
            go_reason=go_reason,
        )
        result = start_run(
            store, loaded, executors, prompter, options, listeners=[Printer(console)], redactor=redactor
        )
        _exit(result.status)
    finally:
        executors.close()
        store.close()


@click.command("resume")
@click.argument("run_id", required=False, type=int)
@common
@operator_options
@click.option(
    "--retry", multiple=True, metavar="ID", help="Run this failed / in-doubt step again (needs --reason)."
)
@click.option(
    "--mark-done", multiple=True, metavar="ID", help="Record this step as done by hand (needs --reason)."
)
@click.option(
    "--accept-plan-change", is_flag=True, help="Continue although the plan changed (needs --reason)."
)
@click.option(
    "--accept-inventory-change",
    is_flag=True,
    help="Continue against another inventory than the run's (changed file, other file, lab <-> "
    "production; needs --reason, recorded).",
)
@click.option(
    "--plan",
    "plan_file",
    type=click.Path(dir_okay=False),
    help="Read the run's plan from this file (a handover copy); it must be the plan as run.",
)
def resume_command(
    *,
    run_id: int | None,
    db: str | None,
    inventory: str | None,
    yes: bool,
    i_mean_it: bool,
    confirm_manual: bool,
    take_over: bool,
    skip: tuple[str, ...],
    assume_done: tuple[str, ...],
    reason: str | None,
    go_reason: str | None,
    retry: tuple[str, ...],
    mark_done: tuple[str, ...],
    accept_plan_change: bool,
    accept_inventory_change: bool,
    plan_file: str | None,
) -> None:
    """Resume RUN (default: the newest unfinished run) where it stopped.

    The run's own plan and inventory are used (as recorded when it started); another
    inventory is refused unless --accept-inventory-change --reason TEXT.
    """
    with loading_without_gc():
        from migrator.cli.printer import Printer
        from migrator.engine import run_inputs
        from migrator.engine.runner import RunOptions, find_run, resume_run

        console = _stdout_console()
        store = _store(db)
    try:
        with loading_without_gc():
            if (take_over or accept_plan_change or accept_inventory_change) and not reason:
                raise UsageError(
                    "--take-over, --accept-plan-change and --accept-inventory-change need --reason TEXT"
                )
            run = find_run(store, None, run_id)
            plan_path, inventory_path = run_inputs.resume_paths(run, plan_file, inventory)
            loaded = _load(str(plan_path), str(inventory_path) if inventory_path else None)
            actor = RunOptions().actor
            binding = run_inputs.bind(
                store, run, loaded, actor=actor, accept_reason=reason if accept_inventory_change else None
            )
            for note in binding.notes:
                click.echo(f"note: {note}")
            plan_change = reason if accept_plan_change else None
            if binding.accepted and plan_change is None and run.plan_text == run_inputs.record(
                loaded, store
            ).plan_text:
                # The plan's text is the one run: its steps differ only by the accepted inventory.
                plan_change = f"inventory change accepted: {reason}"
            run = store.run(run.id)
            prompter, executors, redactor = _tools(
                loaded, console, yes=yes, i_mean_it=i_mean_it, confirm_manual=confirm_manual
            )
            executors.connect_early(_pending_steps(store, run.id, loaded)[:1])
        try:
            options = RunOptions(
                mode=run.mode,
                skip=_reasons(skip, reason, "--skip"),
                assume_done=_plan_steps(assume_done, reason),
                retry=_reasons(retry, reason, "--retry"),
                mark_done=_reasons(mark_done, reason, "--mark-done"),
                yes=yes,
                take_over_reason=reason if take_over else None,
                accept_plan_change=plan_change,
                go_reason=go_reason,
                actor=actor,
            )
            result = resume_run(
                store,
                loaded,
                run.id,
                executors,
                prompter,
                options=options,
                listeners=[Printer(console)],
                redactor=redactor,
            )
        finally:
            executors.close()
        _exit(result.status)
    finally:
        store.close()


def _print_report(printer: Any, report: Any, fmt: str, title: str) -> None:
    """The sheet (text) or the report as JSON: what the engine decided, laid out."""
    if fmt == "json":
        sys.stdout.write(report.as_json() + "\n")
        return
    from migrator.cli.sheet import sheet_lines

    for pieces in sheet_lines(report, title=title):
        printer.line(*pieces)
    word = (
        ("NO DRIFT" if report.go else "DRIFT")
        if report.mode == "verify"
        else ("GO" if report.go else "NO-GO")
    )
    printer.line(("bold", word), ("", f" (recorded as run {report.run_id})"))


def _check_command(kind: str, plan: str, db: str | None, inventory: str | None, fmt: str = "text") -> None:
    from migrator.cli.printer import Printer
    from migrator.engine import dryrun

    console = _stdout_console()
    printer = Printer(console)
    loaded = _load(plan, inventory)
    store = _store(db)
    _, executors, redactor = _tools(loaded, console, yes=False, i_mean_it=False, confirm_manual=False)
    try:
        function = dryrun.verify if kind == "verify" else dryrun.preflight
        # The sheet says it all once, at the end: no line per probed check on the way.
        report = function(store, loaded, executors, listeners=[], redactor=redactor)
    finally:
        executors.close()
        store.close()
    _print_report(
        printer, report, fmt, f"{kind} of {loaded.plan.name} (run {report.run_id}): one row per step"
    )
    if not report.go:
        raise SystemExit(int(ExitCode.FAILED))


FORMAT = click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text: the sheet; json: one object per step (verdict, failing checks, host) and the summary.",
)


@click.command("verify")
@click.argument("plan")
@common
@FORMAT
def verify_command(plan: str, db: str | None, inventory: str | None, fmt: str) -> None:
    """Re-run the post-checks of the steps the latest run completed, to detect drift."""
    _check_command("verify", plan, db, inventory, fmt)


@click.command("preflight")
@click.argument("plan")
@common
@FORMAT
def preflight_command(plan: str, db: str | None, inventory: str | None, fmt: str) -> None:
    """Check every step now and print a go/no-go sheet: NO-GO (exit 1) when a halt check of a
    step still to run does not hold or cannot tell."""
    _check_command("preflight", plan, db, inventory, fmt)


@click.command("abort")
@click.argument("run_id", type=int)
@click.option("--reason", default="aborted from the command line", help="Recorded in the journal.")
@common
def abort_command(run_id: int, reason: str, db: str | None, inventory: str | None) -> None:
    """End RUN for good (it cannot be resumed afterwards). A detached step's job still running
    on its host is stopped there."""
    from migrator.engine.control import abort_run

    store = _store(db)
    try:
        abort_run(store, run_id, reason)
        click.echo(f"run {run_id} aborted")
        _stop_detached_jobs(store, run_id, reason, inventory)
    finally:
        store.close()


def _stop_detached_jobs(store: Any, run_id: int, reason: str, inventory: str | None) -> None:
    """Stop the jobs of detached steps the aborted run left running or in doubt, and say so."""
    from migrator.errors import MigratorError
    from migrator.executors.base import StepContext

    run = store.run(run_id)
    active = {
        r.step_id: r.attempt for r in store.steps(run_id) if r.state in ("running", "verifying", "in_doubt")
    }
    if not active:
        return
    loaded = _load(run.plan_path, inventory)
    detached = [(loaded.step(sid), attempt) for sid, attempt in active.items()
                if sid in loaded.order and loaded.step(sid).detach and attempt > 0]  # fmt: skip
    if not detached:
        return
    _, executors, _ = _tools(loaded, None, yes=False, i_mean_it=False, confirm_manual=False)
    try:
        for step, attempt in detached:
            ctx = StepContext(run_id=run_id, attempt=attempt, plan=loaded.plan.name, on_line=_echo_line)
            try:
                executors.stop_job(step, ctx, f"run aborted: {reason}")
            except MigratorError as exc:
                click.echo(
                    f"could not stop the job of step {step.id} on {step.host}: {exc}; it may still run there"
                )
    finally:
        executors.close()


def _echo_line(stream: str, line: str) -> None:
    click.echo(line)


@click.command("rollback")
@click.argument("run_id", type=int)
@click.argument("step_id")
@common
@click.option("--reason", required=True, help="Why the step is rolled back (recorded in the journal).")
@click.option("--yes", is_flag=True, help="Confirm without a person (lab only).")
@i_mean_it_option
@click.option("--confirm-manual", is_flag=True, help="Tick a manual rollback's checklist (lab rehearsals).")
@click.option("--take-over", is_flag=True, help="Take over an expired lease.")
def rollback_command(
    *,
    run_id: int,
    step_id: str,
    db: str | None,
    inventory: str | None,
    reason: str,
    yes: bool,
    i_mean_it: bool,
    confirm_manual: bool,
    take_over: bool,
) -> None:
    """Run the rollback of STEP_ID in RUN (a succeeded, failed or in-doubt step).

    Steps that ran after it are named, never rolled back with it. Exit 1 when the rollback
    failed (the step keeps its state) or was declined.
    """
    from migrator.cli.printer import Printer
    from migrator.engine.lease import operator_name
    from migrator.engine.rollback import rollback_step

    console = _stdout_console()
    printer = Printer(console)
    store = _store(db)
    try:
        from migrator.engine import run_inputs

        run = store.run(run_id)
        plan_path, inventory_path = run_inputs.resume_paths(run, None, inventory)
        loaded = _load(str(plan_path), str(inventory_path) if inventory_path else None)
        run_inputs.bind(store, run, loaded, actor=operator_name(), accept_reason=None)
        prompter, executors, redactor = _tools(
            loaded, console, yes=yes, i_mean_it=i_mean_it, confirm_manual=confirm_manual
        )
        try:
            report = rollback_step(
                store,
                loaded,
                run_id,
                step_id,
                executors,
                prompter,
                reason=reason,
                listeners=[printer],
                yes=yes,
                redactor=redactor,
                take_over_reason=reason if take_over else None,
            )
        finally:
            executors.close()
        if report.ok:
            printer.line(("bold", f"step {step_id} rolled back"), ("", f" (run {run_id}): {report.message}"))
        else:
            printer.line(
                ("bold red", f"step {step_id} not rolled back"),
                ("", f": {report.message} (it stays {report.state})"),
            )
            raise SystemExit(int(ExitCode.FAILED))
    finally:
        store.close()


COMMANDS = (
    run_command,
    resume_command,
    verify_command,
    abort_command,
    rollback_command,
    preflight_command,
)


def register(cli: click.Group) -> None:
    """Add the run commands to the ``migrator`` group."""
    for command in COMMANDS:
        cli.add_command(command)
