"""Handing a run to a teammate: everything needed to continue it on another machine, in one
directory, and a README saying what is not in it and the exact command to continue.

The directory holds a consistent copy of the state database (SQLite's online backup, taken
while the run may still be live), the plan as run (the text recorded with the run), the
run's inventory and the known_hosts files it names relative to itself. Never included:
private keys and secret values - the README lists each one by its reference, for the
teammate to provide.
"""

from __future__ import annotations

import contextlib
import shlex
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from migrator.engine.run_inputs import file_fingerprint
from migrator.errors import UsageError
from migrator.plan.inventory import Inventory
from migrator.plan.load import load_inventory
from migrator.store.db import Store
from migrator.store.dto import RunInfo

STATE = "state.db"
PLAN_DIR = "plan"
INVENTORY_DIR = "inventory"


@dataclass
class Handover:
    directory: Path
    run: RunInfo
    plan: Path
    inventory: Path
    copied: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # what the teammate must provide
    warnings: list[str] = field(default_factory=list)

    def resume_argv(self, *, relative: bool = False) -> list[str]:
        base = Path() if relative else self.directory
        holder = self.run.operator
        return [
            "migrator", "resume", str(self.run.id),
            "--db", str(base / STATE),
            "--plan", str(base / self.plan.relative_to(self.directory)),
            "--inventory", str(base / self.inventory.relative_to(self.directory)),
            "--take-over", "--reason", f"handover from {holder}",
        ]  # fmt: skip

    def resume_command(self, *, relative: bool = False) -> str:
        return shlex.join(self.resume_argv(relative=relative))


def _empty_target(directory: Path) -> Path:
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise UsageError(
            f"{directory} exists and is not an empty directory",
            hint="give --to a new directory: nothing is overwritten",
        )
    directory.mkdir(parents=True, exist_ok=True)
    return directory.absolute()


def write_handover(store: Store, run_id: int, to: Path) -> Handover:
    """Write the handover directory of ``run_id`` to ``to`` (new or empty)."""
    run = store.run(run_id)
    plan_source = Path(run.plan_path)
    if not run.plan_text and not plan_source.is_file():
        raise UsageError(
            f"run {run_id} recorded no plan text and {plan_source} is gone",
            hint="the run predates recorded inputs: hand the plan file over by hand",
        )
    inventory_source = Path(run.inventory_path) if run.inventory_path else None
    if inventory_source is None or not inventory_source.is_file():
        raise UsageError(
            f"the inventory of run {run_id} is not at {run.inventory_path or '(not recorded)'}",
            hint="hand it over by hand, with the state copy from `migrator backup`",
        )
    directory = _empty_target(to)
    handover = Handover(
        directory,
        run,
        plan=directory / PLAN_DIR / plan_source.name,
        inventory=directory / INVENTORY_DIR / inventory_source.name,
    )
    store.backup(directory / STATE)
    handover.copied.append(f"{STATE}: a consistent copy of {store.path} (run {run_id} and its journal)")
    handover.plan.parent.mkdir()
    if run.plan_text:
        handover.plan.write_text(run.plan_text, encoding="utf-8")
        handover.copied.append(
            f"{PLAN_DIR}/{plan_source.name}: the plan as run (the text recorded at its start)"
        )
    else:
        shutil.copyfile(plan_source, handover.plan)
        handover.copied.append(f"{PLAN_DIR}/{plan_source.name}: the plan file as it is now ({plan_source})")
    handover.inventory.parent.mkdir()
    shutil.copyfile(inventory_source, handover.inventory)
    handover.copied.append(
        f"{INVENTORY_DIR}/{inventory_source.name}: the run's inventory ({inventory_source})"
    )
    if run.inventory_fingerprint and file_fingerprint(inventory_source) != run.inventory_fingerprint:
        handover.warnings.append(
            f"the inventory file {inventory_source} changed since the run started: resume will refuse "
            "it and show why (--accept-inventory-change --reason TEXT continues anyway)"
        )
    inventory, problems = load_inventory(inventory_source)
    if inventory is None:
        handover.warnings.append(f"the inventory does not load here: {problems[0] if problems else '?'}")
    else:
        _known_hosts(handover, inventory, inventory_source.parent)
        _not_included(handover, inventory)
    _write_readme(handover)
    return handover


