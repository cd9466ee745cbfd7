"""The ``migrator`` command line: parse, build objects, call one function, map errors to exit codes.

Commands live in small modules and are imported only when used, so ``migrator plan off1``
never pays for SSH, SQL or the TUI (cold start is measured by ``bench/cold_start.py``).

Exit codes (also in the README): 0 done; 1 a step failed or validation found errors;
2 usage or plan error; 3 could not execute (connection, host key, API); 4 another operator
holds the lock; 5 stopped for an operator decision; 70 internal error (traceback file written).
"""

from __future__ import annotations

import gc
import importlib
import importlib.util
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple, NoReturn

import click

from migrator import interrupts
from migrator.errors import ExitCode, MigratorError


class Lazy(NamedTuple):
    """A command in the table: where it is, and its one-line summary for ``migrator --help``
    (the first sentence of its docstring; tests/cli/test_command_table.py keeps them equal)."""

    target: str  # "module:attribute"
    summary: str


# The one command table. A command's module is imported only when that command runs (or
# its own --help is shown): `migrator --help` lists the summaries and imports none of them.
COMMANDS: dict[str, Lazy] = {
    "plan": Lazy(
        "migrator.cli.plan:plan_command",
        'Show what plan NAME will do, where, in what order, and how long the downtime is.',
    ),
    "validate": Lazy(
        "migrator.cli.plan:validate_command",
        'Check plans (and inventories, tunnel files) and report every problem with file:line:column.',
    ),
    "schema": Lazy(
        "migrator.cli.plan:schema_command",
        'Print the JSON Schema of plan files (or inventories, tunnel files) for editors and CI.',
    ),
    "run": Lazy(
        "migrator.cli.run:run_command",
        'Run PLAN (a name in plans/ or a path) from the start.',
    ),
    "resume": Lazy(
        "migrator.cli.run:resume_command",
        'Resume RUN (default: the newest unfinished run) where it stopped.',
    ),
    "verify": Lazy(
        "migrator.cli.run:verify_command",
        'Re-run the post-checks of the steps the latest run completed, to detect drift.',
    ),
    "preflight": Lazy(
        "migrator.cli.run:preflight_command",
        "Check every step now and print a go/no-go sheet: NO-GO (exit 1) when a halt check of a"
        " step still to run does not hold or cannot tell.",
    ),
    "abort": Lazy(
        "migrator.cli.run:abort_command",
        'End RUN for good (it cannot be resumed afterwards).',
    ),
    "rollback": Lazy(
        "migrator.cli.run:rollback_command",
        'Run the rollback of STEP_ID in RUN (a succeeded, failed or in-doubt step).',
    ),
    "status": Lazy(
        "migrator.cli.inspect:status_command",
        'Steps of RUN (default: the newest run) with their state.',
    ),
    "runs": Lazy(
        "migrator.cli.inspect:runs_command",
        'Every run in the database, newest first.',
    ),
    "log": Lazy(
        "migrator.cli.inspect:log_command",
        'The journal and stored output of RUN.',
    ),
    "states": Lazy(
        "migrator.cli.inspect:states_command",
        'The step and run lifecycles (mermaid: two stateDiagram-v2 drawings).',
    ),
    "backup": Lazy(
        "migrator.cli.handover:backup_command",
        'Write a consistent single-file copy of the state database to FILE.',
    ),
    "handover": Lazy(
        "migrator.cli.handover:handover_command",
        'Write what a teammate needs to continue RUN on another machine into --to DIR.',
    ),
    "report": Lazy(
        "migrator.cli.report:report_command",
        "Write the change record of run RUN: timeline planned vs actual, deviations with their"
        " reasons, decisions, evidence, amendments, checks, output tails and rollback readiness.",
    ),
    "tui": Lazy(
        "migrator.cli.tui:tui_command",
        "The maintenance-window TUI: start or resume PLAN's run, or open --run ID.",
    ),
    # Groups of subpackages that a trimmed install may lack: listed only when present.
    "stunnel": Lazy(
        "migrator.stunnel.cli:stunnel_group",
        'stunnel TLS-PSK tunnels: render configs, check the January 2024 invariants.',
    ),
    "lab": Lazy(
        "migrator.lab.cli:lab_group",
        'The rehearsal lab: every host as a real sshd on 127.0.1.x, fakepve, stand-in tools (needs root).',
    ),
}
OPTIONAL = frozenset({"stunnel", "lab"})


def _exists(module: str) -> bool:
    """Whether ``module`` can be imported (its parent packages may be missing too)."""
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


