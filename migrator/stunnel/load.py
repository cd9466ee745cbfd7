"""Load a tunnel inventory file with file:line positions for every problem.

YAML issues and pydantic errors become the plan's located problems (file:line:column, did-you-mean,
hint) through the same translation as plan files; rule violations follow.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from migrator.errors import PlanError, UsageError
from migrator.plan.durations import FILE_CONTEXT
from migrator.plan.problems import Problem as PlanProblem
from migrator.plan.problems import Severity, errors, sort_problems
from migrator.plan.schema_errors import translate
from migrator.plan.source import SourceMap, read_yaml
from migrator.stunnel.model import TunnelInventory
from migrator.stunnel.validate import Problem, validate_tunnels


@dataclass(frozen=True)
class LoadedTunnels:
    inventory: TunnelInventory
    source: SourceMap


def locate(problem: Problem, source: SourceMap) -> str:
    """``FILE:LINE: service X on host H: message (hint)``."""
    position = source.at(problem.path)
    return f"{position.file}:{position.line}: {problem.describe()}"


def read_tunnels(path: Path, display: str | None = None) -> tuple[LoadedTunnels | None, list[PlanProblem]]:
    """Read and model-check ``path``: the inventory (None if broken) and every problem, located.

    Messages are the plan's: file:line:column, did-you-mean on unknown fields, a hint.
    """
    name = display or str(path)
    data, source, issues = read_yaml(path, name)
    problems = [PlanProblem(Severity.ERROR, i.message, i.position, None, i.hint, root=True) for i in issues]
    if data is None and issues:
        return None, problems
    if not isinstance(data, dict):
        problems.append(
            PlanProblem(
                Severity.ERROR,
                "a tunnel inventory is a mapping with name, hosts and tunnels",
                source.at(()),
                hint="start with 'name: ...' at the left margin; see `migrator schema --tunnels`",
            )
        )
        return None, sort_problems(problems)
    try:
        inventory = TunnelInventory.model_validate(data, context=FILE_CONTEXT)
    except ValidationError as exc:
        return None, sort_problems(problems + translate(exc, TunnelInventory, data, source, (), None))
    if errors(problems):
        return None, sort_problems(problems)
    return LoadedTunnels(inventory, source), problems


def load_tunnels(path: Path, display: str | None = None) -> LoadedTunnels:
    """Read and model-check ``path``; raise PlanError with located problems, one per line."""
    name = display or str(path)
    if not path.is_file():
        raise UsageError(f"tunnel inventory {name} not found", hint="pass --tunnels plans/tunnels.yaml")
    loaded, problems = read_tunnels(path, name)
    if loaded is not None:
        return loaded
    raise PlanError(
        f"{name} is not a valid tunnel inventory",
        problems=list(problems),
        where=name,
        hint="fix the lines listed",
    )


def check_file(path: Path) -> list[PlanProblem]:
    """Every problem of a tunnel inventory as located plan problems (for `migrator validate`)."""
    loaded, problems = read_tunnels(path, str(path))
    if loaded is None:
        return problems
    return problems + [
        PlanProblem(Severity.ERROR, problem.describe(), loaded.source.at(problem.path))
        for problem in validate_tunnels(loaded.inventory)
    ]
