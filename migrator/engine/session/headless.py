"""One call per headless command: ``run``, ``resume``, ``rollback``, ``abort``, dry-run,
``verify``, ``preflight``. A front end parses its options, makes a :class:`Front` (prompter,
listeners) and calls one of these; what comes back says how it ended (the CLI turns that into
the exit code). Everything a call opens (store, connections) is closed before it returns.

The engine proper (runner, dry-run) is imported inside each call *after* the first step's
host is being connected: that SSH handshake overlaps loading the engine and opening the
store (~40 ms of a run's start on loopback, more across a WAN).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from migrator.engine.session.compose import Flags, Front, Request, build_tools, load, open_store, run_mode

if TYPE_CHECKING:
    from migrator.engine.dryrun import CheckReport
    from migrator.engine.rollback import RollbackReport
    from migrator.engine.runner import RunReport

@dataclass(frozen=True)
class Judged:
    """A dry-run's, verify's or preflight's report, with the plan it judged."""

    plan_name: str
    report: CheckReport


ENDED_BADLY = frozenset({"failed", "aborted"})
"""Run statuses a headless command reports as a failure (exit 1)."""


@contextmanager
def _quiet_loading(loading: Callable[[], Any] | None) -> Iterator[None]:
    """The front end's start-up guard (the CLI turns the cycle collector off while the
    engine imports and the plan loads), or nothing."""
    if loading is None:
        yield
        return
    with loading():
        yield


def _first_steps(loaded: Any, options: Request) -> list[Any]:
    """The step a run starts with (``--only``'s first, ``--from``'s, else the plan's first);
    none when the id is unknown (the engine reports that)."""
    only, from_step = options.only, options.from_step
    first = only[0] if only else from_step or (loaded.order[0] if loaded.order else None)
    return [loaded.step(first)] if first in loaded.order else []


def _pending_steps(store: Any, run_id: int, loaded: Any) -> list[Any]:
    """The steps of ``run_id`` not done yet, in plan order (a resume starts with the first)."""
    from migrator.engine.states import STEP_DONE

    left = {r.step_id for r in store.steps(run_id) if r.state not in STEP_DONE}
    return [loaded.step(sid) for sid in loaded.order if sid in left]


def run(
    plan: str,
    *,
    db: str | None,
    inventory: str | None,
    front: Front,
    flags: Flags,
    request: Request,
    dry_run: bool = False,
    loading: Callable[[], Any] | None = None,
) -> RunReport | Judged:
    """Start a new run of ``plan`` (its mode from the inventory), or with ``dry_run`` judge
    every step without acting. ``request``: the selection and the operator's decisions."""
    with _quiet_loading(loading):
        loaded = load(plan, inventory)
        tools = build_tools(loaded, front, flags)
        executors = tools.executors
        executors.connect_early(_first_steps(loaded, request))
        try:
            from migrator.engine.runner import start_run

            store = open_store(db)
        except BaseException:
            executors.close()
            raise
    try:
        if dry_run:
            from migrator.engine.dryrun import dry_run as judge

            report = judge(store, loaded, executors, listeners=front.listeners, redactor=tools.redactor)
            return Judged(loaded.plan.name, report)
        options = request.options(mode=run_mode(loaded), yes=flags.yes)
        return start_run(store, loaded, executors, tools.prompter, options, listeners=front.listeners,
                         redactor=tools.redactor)  # fmt: skip
    finally:
        executors.close()
        store.close()


def check(kind: str, plan: str, *, db: str | None, inventory: str | None, front: Front) -> Judged:
    """``verify`` (the post-checks of what the latest run completed: drift) or ``preflight``
    (every step's checks now: go/no-go), recorded as a run of its own."""
    from migrator.engine import dryrun

    loaded = load(plan, inventory)
    store = open_store(db)
    tools = build_tools(loaded, front, Flags())
    try:
        function = dryrun.verify if kind == "verify" else dryrun.preflight
        report = function(store, loaded, tools.executors, listeners=front.listeners, redactor=tools.redactor)
        return Judged(loaded.plan.name, report)
    finally:
        tools.executors.close()
        store.close()