class LazyGroup(click.Group):
    """A click group whose subcommands are imported when they are first used."""

    def _table(self) -> dict[str, Lazy]:
        return {
            name: lazy
            for name, lazy in COMMANDS.items()
            if name not in OPTIONAL or _exists(lazy.target.split(":")[0])
        }

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(self._table()))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        lazy = self._table().get(name)
        if lazy is None:
            return super().get_command(ctx, name)
        module_name, attr = lazy.target.split(":")
        command: click.Command = getattr(importlib.import_module(module_name), attr)
        _imports_done()
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list of ``migrator --help`` from the table: no command module imported."""
        table = self._table()
        names = self.list_commands(ctx)
        if not names:
            return
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = []
        for name in names:
            if name in table:
                rows.append((name, click.Command(name, help=table[name].summary).get_short_help_str(limit)))
            else:
                command = self.get_command(ctx, name)
                if command is not None and not command.hidden:
                    rows.append((name, command.get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@contextmanager
def loading_without_gc() -> Iterator[None]:
    """For a command that imports its engine and loads a plan before it works: the cycle
    collector is off meanwhile (it ran ~100 times over those new objects: ~15-20 ms of a run's
    start) and what was loaded is frozen afterwards, so later collections skip it."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


def _imports_done() -> None:
    """Module imports create hundreds of thousands of objects that live as long as the
    process; collecting them during start-up cost ~0.2 s. Collection is off while the
    command's modules import (see main) and back on, for new objects only, afterwards."""
    if not gc.isenabled():
        gc.freeze()
        gc.enable()


@click.group(
    cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100}
)
@click.version_option(package_name="migrator")
def cli() -> None:
    """Plan and drive the Open Food Facts infrastructure moves: off1/off2 to Proxmox VE, stunnel.

    Start with `migrator plan off1`. Exit codes: 0 done, 1 failed, 2 usage or plan error,
    3 could not execute, 4 lock held, 5 operator needed, 70 internal error, 130 interrupted.
    """


def _write_crash_report(exc: BaseException) -> Path:
    import tempfile  # only on a crash: every start should not pay for it
    import traceback

    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    directory = Path(os.environ.get("MIGRATOR_CRASH_DIR", tempfile.gettempdir()))
    path = directory / f"migrator-crash-{stamp}-{os.getpid()}.txt"
    path.write_text("".join(traceback.format_exception(exc)), encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> Any:
    """Entry point: one clear line for a user error, a traceback file for a bug."""
    # migrator uses no pydantic plugin; looking for them scans every installed package's
    # entry points on the first model (~15 ms of every start). An explicit setting wins.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    gc.disable()  # re-enabled by _imports_done once the command's modules are loaded
    interrupts.install()
    try:
        return cli.main(args=argv, prog_name="migrator", standalone_mode=False)
    except MigratorError as exc:
        click.echo(f"migrator: {exc}", err=True)
        for problem in getattr(exc, "problems", [])[:20]:
            click.echo(f"  {problem}", err=True)
        sys.exit(int(exc.exit_code))
    except click.exceptions.Abort:  # click's own KeyboardInterrupt (and EOF at a prompt)
        _interrupted()
    except click.ClickException as exc:
        exc.show()
        sys.exit(ExitCode.USAGE if exc.exit_code == 2 else exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        _interrupted()
    except Exception as exc:
        if interrupts.interrupted():
            # Ctrl-C, then an error: a library wrapped the KeyboardInterrupt in its own
            # exception (pydantic's SchemaError does, mid-import). Not a bug: the interruption.
            _interrupted(f" ({type(exc).__name__} on the way out)")
        path = _write_crash_report(exc)
        click.echo(f"migrator: internal error: {type(exc).__name__}: {exc}", err=True)
        click.echo(f"  this is a bug; the traceback is in {path} - please attach it to an issue", err=True)
        sys.exit(ExitCode.INTERNAL)
    finally:
        interrupts.uninstall()
        if not gc.isenabled():  # --help, --version: no command was loaded
            gc.enable()


def _interrupted(how: str = "") -> NoReturn:
    click.echo(f"migrator: interrupted{how}; what was recorded is kept (see `migrator status`)", err=True)
    sys.exit(ExitCode.INTERRUPTED)


def run_and_exit() -> NoReturn:
    """The console script and ``python -m migrator``: :func:`main`, then end the process at once.

    By then the command has closed what it opened (the store checkpointed, connections closed,
    files written in ``with`` blocks) and only the interpreter's teardown is left: freeing, one
    by one, the ~100,000 objects that the imports made. That took 0.1-0.2 s of every command
    (bench/README.md, ssh_overhead). So, once stdout and stderr are flushed and no other
    non-daemon thread is still working, the process exits with ``os._exit``. Anything else
    (an unflushable pipe, a live thread) takes the normal, slower exit.
    """
    try:
        result = main()
    except SystemExit as exc:
        result = exc.code
    code = exit_status(result)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):  # a closed pipe (`| head`): let Python report it as usual
        sys.exit(code)
    if "logging" in sys.modules:
        sys.modules["logging"].shutdown()  # flush any handler a library configured
    if _other_threads_working():
        sys.exit(code)
    os._exit(code)


def exit_status(result: object) -> int:
    """What ``sys.exit(result)`` would exit with: None is 0, an int itself, anything else is
    printed to stderr and is 1."""
    if result is None:
        return 0
    if isinstance(result, int):
        return result
    print(result, file=sys.stderr)
    return 1


def _other_threads_working() -> bool:
    if "threading" not in sys.modules:
        return False
    threading = sys.modules["threading"]
    main_thread = threading.main_thread()
    return any(t is not main_thread and not t.daemon and t.is_alive() for t in threading.enumerate())
