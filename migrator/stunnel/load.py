"""Load a tunnel inventory file with file:line positions for every problem.

YAML issues and pydantic errors become :class:`~migrator.stunnel.validate.Problem` entries with
the path of the bad value, so the CLI reports them exactly like rule violations.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from migrator.errors import PlanError, UsageError
from migrator.plan.problems import Problem as PlanProblem
from migrator.plan.problems import Severity
from migrator.plan.source import Position, SourceMap, read_yaml
from migrator.stunnel.model import TunnelInventory
from migrator.stunnel.validate import PathKey, Problem, validate_tunnels


@dataclass(frozen=True)
class LoadedTunnels:
    inventory: TunnelInventory
    source: SourceMap


def locate(problem: Problem, source: SourceMap) -> str:
    """``FILE:LINE: service X on host H: message (hint)``."""
    position = source.at(problem.path)
    return f"{position.file}:{position.line}: {problem.describe()}"


def load_tunnels(path: Path, display: str | None = None) -> LoadedTunnels:
    """Read and model-check ``path``; raise PlanError with located problems, one per line."""
    name = display or str(path)
    if not path.is_file():
        raise UsageError(f"tunnel inventory {name} not found", hint="pass --tunnels plans/tunnels.yaml")
    data, source, issues = read_yaml(path, name)
    problems = [f"{i.position.file}:{i.position.line}: {i.message}" + (f" ({i.hint})" if i.hint else "")
                for i in issues]
    if not problems:
        try:
            return LoadedTunnels(TunnelInventory.model_validate(data), source)
        except ValidationError as exc:
            for error in exc.errors(include_url=False, include_input=False):
                loc: PathKey = tuple(error["loc"])
                problem = Problem(f"{'.'.join(map(str, loc)) or 'file'}: {error['msg']}", path=loc)
                problems.append(locate(problem, source))
    raise PlanError(f"{name} is not a valid tunnel inventory", problems=list(problems),
                    where=name, hint="fix the lines listed")


def check_file(path: Path) -> list[PlanProblem]:
    """Every problem of a tunnel inventory as located plan problems (for `migrator validate`)."""
    name = str(path)
    try:
        loaded = load_tunnels(path, name)
    except PlanError as exc:
        return [_as_plan_problem(str(text), name) for text in exc.problems]
    except UsageError as exc:
        return [PlanProblem(Severity.ERROR, exc.message, Position(name, 1, 1), None, exc.hint)]
    return [
        PlanProblem(Severity.ERROR, problem.describe(), loaded.source.at(problem.path))
        for problem in validate_tunnels(loaded.inventory)
    ]


def _as_plan_problem(text: str, name: str) -> PlanProblem:
    """``FILE:LINE: message`` (as load_tunnels reports) -> a located problem."""
    file, _, rest = text.partition(":")
    line, _, message = rest.partition(": ")
    if file and line.isdigit():
        return PlanProblem(Severity.ERROR, message, Position(file, int(line), 1))
    return PlanProblem(Severity.ERROR, text, Position(name, 1, 1))
