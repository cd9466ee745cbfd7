"""Plan rules for ``kind: stunnel`` steps, including the January 2024 invariant.

A stunnel step names a tunnel inventory (``stunnel.tunnels``, relative to the plan). The file
is loaded and checked with :func:`migrator.stunnel.validate.validate_tunnels` while the plan is
validated, so a plan whose tunnels would expose a client listener on a wildcard or public
address (how MongoDB was wiped in January 2024) never starts. Its problems are reported at the
step's ``tunnels:`` line, each naming the tunnel file's own line.

Pure apart from reading the tunnels file (as the loader reads the inventory file). Each file is
read once per validation; its problems are reported at the first step that names it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from migrator.errors import MigratorError, PlanError
from migrator.plan.model import Step, StepKind
from migrator.plan.schema_errors import did_you_mean
from migrator.plan.source import PathKey

if TYPE_CHECKING:
    from migrator.stunnel.model import TunnelInventory


@dataclass(frozen=True)
class StepProblem:
    """A problem of one step: message, path below the step, hint, whether it points at the key."""

    message: str
    path: PathKey
    hint: str | None = None
    key: bool = False


@dataclass
class TunnelFiles:
    """Tunnel inventories read during one plan validation, by resolved path."""

    plan_dir: Path
    loaded: dict[Path, TunnelInventory | None] = field(default_factory=dict)

    def get(self, name: str) -> tuple[TunnelInventory | None, list[StepProblem]]:
        """The valid inventory (None if broken) and, the first time only, its problems."""
        path = self.plan_dir / name
        if path in self.loaded:
            return self.loaded[path], []
        inventory, problems = _load(path, name)
        self.loaded[path] = inventory
        return inventory, problems


def _load(path: Path, name: str) -> tuple[TunnelInventory | None, list[StepProblem]]:
    # Imported here: `migrator plan` pays for the stunnel package only when a plan uses it.
    from migrator.stunnel.load import load_tunnels, locate
    from migrator.stunnel.validate import validate_tunnels

    at = ("stunnel", "tunnels")
    if not path.is_file():
        return None, [
            StepProblem(
                f"tunnel inventory '{name}' not found (looked for {path})",
                at,
                "stunnel.tunnels is a file relative to the plan, e.g. tunnels.yaml",
            )
        ]
    try:
        loaded = load_tunnels(path, str(path))
    except PlanError as exc:
        lines = [str(p) for p in exc.problems] or [exc.message]
        return None, [StepProblem(f"tunnel inventory {name} does not load: {line}", at) for line in lines]
    except MigratorError as exc:
        return None, [StepProblem(f"tunnel inventory {name} does not load: {exc.message}", at, exc.hint)]
    broken = validate_tunnels(loaded.inventory)
    if broken:
        return None, [
            StepProblem(
                f"tunnel inventory {name} breaks the stunnel invariants: {locate(p, loaded.source)}",
                at,
                "fix it; `migrator stunnel validate --tunnels FILE` lists every problem",
            )
            for p in broken
        ]
    return loaded.inventory, []


def stunnel_step_problems(step: Step, tunnels_file: str | None, files: TunnelFiles) -> list[StepProblem]:
    """Every problem of ``step``'s stunnel action; ``tunnels_file`` is its resolved file name
    (None when it still holds an unresolvable ``{{ ... }}``: reported elsewhere)."""
    action = step.stunnel
    if step.kind is not StepKind.STUNNEL:
        if action is not None:
            return [
                StepProblem(
                    f"a {step.kind.value} step has no stunnel action",
                    ("stunnel",),
                    "use kind: stunnel, or remove stunnel:",
                    key=True,
                )
            ]
        return []
    if action is None:
        return [
            StepProblem(
                "a stunnel step needs stunnel: the action and the tunnel inventory",
                ("kind",),
                "add stunnel: {action: psk|config|verify, tunnels: tunnels.yaml}",
            )
        ]
    problems: list[StepProblem] = []
    if step.host == "local":
        problems.append(
            StepProblem(
                "a stunnel step needs host: the tunnel end it deploys",
                ("kind",),
                "add host: e.g. off2/ct:101",
            )
        )
    if action.action == "psk" and not action.service:
        problems.append(
            StepProblem(
                "stunnel action psk needs service: the tunnel whose PSK it sets",
                ("stunnel", "action"),
                "add service: e.g. MongoDB",
            )
        )
    if action.services and action.action == "psk":
        problems.append(
            StepProblem(
                "services: applies to config and verify; psk takes service:",
                ("stunnel", "services"),
                "write service: NAME",
                key=True,
            )
        )
    if action.restart and action.action != "config":
        problems.append(
            StepProblem(
                f"restart only applies to action config, not {action.action}",
                ("stunnel", "restart"),
                "remove restart:",
                key=True,
            )
        )
    if tunnels_file is None:
        return problems
    inventory, file_problems = files.get(tunnels_file)
    problems += file_problems
    if inventory is None or step.host == "local":
        return problems
    hosts = inventory.host_names()
    if step.host not in hosts:
        problems.append(
            StepProblem(
                f"no tunnel in {tunnels_file} runs on host '{step.host}'" + did_you_mean(step.host, hosts),
                ("host",),
                f"hosts with tunnels: {', '.join(hosts)}",
            )
        )
    services = {t.service: t for t in inventory.tunnels}
    for index, name in enumerate(action.services):
        tunnel = services.get(name)
        ends = [] if tunnel is None else [tunnel.server.host, *(c.host for c in tunnel.clients)]
        if step.host not in ends:
            where = "is not in" if tunnel is None else f"has no end on {step.host} in"
            problems.append(
                StepProblem(
                    f"service '{name}' {where} {tunnels_file}" + did_you_mean(name, list(services)),
                    ("stunnel", "services", index),
                    f"services: {', '.join(services)}",
                )
            )
    if action.action == "psk" and action.service:
        tunnel = services.get(action.service)
        if tunnel is None:
            problems.append(
                StepProblem(
                    f"no service '{action.service}' in {tunnels_file}"
                    + did_you_mean(action.service, list(services)),
                    ("stunnel", "service"),
                    f"services: {', '.join(services)}",
                )
            )
        elif tunnel.server.host != step.host:
            problems.append(
                StepProblem(
                    f"the PSK of {action.service} is set from its server {tunnel.server.host}, "
                    f"not {step.host}",
                    ("host",),
                    f"host: {tunnel.server.host} (the clients get the server's file)",
                )
            )
    return problems