def _known_hosts(handover: Handover, inventory: Inventory, base: Path) -> None:
    """known_hosts files (public: the pinned host keys): copied when named relative to the
    inventory, so the copy resolves them beside it; an absolute one must exist there."""
    names = {inventory.known_hosts} | {h.known_hosts for h in inventory.hosts.values()}
    for name in sorted(n for n in names if n):
        path = Path(name).expanduser()
        if path.is_absolute():
            handover.missing.append(f"known_hosts file {path} (named by absolute path in the inventory)")
            continue
        source = base / path
        if source.is_file():
            target = handover.inventory.parent / path
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
            handover.copied.append(f"{INVENTORY_DIR}/{path}: the pinned host keys")
        else:
            handover.missing.append(f"known_hosts file {name} (relative to the inventory; not found here)")


def _not_included(handover: Handover, inventory: Inventory) -> None:
    keys: dict[str, list[str]] = {}
    for name, host in sorted(inventory.hosts.items()):
        if host.key:
            keys.setdefault(str(Path(host.key).expanduser()), []).append(name)
        elif host.agent:
            keys.setdefault("(your ssh-agent or ~/.ssh/config)", []).append(name)
    for key, hosts in keys.items():
        handover.missing.append(f"private SSH key {key} for {', '.join(hosts)}")
    for name, endpoint in sorted(inventory.proxmox.items()):
        handover.missing.append(
            f"Proxmox API token secret of {name} ({endpoint.token_id}): {endpoint.token_secret}"
        )
    plan_secrets = sorted(set(_plan_secret_refs(handover.plan)))
    for ref in plan_secrets:
        handover.missing.append(f"secret value referenced by the plan: {ref}")


def _plan_secret_refs(plan: Path) -> list[str]:
    """``env:``/``file:`` references in the plan's ``secrets:`` maps (read as YAML, not loaded)."""
    import yaml

    refs: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "secrets" and isinstance(value, dict):
                    refs.extend(f"{k} = {v}" for k, v in value.items() if isinstance(v, str))
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    # The plan loaded when the run started; a parse problem would show at resume.
    with contextlib.suppress(yaml.YAMLError):
        walk(yaml.safe_load(plan.read_text(encoding="utf-8")))
    return refs


def _write_readme(h: Handover) -> None:
    run = h.run
    lines = [
        f"# Handover of run {run.id}: plan {run.plan_name} ({run.mode}, {run.environment or '?'})",
        "",
        f"Written from {run.db_path or '(path not recorded)'}; the run was started by {run.operator} "
        f"on {run.created_at:%Y-%m-%d %H:%M} UTC against inventory {run.inventory_name}. "
        f"Status when copied: {run.status} {run.summary}".rstrip(),
        "",
        "## Before you continue",
        "",
        "1. Make sure the run is not still going on the other machine (its migrator stopped or killed):",
        "   two runners of one plan against the same hosts is what the lease exists to prevent.",
        "2. Provide what is not included (below) at the same paths, or edit the inventory copy to",
        "   point at yours (resume then shows the change and needs --accept-inventory-change --reason).",
        "3. `migrator status --db state.db` (from this directory) shows where the run stopped.",
        "",
        "## Continue the run",
        "",
        "```",
        h.resume_command(),
        "```",
        "",
        "If this directory was moved, the same from inside it:",
        "",
        "```",
        h.resume_command(relative=True),
        "```",
        "",
        "In-doubt steps are settled by their post-checks first; nothing that completed runs again.",
        "",
        "## Included",
        "",
        *(f"- {c}" for c in h.copied),
        "",
        "## Not included (provide these yourself)",
        "",
        *(f"- {m}" for m in h.missing or ["nothing"]),
        "",
    ]
    if h.warnings:
        lines += ["## Warnings", "", *(f"- {w}" for w in h.warnings), ""]
    (h.directory / "README.md").write_text("\n".join(lines), encoding="utf-8")
