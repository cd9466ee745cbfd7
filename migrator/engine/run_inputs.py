"""What a run was started against (plan text, inventory, environment, database), and the rule
that binds a resume to it.

A run records its inputs when it is created (:func:`record`). ``migrator resume`` loads the
recorded plan path and the recorded inventory (:func:`resume_paths`), and :func:`bind` compares
what it loaded with the record: another inventory content or another environment (lab vs
production) is refused with what differs, unless the operator accepts the change with a
reason, which is recorded as a decision and a journal note. The same content read from
another path (a handover copy on a teammate's machine) is not a change: it is journaled.

Every line telling the operator how to continue is built here (:func:`resume_command`,
:func:`abort_command`): with the database's absolute path, so it works pasted from anywhere.
"""

from __future__ import annotations

import hashlib
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from migrator.errors import InventoryChangedError
from migrator.store.db import Store
from migrator.store.dto import Decision, RunInfo, RunInputs
from migrator.store.notes import now


def file_fingerprint(path: Path) -> str:
    """``sha256:`` of a file's bytes: a changed inventory file is a different inventory."""
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def _text(path: Path | None) -> str:
    # The loader has just read these files; a duck-typed plan (engine tests) may have none.
    return path.read_text(encoding="utf-8") if path is not None and path.is_file() else ""


def record(loaded: Any, store: Store) -> RunInputs:
    """The inputs of a new run of ``loaded`` recorded in ``store``."""
    given = getattr(loaded, "inventory_path", None)
    inventory = Path(given).absolute() if given is not None else None
    return RunInputs(
        plan_text=_text(Path(loaded.path)),
        inventory_path=str(inventory or ""),
        inventory_fingerprint=file_fingerprint(inventory) if inventory and inventory.is_file() else "",
        environment=loaded.inventory.environment.value,
        db_path=str(store.path),
    )


def db_argument(store: Store | Path | str) -> str:
    path = store.path if isinstance(store, Store) else Path(store).absolute()
    return f"--db {shlex.quote(str(path))}"


def resume_command(store: Store | Path | str, run_id: int | str) -> str:
    """``migrator resume RUN --db /abs/state.db``: the run's plan and inventory are recorded,
    so nothing else is needed."""
    return f"migrator resume {run_id} {db_argument(store)}"


def abort_command(store: Store | Path | str, run_id: int | str) -> str:
    return f"migrator abort {run_id} {db_argument(store)}"


def template(command: str) -> str:
    """``command`` for ``str.format(run=...)``: braces in the path kept, ``{run}`` filled."""
    return command.replace("{", "{{").replace("}", "}}").replace("{{run}}", "{run}")


def resume_paths(run: RunInfo, plan: str | None, inventory: str | None) -> tuple[Path, Path | None]:
    """Where resume reads the plan and the inventory from: what was given, else the record
    (a run recorded before inputs were: the plan's own inventory, as then)."""
    plan_path = Path(plan) if plan else Path(run.plan_path)
    if inventory:
        return plan_path, Path(inventory)
    return plan_path, Path(run.inventory_path) if run.inventory_path else None


@dataclass(frozen=True)
class Binding:
    """What :func:`bind` found: ``notes`` were journaled; ``accepted``: an inventory change
    the operator accepted (the resolved steps may differ because of it)."""

    notes: list[str]
    accepted: bool


def differences(run: RunInfo, now_inputs: RunInputs, inventory_name: str) -> list[str]:
    """What differs between the recorded inventory and the one loaded now (empty: the same)."""
    out = []
    if run.environment and run.environment != now_inputs.environment:
        out.append(
            f"environment: the run was {run.environment} (inventory {run.inventory_name}), "
            f"this inventory is {now_inputs.environment} ({inventory_name})"
        )
    if run.inventory_fingerprint and run.inventory_fingerprint != now_inputs.inventory_fingerprint:
        same_path = run.inventory_path == now_inputs.inventory_path
        where = (
            f"the file {run.inventory_path} changed since the run started"
            if same_path
            else f"{now_inputs.inventory_path} is not the run's inventory {run.inventory_path}"
        )
        out.append(
            f"inventory: {where} ({run.inventory_fingerprint[:19]} then, "
            f"{now_inputs.inventory_fingerprint[:19]} now)"
        )
    return out


def bind(
    store: Store,
    run: RunInfo,
    loaded: Any,
    *,
    actor: str,
    accept_reason: str | None,
) -> Binding:
    """Refuse to resume ``run`` against other inputs than it recorded, unless accepted."""
    current = record(loaded, store)
    notes: list[str] = []
    if not run.inventory_fingerprint:
        store.update_run(run.id, **_input_fields(current))
        notes.append(
            f"run inputs recorded at resume (the run predates their recording): inventory "
            f"{current.inventory_path} ({current.environment})"
        )
    found = differences(run, current, loaded.inventory.name)
    if found and accept_reason is None:
        raise InventoryChangedError(
            f"run {run.id} was started against another inventory; refusing to resume it against "
            f"{current.inventory_path}",
            found,
            where=f"run {run.id}",
            hint="resume without --inventory uses the run's own; to continue against this one "
            "anyway add --accept-inventory-change --reason TEXT (recorded)",
        )
    if found:
        assert accept_reason is not None
        text = "; ".join(found)
        store.accept_inventory(
            run.id,
            loaded.inventory.name,
            current,
            Decision(run.id, None, now(), actor, "inventory_change", "accept", f"{accept_reason} ({text})"),
            journal=f"inventory change accepted: {text}; reason: {accept_reason}",
        )
        if current.environment != run.environment:
            store.update_run(run.id, mode="rehearsal" if current.environment == "lab" else "live")
    elif run.inventory_path and run.inventory_path != current.inventory_path:
        notes.append(
            f"inventory read from {current.inventory_path}: the same content as the run's "
            f"{run.inventory_path}"
        )
        store.update_run(run.id, inventory_path=current.inventory_path)
    if run.db_path and run.db_path != current.db_path:
        notes.append(f"continued in {current.db_path}, a copy of {run.db_path}")
        store.update_run(run.id, db_path=current.db_path)
    for note in notes:
        store.note(run.id, actor=actor, trigger="inputs", reason=note)
    return Binding(notes, accepted=bool(found))


def _input_fields(inputs: RunInputs) -> dict[str, str]:
    return dict(inputs.__dict__)
