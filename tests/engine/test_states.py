"""The lifecycles as data: every legal transition works, every other one raises."""

from __future__ import annotations

import itertools

import pytest

from migrator.engine import states
from migrator.engine.states import (
    RUN_TABLE,
    STEP_TABLE,
    IllegalTransition,
    RunLifecycle,
    RunState,
    StepLifecycle,
    StepState,
)

STEP_TRIGGERS = sorted({t.trigger for t in states.STEP_TRANSITIONS})
RUN_TRIGGERS = sorted({t.trigger for t in states.RUN_TRANSITIONS})


@pytest.mark.parametrize(("state", "trigger"), list(itertools.product(StepState, STEP_TRIGGERS)))
def test_every_step_trigger_from_every_state(state: StepState, trigger: str) -> None:
    step = StepLifecycle("s1", state)
    expected = STEP_TABLE.get((state, trigger))
    assert step.may(trigger) is (expected is not None)
    if expected is None:
        with pytest.raises(IllegalTransition, match=f"'{trigger}' is not allowed from state {state}"):
            step.fire(trigger)
        assert step.state == state
    else:
        assert step.fire(trigger) == (state, expected)
        assert step.current == StepState(expected)


@pytest.mark.parametrize(("state", "trigger"), list(itertools.product(RunState, RUN_TRIGGERS)))
def test_every_run_trigger_from_every_state(state: RunState, trigger: str) -> None:
    run = RunLifecycle("run 1", state)
    expected = RUN_TABLE.get((state, trigger))
    if expected is None:
        with pytest.raises(IllegalTransition):
            run.fire(trigger)
        assert run.current == state
    else:
        assert run.fire(trigger) == (state, expected)


def test_no_auto_transitions_backdoor() -> None:
    step = StepLifecycle("s1", StepState.PENDING)
    step.fire("start")  # attached to the machine from here on
    assert not hasattr(step, "to_succeeded")
    with pytest.raises(IllegalTransition):
        step.fire("to_succeeded")


def test_restore_fires_no_callbacks_and_keeps_the_stored_state() -> None:
    fired: list[str] = []
    machine = states.STEP_MACHINE
    machine.on_enter_running(lambda event: fired.append("enter running"))  # on the shared machine
    try:
        step = StepLifecycle("s1", StepState.RUNNING)
        assert step.current == StepState.RUNNING
        assert fired == []
        step.fire("action_ok")
        step.fire("again")
        step.fire("launch")
        assert fired == ["enter running"]
    finally:
        machine.get_state("running").on_enter.clear()


def test_shared_machine_keeps_models_apart() -> None:
    one, two = StepLifecycle("a", StepState.PENDING), StepLifecycle("b", StepState.FAILED)
    one.fire("start")
    assert (one.current, two.current) == (StepState.PRECHECKING, StepState.FAILED)


def test_chain_checker() -> None:
    ok = [
        ("pending", "start", "prechecking"),
        ("prechecking", "precheck_ok", "ready"),
        ("ready", "launch", "running"),
        ("running", "crash_found", "in_doubt"),
        ("in_doubt", "reconciled", "succeeded"),
    ]
    assert states.illegal_chain_reason(ok, table=STEP_TABLE, initial="pending") is None
    gap = [ok[0], ok[2]]
    assert "gap" in (states.illegal_chain_reason(gap, table=STEP_TABLE, initial="pending") or "")
    bad = [("pending", "launch", "running")]
    assert "not in the lifecycle" in (
        states.illegal_chain_reason(bad, table=STEP_TABLE, initial="pending") or ""
    )


def test_mermaid_draws_every_transition_of_both_lifecycles() -> None:
    text = states.mermaid_all()
    assert text.count("stateDiagram-v2") == 2
    for t in (*states.STEP_TRANSITIONS, *states.RUN_TRANSITIONS):
        for source in t.sources:
            assert f"{source} --> {t.dest}: {t.trigger}" in text


def test_one_model_serves_every_lifecycle() -> None:
    # Loading a run makes one lifecycle per step; none of them is added to the machine.
    machine = states.STEP_MACHINE
    before = len(machine.models)
    many = [StepLifecycle(f"s{i}", StepState.PENDING) for i in range(50)]
    for lifecycle in many:
        lifecycle.fire("start")
    assert len(machine.models) == before == 1
    assert {lifecycle.current for lifecycle in many} == {StepState.PRECHECKING}
