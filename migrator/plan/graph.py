"""Pure ordering logic: effective dependencies, execution order, cycles, critical path.

A step depends on the step before it in the plan unless it declares ``depends_on`` (then it
depends on exactly those). Execution follows the plan order, moved only as far as a declared
dependency requires (a stable topological sort).
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from migrator.plan.model import Step


def effective_deps(steps: Sequence[Step]) -> dict[str, list[str]]:
    """Step id -> the ids it waits for (declared, or the previous step)."""
    deps: dict[str, list[str]] = {}
    previous: str | None = None
    for step in steps:
        if step.depends_on is not None:
            deps[step.id] = list(step.depends_on)
        else:
            deps[step.id] = [previous] if previous else []
        previous = step.id
    return deps


def find_cycle(deps: Mapping[str, Sequence[str]]) -> list[str] | None:
    """A dependency cycle as ``[a, b, c, a]``, or None. Unknown ids are ignored.

    Iterative: a chain of 10,000 forward ``depends_on`` would exceed Python's recursion limit.
    """
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done
    for root in deps:
        if root in state:
            continue
        stack: list[str] = [root]
        pending: list[list[str]] = [[d for d in reversed(deps[root]) if d in deps]]
        state[root] = 1
        while stack:
            if not pending[-1]:
                state[stack.pop()] = 2
                pending.pop()
                continue
            dep = pending[-1].pop()
            if state.get(dep) == 1:
                return [*stack[stack.index(dep) :], dep]
            if dep not in state:
                state[dep] = 1
                stack.append(dep)
                pending.append([d for d in reversed(deps[dep]) if d in deps])
    return None


def execution_order(ids: Sequence[str], deps: Mapping[str, Sequence[str]]) -> list[str]:
    """Stable topological order: plan order wherever dependencies allow. Assumes no cycle."""
    position = {step_id: i for i, step_id in enumerate(ids)}
    waiting = {i: {d for d in deps.get(i, ()) if d in position} for i in ids}
    dependents: dict[str, list[str]] = {i: [] for i in ids}
    for step_id, needs in waiting.items():
        for dep in needs:
            dependents[dep].append(step_id)
    ready = [position[i] for i in ids if not waiting[i]]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        step_id = ids[heapq.heappop(ready)]
        order.append(step_id)
        for child in dependents[step_id]:
            waiting[child].discard(step_id)
            if not waiting[child]:
                heapq.heappush(ready, position[child])
    return order


@dataclass(frozen=True)
class CriticalPath:
    seconds: int
    steps: list[str]
    unestimated: list[str]


def critical_path(
    ids: Sequence[str], deps: Mapping[str, Sequence[str]], estimates: Mapping[str, int | None]
) -> CriticalPath:
    """The longest chain of estimates among ``ids`` (dependencies outside ``ids`` are ignored).

    Steps without an estimate count as zero and are listed in ``unestimated``.
    """
    chosen = set(ids)
    # The length to each step and the step before it on its longest chain; the chain itself is
    # walked back once at the end (a copy per step cost O(n^2) on a 10,000-step chain).
    best: dict[str, tuple[int, str | None]] = {}
    for step_id in execution_order(list(ids), {k: [d for d in v if d in chosen] for k, v in deps.items()}):
        own = estimates.get(step_id) or 0
        before = [(best[d][0], d) for d in deps.get(step_id, ()) if d in best]
        length, previous = max(before, key=lambda item: item[0], default=(0, None))
        best[step_id] = (length + own, previous)
    path: list[str] = []
    seconds = 0
    if best:
        last = max(best, key=lambda k: best[k][0])
        seconds = best[last][0]
        node: str | None = last
        while node is not None:
            path.append(node)
            node = best[node][1]
        path.reverse()
    return CriticalPath(seconds, path, [i for i in ids if estimates.get(i) is None])


def runs_before(
    earlier: str, step_id: str, deps: Mapping[str, Sequence[str]], rank: Mapping[str, int]
) -> bool:
    """``step_id`` depends on ``earlier``, transitively. ``rank`` is the execution order index.

    Only steps ranked after ``earlier`` can lead to it, so the search stays near the two
    steps instead of collecting every ancestor (which cost O(n) memory per question).
    """
    floor = rank.get(earlier, -1)
    seen: set[str] = set()
    todo = list(deps.get(step_id, ()))
    while todo:
        dep = todo.pop()
        if dep == earlier:
            return True
        if dep not in seen and rank.get(dep, -1) > floor:
            seen.add(dep)
            todo.extend(deps.get(dep, ()))
    return False


def blocked_by(step_id: str, deps: Mapping[str, Sequence[str]]) -> set[str]:
    """Every step ``step_id`` depends on, transitively."""
    seen: set[str] = set()
    todo = list(deps.get(step_id, ()))
    while todo:
        dep = todo.pop()
        if dep not in seen:
            seen.add(dep)
            todo.extend(deps.get(dep, ()))
    return seen
