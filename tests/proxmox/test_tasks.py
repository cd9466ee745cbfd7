"""Waiting for Proxmox tasks: exit status, streamed log, timeout, cancellation, plan calls."""

from __future__ import annotations

from typing import Any

import pytest

from migrator.errors import (
    ConnectError,
    OutcomeUnknown,
    ProxmoxError,
    PveTaskError,
    TaskCancelled,
    TaskFailed,
    TaskTimeout,
)
from migrator.executors import pvetasks
from migrator.executors.proxmox import ProxmoxApiError, ProxmoxClient
from migrator.executors.pvetasks import parse_upid, wait_task
from migrator.plan.model import ProxmoxCall
from tests.proxmox.conftest import SECRET

TEMPLATE = "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst"
QUOTAS = "Quotas are not supported by unprivileged containers."


def create_call(vmid: int = 101, *, wait: bool = True) -> ProxmoxCall:
    params = {"vmid": vmid, "ostemplate": TEMPLATE, "hostname": f"ct{vmid}", "storage": "local-lvm"}
    return ProxmoxCall(method="POST", path="/nodes/pve1/lxc", params=params, wait_task=wait)


def test_a_failed_task_raises_task_failed_with_its_log(client: ProxmoxClient, pve: Any) -> None:
    pve.add_ct(101, "ct101")
    pve.fail("POST", "/nodes/pve1/lxc/101/status/start", error="quotas_not_supported_unprivileged_containers")
    lines: list[str] = []
    upid = client.start_lxc("pve1", 101)
    with pytest.raises(TaskFailed) as caught:
        client.wait_task(upid, timeout=10, poll=0.05, on_log=lines.append)
    err = caught.value
    assert isinstance(err, PveTaskError)
    assert err.exitstatus == QUOTAS
    assert err.upid == upid
    assert err.where == f"proxmox pve1, task {upid}"
    assert lines == [QUOTAS, f"TASK ERROR: {QUOTAS}"]
    assert err.log_tail == lines
    assert f"task vzstart 101 on pve1 failed: {QUOTAS}" in str(err)
    assert f"    | TASK ERROR: {QUOTAS}" in str(err)


def test_the_log_is_read_page_by_page_without_repeats(
    client: ProxmoxClient, pve: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pvetasks, "LOG_PAGE", 1)
    pve.add_ct(101, "ct101")
    pve.fail("POST", "/nodes/pve1/lxc/101/status/start", error="quotas_not_supported_unprivileged_containers")
    lines: list[str] = []
    with pytest.raises(PveTaskError):
        client.wait_task(client.start_lxc("pve1", 101), timeout=10, poll=0.05, on_log=lines.append)
    assert lines == [QUOTAS, f"TASK ERROR: {QUOTAS}"]
    log_reads = [p for m, p, _ in pve.requests if m == "GET" and p.endswith("/log")]
    assert len(log_reads) == 3  # line 1, line 2, then an empty page


@pytest.mark.fakepve(time_scale=0.01)
def test_a_task_past_its_timeout_is_stopped(client: ProxmoxClient, pve: Any) -> None:
    pve.ct_secs["create"] = 100  # one real second at this time scale
    upid = client.create_lxc("pve1", 101, ostemplate=TEMPLATE, storage="local-lvm")
    with pytest.raises(TaskTimeout) as caught:
        client.wait_task(upid, timeout=0.2, poll=0.05)
    assert "task vzcreate 101 on pve1 still running after 0.2s; it was asked to stop" in str(caught.value)
    assert ("DELETE", f"/api2/json/nodes/pve1/tasks/{upid}") in [(m, p) for m, p, _ in pve.requests]


@pytest.mark.fakepve(time_scale=0.01)
def test_cancelling_stops_the_task(client: ProxmoxClient, pve: Any) -> None:
    pve.ct_secs["create"] = 100
    upid = client.create_lxc("pve1", 101, ostemplate=TEMPLATE, storage="local-lvm")
    polls: list[int] = []

    def cancel_on_second_poll() -> bool:
        polls.append(1)
        return len(polls) >= 2

    with pytest.raises(TaskCancelled, match="cancelled by the operator; it was asked to stop"):
        client.wait_task(upid, timeout=30, poll=0.05, cancel=cancel_on_second_poll)
    assert len(polls) == 2
    deletes = [p for m, p, _ in pve.requests if m == "DELETE"]
    assert deletes == [f"/api2/json/nodes/pve1/tasks/{upid}"]


@pytest.mark.fakepve(time_scale=0.01)
def test_a_failed_stop_is_reported_with_the_cancellation(client: ProxmoxClient, pve: Any) -> None:
    pve.ct_secs["create"] = 100
    upid = client.create_lxc("pve1", 101, ostemplate=TEMPLATE, storage="local-lvm")
    pve.fail("DELETE", upid, 500, "unable to stop task")
    with pytest.raises(
        TaskCancelled, match=r"stopping it failed too: DELETE .* HTTP 500 unable to stop task"
    ):
        client.wait_task(upid, timeout=30, poll=0.05, cancel=lambda: True)


def test_run_call_waits_for_the_task_and_keeps_its_log(client: ProxmoxClient) -> None:
    seen: list[str] = []
    outcome = client.run_call(create_call(), timeout=10, on_log=seen.append, cancel=lambda: False, poll=0.05)
    assert outcome.upid is not None and ":vzcreate:101:" in outcome.upid
    assert outcome.data == outcome.upid
    assert outcome.exitstatus == "OK"
    assert outcome.log_lines == seen == ["TASK OK"]


