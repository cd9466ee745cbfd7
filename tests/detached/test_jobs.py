"""The job protocol on this machine, for real: setsid jobs (as on the lab hosts) and systemd
transient units (through the stand-in that keeps systemd's unit semantics). No sleeps are
asserted on: the tests wait for states."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from migrator.executors.base import StepContext
from migrator.executors.detached import (
    JobState,
    JobStatus,
    cancel_script,
    parse_poll,
    poll_script,
    start_script,
)
from migrator.executors.detached_step import DetachedJob, FollowSettings
from migrator.executors.local import LocalTransport
from migrator.executors.progress import Progress
from migrator.plan.model import Step
from migrator.secrets import Redactor
from tests.detached.conftest import Flaky, SystemdHost, standin_bin


def wait_for(transport: object, jobs: str, name: str, *states: JobState) -> JobStatus:
    deadline = time.monotonic() + 30
    while True:
        status = parse_poll(transport.run(poll_script(jobs, name, 0), timeout=30).stdout)  # type: ignore[attr-defined]
        if status.state in states or time.monotonic() > deadline:
            return status
        time.sleep(0.1)


@pytest.fixture
def local() -> LocalTransport:
    return LocalTransport()


@pytest.fixture
def systemd(tmp_path: Path) -> SystemdHost:
    return SystemdHost(standin_bin(tmp_path / "bin"), tmp_path / "units")


def test_a_job_starts_exactly_once_and_reports_its_exit_status(local: LocalTransport, tmp_path: Path) -> None:
    jobs = str(tmp_path / "jobs")
    first = local.run(start_script(jobs, "j", "echo run >> " + str(tmp_path / "count") + "; exit 3", None))
    again = local.run(start_script(jobs, "j", "echo run >> " + str(tmp_path / "count"), None))
    assert first.stdout.strip() == "job=started setsid"
    assert again.stdout.strip() == "job=exists"
    status = wait_for(local, jobs, "j", JobState.FINISHED)
    assert status.state is JobState.FINISHED and status.exit_code == 3
    assert (tmp_path / "count").read_text() == "run\n"
    assert parse_poll(local.run(poll_script(jobs, "never", 0)).stdout).state is JobState.ABSENT


def test_setsid_cancel_kills_the_process_group_and_says_so(local: LocalTransport, tmp_path: Path) -> None:
    jobs = str(tmp_path / "jobs")
    local.run(start_script(jobs, "j", "sleep 60 & sleep 60; echo never", None))
    assert wait_for(local, jobs, "j", JobState.RUNNING).state is JobState.RUNNING
    reply = local.run(cancel_script(jobs, "j", "abort by the operator"))
    assert "stopped=kill-TERM-group" in reply.stdout
    status = wait_for(local, jobs, "j", JobState.STOPPED)
    assert status.state is JobState.STOPPED and "abort by the operator" in status.detail
    assert "never" not in (tmp_path / "jobs" / "j.out").read_text()


def test_setsid_timeout_is_enforced_on_the_host(local: LocalTransport, tmp_path: Path) -> None:
    jobs = str(tmp_path / "jobs")
    local.run(start_script(jobs, "j", "sleep 60", 1))
    status = wait_for(local, jobs, "j", JobState.STOPPED, JobState.FINISHED)
    assert status.state is JobState.STOPPED and "timeout after 1s" in status.detail


def test_systemd_path_uses_a_transient_unit_and_reads_its_end(systemd: SystemdHost, tmp_path: Path) -> None:
    jobs = str(tmp_path / "jobs")
    started = systemd.run(start_script(jobs, "migrator-p-r1-s-a1", "echo out; exit 4", 60))
    assert started.stdout.strip() == "job=started systemd", started.stderr
    status = wait_for(systemd, jobs, "migrator-p-r1-s-a1", JobState.FINISHED)
    assert status.exit_code == 4 and status.mode == "systemd"
    # --collect: the unit is gone; ExecStopPost left its end for us
    show = systemd.run("systemctl show -p LoadState -p ActiveState migrator-p-r1-s-a1.service").stdout
    assert "LoadState=not-found" in show
    end = (tmp_path / "jobs" / "migrator-p-r1-s-a1.end").read_text().split()
    assert end == ["exit-code", "exited", "4"]


def test_systemd_runtime_max_sec_and_stop(systemd: SystemdHost, tmp_path: Path) -> None:
    jobs = str(tmp_path / "jobs")
    systemd.run(start_script(jobs, "t", "sleep 60", 1))
    status = wait_for(systemd, jobs, "t", JobState.STOPPED)
    assert status.state is JobState.STOPPED and "RuntimeMaxSec (Result=timeout)" in status.detail
    systemd.run(start_script(jobs, "c", "sleep 60", 300))
    assert wait_for(systemd, jobs, "c", JobState.RUNNING).state is JobState.RUNNING
    reply = systemd.run(cancel_script(jobs, "c", "rollback"))
    assert "stopped=systemctl-stop" in reply.stdout
    status = wait_for(systemd, jobs, "c", JobState.STOPPED)
    assert "rollback" in status.detail and "Result=success" in status.detail


# -- following a job ----------------------------------------------------------------------------


class Seen:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.progress: list[Progress] = []

    def line(self, stream: str, text: str) -> None:
        self.lines.append(text)


def detached(command: str, ctx: StepContext, transport: object, jobs: Path, **step: object) -> DetachedJob:
    s = Step.model_validate({"id": "copy", "title": "t", "kind": "ssh", "host": "h", "detach": True,
                             "command": command, **step})  # fmt: skip
    settings = FollowSettings(poll=0.1, backoff=(0.05,), give_up=30)
    return DetachedJob(s, ctx, lambda: transport, lambda: None, Redactor(), command=command,  # type: ignore[arg-type, return-value]
                       jobs_dir=str(jobs), settings=settings)  # fmt: skip


RSYNC_LIKE = (
    r"printf '      1,000  10%%  1.00kB/s    0:00:09\r'; sleep 0.3; "
    r"printf '      5,000  50%%  1.00kB/s    0:00:05\r'; sleep 0.3; "
    r"printf '     10,000 100%%  1.00kB/s    0:00:10 (xfr#1, to-chk=0/1)\n'; echo done"
)


@pytest.mark.parametrize("where", ["setsid", "systemd"])
def test_follow_streams_output_and_progress_then_the_exit_status(
    where: str, tmp_path: Path, local: LocalTransport, systemd: SystemdHost
) -> None:
    seen = Seen()
    ctx = StepContext(run_id=7, attempt=2, on_line=seen.line, plan="off1", on_progress=seen.progress.append)
    transport = local if where == "setsid" else systemd
    outcome = detached(RSYNC_LIKE, ctx, transport, tmp_path / "jobs", progress="rsync").run()
    assert outcome.ok and outcome.exit_code == 0, outcome.summary
    assert "detached job migrator-off1-r7-copy-a2" in outcome.summary and where in outcome.summary
    assert [p.fraction for p in seen.progress] == [0.1, 0.5, 1.0]  # the \r redraws, then the final line
    assert "done" in seen.lines
    assert not any("1,000" in line for line in seen.lines), "a redraw is progress, not an output line"


def test_a_dropped_connection_is_reconnected_and_the_step_stays_running(
    tmp_path: Path, local: LocalTransport
) -> None:
    seen = Seen()
    ctx = StepContext(run_id=1, attempt=1, on_line=seen.line, plan="p")
    flaky = Flaky(local, down=3)
    outcome = detached("sleep 1; echo ok", ctx, flaky, tmp_path / "jobs").run()
    assert outcome.ok, outcome.summary
    assert sum("reconnecting in" in line for line in seen.lines) == 3
    assert any("reconnected" in line for line in seen.lines)


def test_abort_stops_the_job_on_the_host(tmp_path: Path, local: LocalTransport) -> None:
    seen = Seen()
    asked = {"n": 0}

    def cancel() -> bool:
        asked["n"] += 1
        return asked["n"] > 3

    ctx = StepContext(run_id=1, attempt=1, on_line=seen.line, plan="p", cancel=cancel)
    outcome = detached("sleep 60", ctx, local, tmp_path / "jobs").run()
    assert not outcome.ok
    assert (
        "cancelled by the operator" in outcome.summary and "stopped on h (kill-TERM-group)" in outcome.summary
    )
    status = parse_poll(local.run(poll_script(str(tmp_path / "jobs"), "migrator-p-r1-copy-a1", 0)).stdout)
    assert status.state is JobState.STOPPED


def test_poll_parsing_table() -> None:
    out = "--migrator-job-output--\naGkK\n"
    assert parse_poll("state=absent\n").state is JobState.ABSENT
    assert parse_poll("mode=setsid\npid=5\nalive=1\nsize=3\n" + out).output == b"hi\n"
    assert parse_poll("mode=setsid\nsize=0\n" + out).state is JobState.RUNNING  # launched, no pid yet
    assert parse_poll("mode=\nsize=0\n").state is JobState.RUNNING  # between lock and launch
    dead = parse_poll("mode=setsid\npid=5\nsize=0\n")
    assert dead.state is JobState.STOPPED and "without writing an exit status" in dead.detail
    assert parse_poll("mode=setsid\nrc=0\npid=5\nsize=0\n").exit_code == 0
    active = parse_poll("mode=systemd\nunit.ActiveState=active\nsize=0\n")
    assert active.state is JobState.RUNNING
    gone = parse_poll("mode=systemd\nunit.ActiveState=inactive\nunit.LoadState=not-found\nsize=0\n")
    assert gone.state is JobState.STOPPED and "unit gone" in gone.detail


def test_a_connection_down_for_longer_than_the_job_reads_its_end_after_reconnecting(
    tmp_path: Path, local: LocalTransport
) -> None:
    seen = Seen()
    ctx = StepContext(run_id=1, attempt=1, on_line=seen.line, plan="p")
    rc = tmp_path / "jobs" / "migrator-p-r1-copy-a1.rc"

    class DownUntilTheJobEnds(Flaky):
        def run(self, command: object, **kw: object) -> object:  # type: ignore[override]
            self.down = 0 if rc.exists() else 1
            return super().run(command, **kw)  # type: ignore[arg-type]

    flaky = DownUntilTheJobEnds(local, down=1)
    outcome = detached("sleep 1; echo ok >> " + str(tmp_path / "marker"), ctx, flaky, tmp_path / "jobs").run()
    assert outcome.ok and outcome.exit_code == 0, outcome.summary
    assert any("reconnecting" in line for line in seen.lines)
    assert (tmp_path / "marker").read_text() == "ok\n"


def test_a_finished_job_leaves_no_process_behind_not_even_its_timeout_watchdog(
    local: LocalTransport, tmp_path: Path
) -> None:
    jobs = tmp_path / "jobs"
    local.run(start_script(str(jobs), "w", "true", 300))
    assert wait_for(local, str(jobs), "w", JobState.FINISHED).exit_code == 0
    deadline = time.monotonic() + 10
    while (left := _processes_in(jobs)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert left == []


def _processes_in(directory: Path) -> list[str]:
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if Path(proc / "cwd").resolve() == directory.resolve():
                found.append((proc / "cmdline").read_text().replace("\0", " "))
        except OSError:
            continue
    return found
