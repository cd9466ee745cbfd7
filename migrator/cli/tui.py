"""``migrator tui``: the TUI's composition root (harlequin's ``cli.py``).

The app may not import the store or the executors (import-linter): it is handed the engine's
session core (:class:`migrator.engine.session.interactive.EngineSession`) as a
``tui.facade.Session``; :class:`TuiSession` adds only the plan as the TUI shows it. Textual is
imported only when the command runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from migrator.cli.compose import front
from migrator.cli.options import confirm_manual_option, db_option, inventory_option
from migrator.engine.session.compose import open_store
from migrator.engine.session.interactive import EngineSession, PrompterProxy, open_session, session_plan
from migrator.errors import UsageError

if TYPE_CHECKING:
    from migrator.store.db import Store
    from tui.facade import PlanInfo

__all__ = ["PrompterProxy", "TuiSession", "open_tui_session"]


class TuiSession(EngineSession):
    """The engine's session core, plus the plan as the TUI shows it (``tui.facade.Session``)."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        from tui.planinfo import plan_info

        super().__init__(*args, **kw)
        self.plan: PlanInfo = plan_info(self.loaded, mode=self.mode, operator=self.actor,
                                        estimates=self.estimates)  # fmt: skip


def open_tui_session(store: Store, loaded: Any, **kw: Any) -> TuiSession:
    """:func:`~migrator.engine.session.interactive.open_session` for the TUI (lab hooks from the CLI)."""
    session = open_session(store, loaded, front=front(None), session_class=TuiSession, **kw)
    assert isinstance(session, TuiSession)
    return session


@click.command("tui")
@click.argument("plan", required=False)
@inventory_option()
@click.option("--dry-run", is_flag=True, help="Checks only: say what would happen, never act.")
@click.option("--run", "run_id", type=int, metavar="ID", help="Open this run (resume or watch it).")
@click.option("--observe", is_flag=True, help="Watch read-only (polls the store).")
@confirm_manual_option
@click.option("--take-over", is_flag=True, help="Take over a stale lease (needs --reason).")
@click.option("--reason", help="Why (for --take-over; recorded in the journal).")
@db_option()
def tui_command(
    *,
    plan: str | None,
    inventory: str | None,
    dry_run: bool,
    run_id: int | None,
    observe: bool,
    confirm_manual: bool,
    take_over: bool,
    reason: str | None,
    db: str | None,
) -> None:
    """The maintenance-window TUI: start or resume PLAN's run, or open --run ID."""
    if take_over and not reason:
        raise UsageError("--take-over needs --reason TEXT")
    store = open_store(db)
    try:
        loaded = session_plan(store, plan, inventory, run_id=run_id, observe=observe)
        session = open_tui_session(
            store, loaded, confirm_manual=confirm_manual, dry_run=dry_run, run_id=run_id, observe=observe,
            take_over_reason=reason if take_over else None,
        )  # fmt: skip
        try:
            from tui.app import MigratorApp

            app = MigratorApp(session)
            app.run()
            if app.return_code:  # ended by a signal (the terminal was restored first)
                raise SystemExit(app.return_code)
        finally:
            session.close()
    finally:
        store.close()
