"""Load a plan and its inventory: YAML -> models -> validation -> resolved plan.

Every problem of a plan is found in one pass: each step is validated on its own so that one
broken step does not hide the others, then the cross-step rules run on what is valid.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from migrator.errors import PlanError, UsageError
from migrator.plan import graph, probe_from
from migrator.plan.bulk import gc_paused
from migrator.plan.durations import FILE_CONTEXT
from migrator.plan.inventory import Inventory
from migrator.plan.model import Phase, Plan, Step
from migrator.plan.params import Resolver
from migrator.plan.problems import Problem, Severity, errors, sort_problems
from migrator.plan.schema_errors import did_you_mean, translate
from migrator.plan.source import Position, SourceMap, read_yaml
from migrator.plan.validate import validate_inventory, validate_plan

PLANS_DIR_ENV = "MIGRATOR_PLANS"


@dataclass(frozen=True)
class LoadedPlan:
    """A valid plan, resolved against its inventory, ready to run."""

    plan: Plan
    inventory: Inventory
    path: Path
    inventory_path: Path
    order: list[str]
    deps: dict[str, list[str]]
    source: SourceMap
    warnings: list[Problem] = field(default_factory=list)

    @property
    def fingerprint(self) -> str:
        """The digest of the resolved plan (its JSON dump, keys sorted): what a run is tied to."""
        return self._prints[0]

    @property
    def step_fingerprints(self) -> dict[str, str]:
        """Step id -> the digest of that resolved step's JSON dump."""
        return self._prints[1]

    @cached_property
    def _prints(self) -> tuple[str, dict[str, str]]:
        # Computed when first asked for (a run, --format json or markdown): `migrator validate`
        # and the terminal view never need them, and at 10,000 steps they cost ~0.35 s. The
        # plan's models are frozen and its step lists are filled once, by _resolve.
        return fingerprints(self.plan)

    def step(self, step_id: str) -> Step:
        return self._steps[step_id]

    def phase(self, step_id: str) -> Phase:
        return self._phases[step_id]

    @cached_property
    def _steps(self) -> dict[str, Step]:
        return {s.id: s for s in self.plan.steps()}

    @cached_property
    def _phases(self) -> dict[str, Phase]:
        return self.plan.phase_of()

    def line_of(self, step_id: str) -> int:
        place = self._places.get(step_id)
        return 0 if place is None else self.source.at(("phases", *place)).line

    @cached_property
    def _places(self) -> dict[str, tuple[int, str, int]]:
        """Step id -> (phase index, "steps", step index): `plan --format json` asks for every step."""
        return {
            step.id: (pi, "steps", si)
            for pi, phase in reversed(list(enumerate(self.plan.phases)))
            for si, step in reversed(list(enumerate(phase.steps)))
        }


def plans_dir() -> Path:
    return Path(os.environ.get(PLANS_DIR_ENV, "plans"))


def find_plan(name: str) -> Path:
    """``off1`` -> ``plans/off1.yaml``; a path is taken as it is."""
    candidate = Path(name)
    if candidate.suffix in (".yaml", ".yml") or os.sep in name:
        if not candidate.is_file():
            raise UsageError(f"no plan file {name}", hint="check the path")
        return candidate
    found = plans_dir() / f"{name}.yaml"
    if found.is_file():
        return found
    known = sorted(
        p.stem for p in plans_dir().glob("*.yaml") if not p.stem.startswith(("inventory", "tunnels"))
    )
    listing = ", ".join(known) if known else f"none in {plans_dir()}/"
    raise UsageError(f"no plan named '{name}'", hint=f"plans: {listing}; or give a path to a .yaml file")


def _yaml_problems(path: Path) -> tuple[Any, SourceMap, list[Problem]]:
    data, source, issues = read_yaml(path)
    problems = [Problem(Severity.ERROR, i.message, i.position, None, i.hint, root=True) for i in issues]
    return data, source, problems


