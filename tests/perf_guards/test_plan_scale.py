"""`migrator validate` and `migrator plan` stay linear in the number of steps (issue 18.6).

Counted, not timed: the operations (every call and line of Python run, as sys.settrace sees
them: a loop over all steps counts although it calls nothing) and the peak of traced memory
of loading and rendering a generated plan of N and 4N steps. Linear work makes the ratio just
under 4 (the fixed part does not grow); one scan of all steps per step makes it ~16. The
figures against the targets (10,000 steps, seconds and MB) are bench/plan_scale.py's: they
depend on the machine, these do not.
"""

from __future__ import annotations

import importlib.util
import io
import sys
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
from rich.cells import cached_cell_len
from rich.console import Console

from migrator import render
from migrator.plan.load import LoadedPlan, check_plan, load_plan

ROOT = Path(__file__).resolve().parents[2]
SMALL, LARGE = 100, 400  # 4x (tracing every line is slow: small plans)
LINEAR = 4.2  # the ratio linear work stays under (4, and a little for dict resizes)


def _bench() -> Any:
    spec = importlib.util.spec_from_file_location("plan_scale", ROOT / "bench" / "plan_scale.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def plans(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    bench = _bench()
    found = {}
    for steps in (SMALL, LARGE):
        folder = tmp_path_factory.mktemp(f"plan{steps}")
        found[steps] = bench.write_plan(folder, steps)
    return found


def operations(work: Callable[[], object]) -> int:
    count = 0

    def tracer(frame: FrameType, event: str, arg: object) -> Any:
        nonlocal count
        count += 1
        return tracer

    sys.settrace(tracer)
    try:
        work()
    finally:
        sys.settrace(None)
    return count


def peak_bytes(work: Callable[[], object]) -> int:
    tracemalloc.start()
    try:
        work()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def ratio(measure: Callable[[Callable[[], object]], int], work: Callable[[int], object]) -> float:
    work(SMALL)  # warm: imports, compiled patterns

    def cold(steps: int) -> int:
        cached_cell_len.cache_clear()  # rich's cache of cell widths would favour the run done twice
        return measure(lambda: work(steps))

    return cold(LARGE) / cold(SMALL)


def test_validating_a_plan_4x_as_long_takes_at_most_4x_the_operations(plans: dict[int, Path]) -> None:
    def validate(steps: int) -> None:
        loaded, problems = check_plan(plans[steps])
        assert loaded is not None and not problems

    assert ratio(operations, validate) < LINEAR


def test_every_format_of_plan_takes_at_most_4x_the_operations_for_4x_the_steps(
    plans: dict[int, Path],
) -> None:
    loaded = {steps: load_plan(path) for steps, path in plans.items()}

    def terminal(steps: int) -> None:
        render.render_terminal(loaded[steps], Console(file=io.StringIO(), width=100))

    def json(steps: int) -> None:  # a line for every step (it was a scan of the plan per step)
        render.render_json(loaded[steps])

    def json_cold(steps: int) -> None:  # the positions are read (once, lazily) for those lines
        render.render_json(load_plan(plans[steps]))

    def markdown(steps: int) -> None:
        render.render_markdown(loaded[steps])

    for each in loaded.values():
        assert each.source.values  # read now: json() counts the rendering alone
    for work in (terminal, json, json_cold, markdown):
        assert ratio(operations, work) < LINEAR, work.__name__


def test_a_valid_plan_is_held_once_and_without_a_map_of_positions(plans: dict[int, Path]) -> None:
    """No node tree, no position per value, no second copy of the steps while resolving."""

    def validate(steps: int) -> LoadedPlan:
        loaded, _ = check_plan(plans[steps])
        assert loaded is not None
        return loaded

    per_step = (peak_bytes(lambda: validate(LARGE)) - peak_bytes(lambda: validate(SMALL))) / (LARGE - SMALL)
    assert per_step < 12_000, f"{per_step:.0f} bytes per step at the peak"
    loaded = validate(SMALL)
    assert loaded.source._values is None  # positions are read again only when one is asked for
    assert loaded.line_of("s3") == loaded.source.at(("phases", 0, "steps", 3)).line > 1
