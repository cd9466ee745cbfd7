"""``migrator lab``: up, status, down, reset, fault, faults, stage."""

from __future__ import annotations

from pathlib import Path

import click

from migrator.lab.control import Lab
from migrator.lab.faults import FAULTS, active_faults, clear_fault, set_fault
from migrator.lab.layout import HOSTS

DIR_OPTION = click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(".lab"),
    show_default=True,
    help="Lab directory (keys, state, inventory.yaml).",
)


@click.group("lab")
def lab_group() -> None:
    """The rehearsal lab: every host as a real sshd on 127.0.1.x, fakepve, stand-in tools (needs root)."""


@lab_group.command("up")
@DIR_OPTION
def up_command(directory: Path) -> None:
    """Start the lab (what already runs is left alone)."""
    lab = Lab(directory)
    for line in lab.up():
        click.echo(line)
    click.echo(f"inventory: {lab.paths.inventory}")


@lab_group.command("status")
@DIR_OPTION
def status_command(directory: Path) -> None:
    """Each lab process and whether it runs; the faults set."""
    lab = Lab(directory)
    processes = lab.status()
    if not processes:
        click.echo(f"no lab in {lab.paths.dir} (run `migrator lab up`)")
    for info in processes:
        click.echo(f"{info.key:14} pid {info.pid:<8} {'running' if info.running else 'DEAD'}")
    for lab_host in HOSTS:
        faults = active_faults(lab, lab_host.name)
        if faults:
            click.echo(f"faults on {lab_host.name}: {', '.join(faults)}")


@lab_group.command("down")
@DIR_OPTION
def down_command(directory: Path) -> None:
    """Stop every process the lab started (state and keys are kept)."""
    stopped = Lab(directory).down()
    click.echo(f"stopped {len(stopped)} process(es)" + "".join(f"\n  {s}" for s in stopped))


@lab_group.command("reset")
@DIR_OPTION
def reset_command(directory: Path) -> None:
    """Start over: stop, drop every host's files and state, come up fresh (off1 before its move)."""
    lab = Lab(directory)
    for line in lab.reset():
        click.echo(line)
    click.echo(f"inventory: {lab.paths.inventory}")


@lab_group.command("fault")
@DIR_OPTION
@click.option("--clear", is_flag=True, help="Clear NAME (every fault of HOST if no NAME).")
@click.argument("host")
@click.argument("name", required=False)
def fault_command(directory: Path, clear: bool, host: str, name: str | None) -> None:
    """Set fault NAME on HOST (see `migrator lab faults`), or clear it."""
    lab = Lab(directory)
    if clear:
        cleared = clear_fault(lab, host, name)
        click.echo(f"cleared on {host}: {', '.join(cleared) or 'nothing'}")
        return
    if name is None:
        raise click.UsageError("give a fault NAME (or --clear)")
    click.echo(set_fault(lab, host, name))


@lab_group.command("faults")
def faults_command() -> None:
    """The fault knobs."""
    width = max(map(len, FAULTS))
    for name, text in FAULTS.items():
        click.echo(f"{name:{width}} {text}")


@lab_group.command("stage")
@DIR_OPTION
@click.argument("scenario", type=click.Choice(["off2-before-move"]))
def stage_command(directory: Path, scenario: str) -> None:
    """Put the running lab in a plan's starting point (off2-before-move: plans/off2.yaml)."""
    from migrator.lab.standins.off2_history import stage_before_move

    for line in stage_before_move(Lab(directory)):
        click.echo(line)
