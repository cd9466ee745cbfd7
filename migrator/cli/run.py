"""Headless run commands: run, resume, verify, preflight, abort, rollback (status, runs, log and
states, which only read, are in :mod:`migrator.cli.inspect`).

Each command parses its options, makes the terminal front end (printer, prompter) and makes
one call to the engine's session core (:mod:`migrator.engine.session.headless`); how that call
ended becomes the exit code here, errors are mapped to exit codes by :func:`migrator.cli.main`.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import click

from migrator.cli.compose import front
from migrator.cli.entry import loading_without_gc
from migrator.cli.options import (
    confirm_manual_option,
    db_option,
    format_option,
    i_mean_it_option,
    inventory_option,
)
from migrator.engine.session.compose import Flags, Request
from migrator.errors import ExitCode, UsageError

if TYPE_CHECKING:
    from rich.console import Console


def _stdout_console() -> Console | None:
    from migrator.cli.printer import stdout_console

    return stdout_console()


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
    from migrator.engine.session.headless import failed

    if failed(status):
        raise SystemExit(int(ExitCode.FAILED))


def common(f: Any) -> Any:
    return inventory_option()(db_option()(f))


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
@format_option(
    ["text", "json"], help="With --dry-run: json prints the verdicts (one object per step) and nothing else."
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
    from migrator.cli.printer import Printer

    if fmt == "json" and not dry_run:
        raise UsageError("--format json goes with --dry-run", hint="a run prints status lines")
    if take_over and not reason and not dry_run:
        raise UsageError("--take-over needs --reason TEXT")
    request = Request(
        from_step=from_step,
        until_step=until_step,
        only=only,
        skip=_reasons(skip, reason, "--skip") if not dry_run else {},
        assume_done=_plan_steps(assume_done, reason) if not dry_run else {},
        take_over_reason=reason if take_over else None,
        go_reason=go_reason,
    )
    from migrator.engine.session import headless

    console = _stdout_console()
    printer = Printer(console)
    listeners = [] if fmt == "json" else [printer]
    result: Any = headless.run(
        plan, db=db, inventory=inventory, front=front(console, listeners),
        flags=Flags(yes=yes, i_mean_it=i_mean_it, confirm_manual=confirm_manual),
        request=request, dry_run=dry_run, loading=loading_without_gc,
    )  # fmt: skip
    if dry_run:
        report = result.report
        _print_report(printer, report, fmt, f"dry-run of {result.plan_name} (run {report.run_id})")
        if not report.go:
            raise SystemExit(int(ExitCode.FAILED))
        return
    _exit(result.status)


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
    from migrator.cli.printer import Printer
    from migrator.engine.session import headless

    if (take_over or accept_plan_change or accept_inventory_change) and not reason:
        raise UsageError(
            "--take-over, --accept-plan-change and --accept-inventory-change need --reason TEXT"
        )
    request = Request(
        skip=_reasons(skip, reason, "--skip"),
        assume_done=_plan_steps(assume_done, reason),
        retry=_reasons(retry, reason, "--retry"),
        mark_done=_reasons(mark_done, reason, "--mark-done"),
        take_over_reason=reason if take_over else None,
        accept_plan_change=reason if accept_plan_change else None,
        accept_inventory_change=reason if accept_inventory_change else None,
        go_reason=go_reason,
    )
    console = _stdout_console()
    result = headless.resume(
        run_id, db=db, inventory=inventory, plan_file=plan_file, front=front(console, [Printer(console)]),
        flags=Flags(yes=yes, i_mean_it=i_mean_it, confirm_manual=confirm_manual), request=request,
        loading=loading_without_gc,
    )  # fmt: skip
    _exit(result.status)


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
    from migrator.engine.session import headless

    console = _stdout_console()
    printer = Printer(console)
    # The sheet says it all once, at the end: no line per probed check on the way.
    judged = headless.check(kind, plan, db=db, inventory=inventory, front=front(console))
    report = judged.report
    title = f"{kind} of {judged.plan_name} (run {report.run_id}): one row per step"
    _print_report(printer, report, fmt, title)
    if not report.go:
        raise SystemExit(int(ExitCode.FAILED))


FORMAT = format_option(
    ["text", "json"],
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
    from migrator.engine.session import headless

    headless.abort(run_id, reason, db=db, inventory=inventory, front=front(None))


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
    from migrator.engine.session import headless

    console = _stdout_console()
    printer = Printer(console)
    report = headless.rollback(
        run_id, step_id, db=db, inventory=inventory, front=front(console, [printer]),
        flags=Flags(yes=yes, i_mean_it=i_mean_it, confirm_manual=confirm_manual), reason=reason,
        take_over=take_over,
    )  # fmt: skip
    if report.ok:
        printer.line(("bold", f"step {step_id} rolled back"), ("", f" (run {run_id}): {report.message}"))
    else:
        printer.line(
            ("bold red", f"step {step_id} not rolled back"),
            ("", f": {report.message} (it stays {report.state})"),
        )
        raise SystemExit(int(ExitCode.FAILED))