def load_inventory(path: Path) -> tuple[Inventory | None, list[Problem]]:
    if not path.is_file():
        return None, [
            Problem(
                Severity.ERROR,
                f"inventory file {path} does not exist",
                Position(str(path), 1, 1),
                hint="create it or pass --inventory FILE",
            )
        ]
    data, source, problems = _yaml_problems(path)
    if data is None and problems:
        return None, problems
    if not isinstance(data, dict):
        return None, [
            *problems,
            Problem(
                Severity.ERROR, "an inventory is a mapping with name, environment and hosts", source.at(())
            ),
        ]
    try:
        inventory = Inventory.model_validate(data, context=FILE_CONTEXT)
    except ValidationError as exc:
        return None, problems + translate(exc, Inventory, data, source, (), None)
    return inventory, problems + validate_inventory(inventory, source)


def _kind_of(data: Any) -> str:
    if isinstance(data, list):
        return "a list"
    return "text" if isinstance(data, str) else f"a single value ({data!r})"


def _step_id(raw: Any) -> str | None:
    return raw.get("id") if isinstance(raw, dict) and isinstance(raw.get("id"), str) else None


def check_plan(path: Path, *, inventory: Path | None = None) -> tuple[LoadedPlan | None, list[Problem]]:
    """Load and validate; return the plan (None when any error) and every problem found."""
    with gc_paused():
        return _check_plan(path, inventory)


def _check_plan(path: Path, inventory: Path | None) -> tuple[LoadedPlan | None, list[Problem]]:
    data, source, problems = _yaml_problems(path)
    if data is None and problems:  # a syntax error: nothing to validate
        return None, problems
    # A duplicate key leaves a usable document: carry on, so every other mistake shows too.
    if not isinstance(data, dict):
        what = "the file is empty" if data is None else f"the file holds {_kind_of(data)}, not a mapping"
        not_a_plan = Problem(
            Severity.ERROR,
            f"{what}: a plan is a mapping with name, title, inventory and phases",
            source.at(()),
            hint="start with 'name: ...' at the left margin; see 'Plan format'",
        )
        return None, sort_problems([*problems, not_a_plan])

    # 1. Each step on its own, so one broken step does not hide the others.
    raw_phases = data.get("phases")
    steps_by_phase: list[list[Step]] = []
    raw_ids: list[str] = []
    if isinstance(raw_phases, list):
        for pi, raw_phase in enumerate(raw_phases):
            valid: list[Step] = []
            raw_steps = raw_phase.get("steps") if isinstance(raw_phase, dict) else None
            for si, written in enumerate(raw_steps if isinstance(raw_steps, list) else []):
                step_id = _step_id(written)
                if step_id:
                    raw_ids.append(step_id)
                raw_step = probe_from.rewrite(written, ("phases", pi, "steps", si), source, step_id, problems)
                if raw_step is not written and isinstance(raw_steps, list):
                    raw_steps[si] = raw_step  # validate_plan reads the raw data too
                try:
                    valid.append(Step.model_validate(raw_step, context=FILE_CONTEXT))
                except ValidationError as exc:
                    problems += translate(exc, Step, raw_step, source, ("phases", pi, "steps", si), step_id)
            steps_by_phase.append(valid)

    # 2. The plan around them (steps replaced by the valid ones).
    top = dict(data)
    if isinstance(raw_phases, list):
        top["phases"] = [
            {**p, "steps": []} if isinstance(p, dict) and isinstance(p.get("steps"), list) else p
            for p in raw_phases
        ]
    try:
        skeleton = Plan.model_validate(top, context=FILE_CONTEXT)
    except ValidationError as exc:
        return None, sort_problems(problems + translate(exc, Plan, top, source, (), None))
    plan = skeleton.model_copy(
        update={
            "phases": [
                ph.model_copy(update={"steps": steps_by_phase[i]}) for i, ph in enumerate(skeleton.phases)
            ]
        }
    )

    # 3. The inventory, then the rules across steps.
    inventory_path = inventory or (path.parent / plan.inventory)
    if inventory is None and not inventory_path.is_file():
        # The mistake is the plan's `inventory:` line (or a missing file): point there.
        nearby = sorted(p.name for p in path.parent.glob("*.y*ml") if p != path)
        inv, inv_problems = (
            None,
            [
                Problem(
                    Severity.ERROR,
                    f"inventory file '{plan.inventory}' not found (looked for {inventory_path})"
                    + did_you_mean(plan.inventory, nearby),
                    source.at(("inventory",)),
                    hint="fix inventory:, a path relative to the plan, or pass --inventory FILE",
                )
            ],
        )
    else:
        inv, inv_problems = load_inventory(inventory_path)
    problems += inv_problems
    problems += validate_plan(plan, data, source, inv, raw_ids)
    if errors(problems) or inv is None:
        return None, sort_problems(problems)
    # The file's values are no longer needed: let a large plan's go before it is resolved.
    del data, top, raw_phases
    return _resolve(
        plan, inv, path=path, inventory_path=inventory_path, source=source, warnings=problems
    ), sort_problems(problems)


