"""expect_new_host_key: after a reinstall the host presents a new key; the operator confirms
its fingerprint against the console, then it is pinned and the step runs. A refusal runs nothing.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from migrator.errors import HostKeyError
from tests.fixtures.sshd import SshdFactory, SshdServer
from tests.registry.conftest import ExecutorsFactory, Lines, ScriptedPrompter, context, inventory_for, step


def reinstall(server: SshdServer, factory: SshdFactory) -> SshdServer:
    """Stop the server, give it a brand-new host key, start it again on the same port."""
    server.stop()
    for suffix in ("", ".pub"):
        Path(f"{server.host_key_path}{suffix}").unlink()
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(server.host_key_path)],
        check=True,
        stdin=subprocess.DEVNULL,
    )
    return factory.track(server.restart())


def fingerprint_of(server: SshdServer) -> str:
    out = subprocess.run(
        ["ssh-keygen", "-lf", f"{server.host_key_path}.pub"], check=True, capture_output=True, text=True
    ).stdout
    return out.split()[1]


def public_key_of(server: SshdServer) -> str:
    return Path(f"{server.host_key_path}.pub").read_text().split()[1]


@pytest.fixture
def server(sshd_factory: SshdFactory) -> SshdServer:
    return sshd_factory.start()


@pytest.fixture
def known_hosts(server: SshdServer, tmp_path: Path) -> Path:
    path = tmp_path / "known_hosts"
    shutil.copyfile(server.known_hosts_path, path)
    return path


def test_the_confirmed_new_key_is_pinned_and_the_step_runs(
    make_executors: ExecutorsFactory,
    server: SshdServer,
    sshd_factory: SshdFactory,
    known_hosts: Path,
    tmp_path: Path,
) -> None:
    prompter = ScriptedPrompter(confirm=[True])
    executors = make_executors(inventory_for(server, known_hosts), prompter)
    assert executors.execute(step(kind="ssh", host="lab1", command="true"), context()).ok  # connected, cached

    reinstalled = reinstall(server, sshd_factory)
    marker = tmp_path / "ran"
    s = step(kind="ssh", host="lab1", command=f"echo ran > {marker}", expect_new_host_key=True)
    outcome = executors.execute(s, context())

    assert outcome.ok, outcome.summary
    assert marker.read_text().strip() == "ran"
    [question] = prompter.questions
    assert fingerprint_of(reinstalled) in question and "does it match the console?" in question
    pinned = known_hosts.read_text()
    assert public_key_of(reinstalled) in pinned
    assert pinned.count(f"[127.0.0.1]:{server.port}") == 1  # the old key was replaced


def test_a_refused_key_runs_nothing_and_pins_nothing(
    make_executors: ExecutorsFactory,
    server: SshdServer,
    sshd_factory: SshdFactory,
    known_hosts: Path,
    tmp_path: Path,
) -> None:
    prompter = ScriptedPrompter(confirm=[False])
    executors = make_executors(inventory_for(server, known_hosts), prompter)
    before = known_hosts.read_text()
    reinstall(server, sshd_factory)
    marker = tmp_path / "ran"
    s = step(kind="ssh", host="lab1", command=f"echo ran > {marker}", expect_new_host_key=True)

    with pytest.raises(HostKeyError, match="did not confirm"):
        executors.execute(s, context())
    assert not marker.exists()
    assert known_hosts.read_text() == before


def test_without_expect_new_host_key_a_changed_key_is_refused(
    make_executors: ExecutorsFactory, server: SshdServer, sshd_factory: SshdFactory, known_hosts: Path
) -> None:
    executors = make_executors(inventory_for(server, known_hosts), ScriptedPrompter())
    reinstall(server, sshd_factory)
    with pytest.raises(HostKeyError, match="CHANGED"):
        executors.execute(step(kind="ssh", host="lab1", command="true"), context())


def test_a_wait_step_waits_for_the_host_then_asks_for_its_new_key(
    make_executors: ExecutorsFactory,
    server: SshdServer,
    sshd_factory: SshdFactory,
    known_hosts: Path,
) -> None:
    prompter = ScriptedPrompter(confirm=[True])
    executors = make_executors(inventory_for(server, known_hosts), prompter)
    server.stop()  # the host is reinstalling
    back: list[SshdServer] = []

    class BootAfterFirstProbe(Lines):
        def __call__(self, stream: str, line: str) -> None:
            super().__call__(stream, line)
            if not back:
                back.append(reinstall(server, sshd_factory))

    lines = BootAfterFirstProbe()
    wait = step(
        kind="wait",
        host="lab1",
        until={"kind": "command", "command": "true"},
        interval="1s",
        timeout="1m",
        expect_new_host_key=True,
    )
    outcome = executors.execute(wait, context(lines))
    assert outcome.ok, outcome.summary
    assert lines.seen[0][1].startswith("probe 1: not yet (unreachable:")
    assert fingerprint_of(back[0]) in prompter.questions[0]
    assert public_key_of(back[0]) in known_hosts.read_text()


def test_a_key_already_pinned_is_not_asked_again(
    make_executors: ExecutorsFactory, server: SshdServer, known_hosts: Path
) -> None:
    # A resumed step whose key was pinned by the interrupted attempt: no second question.
    executors = make_executors(inventory_for(server, known_hosts), ScriptedPrompter())
    s = step(kind="ssh", host="lab1", command="echo ok", expect_new_host_key=True)
    outcome = executors.execute(s, context())
    assert outcome.ok and outcome.stdout.strip() == "ok"


def test_the_acceptance_is_handed_to_the_engine_as_a_decision(
    make_executors: ExecutorsFactory, server: SshdServer, sshd_factory: SshdFactory, known_hosts: Path
) -> None:
    """Issue 15 item 5: which key, of which host, pinned where - for the journal and the change
    record (the engine adds who and when)."""
    prompter = ScriptedPrompter(confirm=[True])
    executors = make_executors(inventory_for(server, known_hosts), prompter)
    reinstalled = reinstall(server, sshd_factory)
    decisions: list[tuple[str, str, str]] = []
    ctx = context(decide=lambda kind, choice, reason: decisions.append((kind, choice, reason)))
    assert executors.execute(step(kind="ssh", host="lab1", command="true", expect_new_host_key=True), ctx).ok
    [(kind, choice, reason)] = decisions
    assert (kind, choice) == ("host_key", "accept")
    assert fingerprint_of(reinstalled) in reason and f"127.0.0.1:{server.port}" in reason
    assert str(known_hosts) in reason

    # Already pinned: nobody was asked, so nothing was decided.
    decisions.clear()
    again = context(decide=lambda kind, choice, reason: decisions.append((kind, choice, reason)))
    reinstalled_step = step(kind="ssh", host="lab1", command="true", expect_new_host_key=True)
    assert executors.execute(reinstalled_step, again).ok
    assert decisions == []