def test_run_call_without_waiting_returns_the_upid(client: ProxmoxClient) -> None:
    outcome = client.run_call(create_call(wait=False), timeout=10, on_log=print, cancel=lambda: False)
    assert outcome.upid is not None and parse_upid(outcome.upid).type == "vzcreate"
    assert (outcome.exitstatus, outcome.log_lines) == (None, [])


def test_run_call_of_a_read_returns_the_data(client: ProxmoxClient, pve: Any) -> None:
    pve.add_ct(101, "ct101")
    call = ProxmoxCall(method="GET", path="/nodes/pve1/lxc/101/config")
    outcome = client.run_call(call, timeout=10, on_log=print, cancel=lambda: False)
    assert outcome.data["hostname"] == "ct101"
    assert outcome.upid is None


def test_run_call_of_a_failing_task_raises(client: ProxmoxClient, pve: Any) -> None:
    pve.add_ct(101, "ct101")
    pve.fail("POST", "/nodes/pve1/lxc/101/status/start", error="quotas_not_supported_unprivileged_containers")
    call = ProxmoxCall(method="POST", path="/nodes/pve1/lxc/101/status/start")
    with pytest.raises(PveTaskError, match="failed: Quotas"):
        client.run_call(call, timeout=10, on_log=print, cancel=lambda: False, poll=0.05)


def test_secrets_in_api_answers_are_masked(client: ProxmoxClient, pve: Any) -> None:
    pve.fail("GET", "/nodes/pve1/lxc", 500, f"bad value {SECRET} in storage.cfg")
    with pytest.raises(ProxmoxApiError) as caught:
        client.lxc_list("pve1")
    assert SECRET not in str(caught.value)
    assert "bad value *** in storage.cfg" in str(caught.value)


# The poller's own logic, with a scripted API (connection errors cannot be made on demand).

UPID = "UPID:pve1:000003E8:00001B58:6B0A4220:vzdump:101:root@pam!migrator:"


class ScriptedApi:
    """Answers task status and log calls from a script; raises the ConnectErrors it is given."""

    def __init__(self, statuses: list[dict[str, Any] | Exception], log: list[str]) -> None:
        self.statuses = statuses
        self.log = log
        self.calls: list[tuple[str, str]] = []

    def __call__(self, method: str, path: str, params: dict[str, Any] | None) -> Any:
        self.calls.append((method, path))
        if path.endswith("/status"):
            answer = self.statuses.pop(0)
            if isinstance(answer, Exception):
                raise answer
            return answer
        if path.endswith("/log"):
            start = (params or {}).get("start", 0)
            return [{"n": n + 1, "t": t} for n, t in enumerate(self.log)][start:]
        return None


def test_parse_upid_names_node_type_and_id() -> None:
    upid = parse_upid(UPID)
    assert (upid.node, upid.type, upid.id, upid.user) == ("pve1", "vzdump", "101", "root@pam!migrator")
    assert upid.label == "vzdump 101 on pve1"
    with pytest.raises(ProxmoxError, match="not a Proxmox task id"):
        parse_upid("UPID:../../etc")


def test_a_few_connection_errors_while_polling_are_ridden_out() -> None:
    running = {"status": "running"}
    api = ScriptedApi(
        [ConnectError("reset"), running, ConnectError("reset"), {"status": "stopped", "exitstatus": "OK"}],
        ["copying", "TASK OK"],
    )
    sleeps: list[float] = []
    status = wait_task(api, UPID, timeout=60, poll=0.5, sleep=sleeps.append, clock=lambda: 0.0)
    assert status["exitstatus"] == "OK"
    assert sleeps == [0.5, 0.5, 0.5]


def test_too_many_connection_errors_in_a_row_give_up() -> None:
    api = ScriptedApi([ConnectError("reset")] * 3, [])
    with pytest.raises(ConnectError, match="reset"):
        wait_task(api, UPID, timeout=60, poll=0.5, sleep=lambda _: None, clock=lambda: 0.0)


def test_log_lines_are_redacted_before_anyone_sees_them() -> None:
    api = ScriptedApi(
        [{"status": "stopped", "exitstatus": "failed"}], [f"token {SECRET}", "TASK ERROR: failed"]
    )
    seen: list[str] = []
    with pytest.raises(PveTaskError) as caught:
        wait_task(api, UPID, timeout=60, on_log=seen.append, redact=lambda t: t.replace(SECRET, "***"))
    assert seen[0] == "token ***"
    assert SECRET not in str(caught.value)


def test_sleeps_never_exceed_poll_nor_the_time_left() -> None:
    now = [0.0]

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    sleeps: list[float] = []
    api = ScriptedApi([{"status": "running"}] * 10, [])
    with pytest.raises(TaskTimeout):
        wait_task(api, UPID, timeout=1.2, poll=0.5, sleep=sleep, clock=lambda: now[0])
    assert sleeps == [0.5, 0.5, pytest.approx(0.2)]
    assert api.calls[-1] == ("DELETE", f"nodes/pve1/tasks/{UPID}")


@pytest.mark.fakepve(time_scale=0.01)
def test_losing_sight_of_a_started_task_is_an_unknown_outcome_not_a_failure(
    client: ProxmoxClient, pve: Any
) -> None:
    """The task was started (a UPID came back); then its status cannot be read (a proxy's 502
    on every poll). It runs on in the node: the outcome is unknown, never "failed"."""
    pve.ct_secs["create"] = 100
    pve.fail("GET", "/status", 502, "Bad Gateway")
    with pytest.raises(OutcomeUnknown, match="lost sight of task UPID:pve1:") as caught:
        client.run_call(create_call(), timeout=10, poll=0.05)
    assert not isinstance(caught.value, TaskFailed)
    assert [p for m, p, _ in pve.requests if m == "DELETE"] == []  # it was not asked to stop