def _resolve(
    plan: Plan,
    inventory: Inventory,
    *,
    path: Path,
    inventory_path: Path,
    source: SourceMap,
    warnings: list[Problem],
) -> LoadedPlan:
    """The plan with every reference substituted.

    ``plan`` is resolved in place, step by step: a validated step is dropped as soon as its
    resolved copy exists, so a large plan is never held twice.
    """
    resolver = Resolver(inventory, plan.params)
    for phase in plan.phases:
        for i, step in enumerate(phase.steps):
            dumped = step.model_dump(mode="json", exclude_defaults=True)
            phase.steps[i] = Step.model_validate(resolver.tree(dumped))
    deps = graph.effective_deps(plan.steps())
    order = graph.execution_order([s.id for s in plan.steps()], deps)
    return LoadedPlan(
        plan=plan,
        inventory=inventory,
        path=path,
        inventory_path=inventory_path,
        order=order,
        deps=deps,
        source=source,
        warnings=warnings,
    )


def fingerprints(plan: Plan) -> tuple[str, dict[str, str]]:
    """The digests of a resolved plan and of each of its steps.

    The plan's is the digest of the document ``plan.model_dump(mode="json")`` would give, as
    ``json.dumps(sort_keys=True)`` writes it, streamed: the plan around its steps, and each
    step's text where it goes; no whole-plan dump is held.
    """
    step_prints: dict[str, str] = {}
    placeholders = [f"\x00steps of phase {i}\x00" for i in range(len(plan.phases))]
    around = plan.model_dump(mode="json", exclude={"phases": {"__all__": {"steps"}}})
    for phase_dump, placeholder in zip(around["phases"], placeholders, strict=True):
        phase_dump["steps"] = placeholder
    rest = _text(around)
    plan_hash = hashlib.sha256()
    for phase, placeholder in zip(plan.phases, placeholders, strict=True):
        before, _, rest = rest.partition(_text(placeholder))
        plan_hash.update(f"{before}[".encode())
        for i, step in enumerate(phase.steps):
            text = _text(step.model_dump(mode="json")).encode()
            step_prints[step.id] = hashlib.sha256(text).hexdigest()
            plan_hash.update(b", " + text if i else text)
        plan_hash.update(b"]")
    plan_hash.update(rest.encode())
    return plan_hash.hexdigest(), step_prints


def _text(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def load_plan(path: Path | str, *, inventory: Path | None = None) -> LoadedPlan:
    """Load a valid plan or raise PlanError carrying every problem."""
    loaded, problems = check_plan(Path(path), inventory=inventory)
    if loaded is None:
        found = errors(problems)
        first = found[0] if found else None
        raise PlanError(
            f"{len(found)} error(s) in the plan" + (f"; first: {first}" if first else ""),
            problems=list(problems),
            hint=f"run: migrator validate {path}",
        )
    return loaded
