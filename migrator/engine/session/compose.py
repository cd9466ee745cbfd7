"""What a run needs, built once for every front end: the plan loaded, the executors with the
one redactor the engine masks with, the run mode, and the operator's flags checked against
the inventory (``--yes`` and ``--confirm-manual`` are for lab inventories).

The front end hands in its prompter and, for a lab inventory, where the lab's hooks come
from (the lab is a subpackage the engine never imports: ``pyproject.toml`` contracts).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from migrator.errors import UsageError

if TYPE_CHECKING:
    from migrator.executors.base import Prompter
    from migrator.executors.registry import Executors
    from migrator.plan.load import LoadedPlan
    from migrator.secrets import Redactor
    from migrator.store.db import Store

LabHooks = Callable[[Path], Any]
"""Inventory path -> the hooks acting on that inventory's lab (``migrator.lab.hooks``)."""


@dataclass(frozen=True)
class Flags:
    """What the operator allowed on the command line."""

    yes: bool = False
    i_mean_it: bool = False
    confirm_manual: bool = False


@dataclass
class Request:
    """The operator's selection and decisions for a run or a resume, each decision with its
    reason (they are journaled). Plain data, so that a front end parses its command line
    without importing the engine (the runner's :class:`~migrator.engine.runner.RunOptions`
    is made from it inside the session call)."""

    from_step: str | None = None
    until_step: str | None = None
    only: tuple[str, ...] = ()
    skip: dict[str, str] = field(default_factory=dict)
    assume_done: dict[str, str] = field(default_factory=dict)
    retry: dict[str, str] = field(default_factory=dict)
    mark_done: dict[str, str] = field(default_factory=dict)
    take_over_reason: str | None = None
    accept_plan_change: str | None = None
    accept_inventory_change: str | None = None
    """resume: continue against another inventory than the run's, for this reason."""
    go_reason: str | None = None

    def options(self, *, mode: str, yes: bool, actor: str | None = None) -> Any:
        """The runner's options for this request."""
        from migrator.engine.runner import RunOptions

        options = RunOptions(
            mode=mode,
            from_step=self.from_step,
            until_step=self.until_step,
            only=self.only,
            skip=dict(self.skip),
            assume_done=dict(self.assume_done),
            retry=dict(self.retry),
            mark_done=dict(self.mark_done),
            yes=yes,
            take_over_reason=self.take_over_reason,
            accept_plan_change=self.accept_plan_change,
            go_reason=self.go_reason,
        )
        if actor is not None:
            options.actor = actor
        return options


@dataclass
class Front:
    """What a front end plugs into a session: who answers questions, who is told events."""

    prompter: Prompter | None = None
    """None: the front end makes it from ``make_prompter`` once the flags are checked."""
    make_prompter: Callable[[bool], Prompter] | None = None
    """``assume_yes`` -> the prompter (the CLI's terminal prompter)."""
    listeners: list[Any] = field(default_factory=list)
    lab_hooks: LabHooks | None = None
    note: Callable[[str], None] = lambda text: None
    """Where notes are said before a run starts (the CLI prints ``note: ...``)."""


@dataclass
class Tools:
    prompter: Prompter
    executors: Executors
    redactor: Redactor


def is_lab(loaded: Any) -> bool:
    return bool(loaded.inventory.environment.value == "lab")


def run_mode(loaded: Any) -> str:
    """The mode of a new run of ``loaded``: a lab inventory's run is a rehearsal. The one
    place the mode is derived (``run``, the TUI)."""
    return "rehearsal" if is_lab(loaded) else "live"


def load(plan: str, inventory: str | Path | None) -> LoadedPlan:
    from migrator.plan.load import find_plan, load_plan

    return load_plan(find_plan(plan), inventory=Path(inventory) if inventory else None)


def open_store(db: str | None) -> Store:
    from migrator.store.db import Store

    return Store.open(db)


def build_tools(loaded: Any, front: Front, flags: Flags) -> Tools:
    """Prompter, executors, redactor for a live or rehearsal run; the executors and the
    engine must mask with the one redactor returned here."""
    from migrator.executors.paramiko_lean import import_paramiko

    import_paramiko()  # before the executors import it whole
    from migrator.executors.registry import Executors
    from migrator.secrets import Redactor

    lab = is_lab(loaded)
    if flags.yes and not lab and not flags.i_mean_it:
        raise UsageError(
            f"--yes confirms destructive steps without a person; inventory {loaded.inventory.name} is "
            f"{loaded.inventory.environment.value}",
            hint="use it with a lab inventory, or add --i-mean-it",
        )
    if flags.confirm_manual and not lab:
        raise UsageError("--confirm-manual is for lab rehearsals only", hint="use a lab inventory")
    redactor = Redactor()
    prompter = front.prompter
    if prompter is None:
        assert front.make_prompter is not None, "a front end gives a prompter or a way to make one"
        prompter = front.make_prompter(flags.yes)
    # A lab inventory lives in its lab's directory: the hooks act on that lab.
    hooks = front.lab_hooks(Path(loaded.inventory_path)) if lab and front.lab_hooks is not None else None
    executors = Executors(
        loaded.inventory,
        inventory_dir=Path(loaded.inventory_path).parent,
        prompter=prompter,
        redactor=redactor,
        confirm_manual=flags.confirm_manual,
        lab=hooks,
        plan_dir=Path(loaded.path).parent,
    )
    return Tools(prompter, executors, redactor)