def resume(
    run_id: int | None,
    *,
    db: str | None,
    inventory: str | None,
    plan_file: str | None,
    front: Front,
    flags: Flags,
    request: Request,
    loading: Callable[[], Any] | None = None,
) -> RunReport:
    """Resume ``run_id`` (default: the newest unfinished run) with the run's own plan and
    inventory as recorded when it started; another inventory only with
    ``request.accept_inventory_change`` (journaled). ``request.accept_plan_change`` accepts a
    changed plan; an inventory change accepted on an unchanged plan text is recorded as that."""
    with _quiet_loading(loading):
        from migrator.engine import run_inputs
        from migrator.engine.lease import operator_name
        from migrator.engine.runner import find_run, resume_run

        store = open_store(db)
    try:
        with _quiet_loading(loading):
            run = find_run(store, None, run_id)
            plan_path, inventory_path = run_inputs.resume_paths(run, plan_file, inventory)
            loaded = load(str(plan_path), str(inventory_path) if inventory_path else None)
            actor = operator_name()
            accept_inventory = request.accept_inventory_change
            binding = run_inputs.bind(store, run, loaded, actor=actor, accept_reason=accept_inventory)
            for note in binding.notes:
                front.note(f"note: {note}")
            plan_change = request.accept_plan_change
            if binding.accepted and plan_change is None and run.plan_text == run_inputs.record(
                loaded, store
            ).plan_text:
                # The plan's text is the one run: its steps differ only by the accepted inventory.
                plan_change = f"inventory change accepted: {accept_inventory}"
            run = store.run(run.id)
            tools = build_tools(loaded, front, flags)
            tools.executors.connect_early(_pending_steps(store, run.id, loaded)[:1])
        try:
            options = request.options(mode=run.mode, yes=flags.yes, actor=actor)
            options.accept_plan_change = plan_change
            return resume_run(
                store,
                loaded,
                run.id,
                tools.executors,
                tools.prompter,
                options=options,
                listeners=front.listeners,
                redactor=tools.redactor,
            )
        finally:
            tools.executors.close()
    finally:
        store.close()


def rollback(
    run_id: int,
    step_id: str,
    *,
    db: str | None,
    inventory: str | None,
    front: Front,
    flags: Flags,
    reason: str,
    take_over: bool = False,
) -> RollbackReport:
    """Run the rollback of ``step_id`` in ``run_id`` against the run's own plan and inventory
    (steps that ran after it are named, never rolled back with it)."""
    from migrator.engine import run_inputs
    from migrator.engine.lease import operator_name
    from migrator.engine.rollback import rollback_step

    store = open_store(db)
    try:
        run = store.run(run_id)
        plan_path, inventory_path = run_inputs.resume_paths(run, None, inventory)
        loaded = load(str(plan_path), str(inventory_path) if inventory_path else None)
        run_inputs.bind(store, run, loaded, actor=operator_name(), accept_reason=None)
        tools = build_tools(loaded, front, flags)
        try:
            return rollback_step(
                store,
                loaded,
                run_id,
                step_id,
                tools.executors,
                tools.prompter,
                reason=reason,
                listeners=front.listeners,
                yes=flags.yes,
                redactor=tools.redactor,
                take_over_reason=reason if take_over else None,
            )
        finally:
            tools.executors.close()
    finally:
        store.close()


def abort(run_id: int, reason: str, *, db: str | None, inventory: str | None, front: Front) -> None:
    """End ``run_id`` for good and stop, on their hosts, the jobs of detached steps it left
    running or in doubt. Says what was done, one line each (``front.note``)."""
    from migrator.engine.control import abort_run

    store = open_store(db)
    try:
        abort_run(store, run_id, reason)
        front.note(f"run {run_id} aborted")
        _stop_detached_jobs(store, run_id, reason, inventory, front)
    finally:
        store.close()


# The states in which a detached step's job may still run on its host.
_JOB_MAY_RUN = ("running", "verifying", "in_doubt")


def _stop_detached_jobs(store: Any, run_id: int, reason: str, inventory: str | None, front: Front) -> None:
    from migrator.errors import MigratorError
    from migrator.executors.base import StepContext

    run = store.run(run_id)
    active = {r.step_id: r.attempt for r in store.steps(run_id) if r.state in _JOB_MAY_RUN}
    if not active:
        return
    loaded = load(run.plan_path, inventory)
    detached = [(loaded.step(sid), attempt) for sid, attempt in active.items()
                if sid in loaded.order and loaded.step(sid).detach and attempt > 0]  # fmt: skip
    if not detached:
        return
    tools = build_tools(loaded, front, Flags())
    try:
        for step, attempt in detached:
            ctx = StepContext(run_id=run_id, attempt=attempt, plan=loaded.plan.name,
                              on_line=lambda stream, line: front.note(line))  # fmt: skip
            try:
                tools.executors.stop_job(step, ctx, f"run aborted: {reason}")
            except MigratorError as exc:
                front.note(
                    f"could not stop the job of step {step.id} on {step.host}: {exc}; it may still run there"
                )
    finally:
        tools.executors.close()


def failed(status: str) -> bool:
    return status in ENDED_BADLY
