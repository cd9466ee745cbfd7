"""``migrator stunnel ...``: render, validate, parse-check and live-check stunnel tunnels.

Thin: parse arguments, call one function, print, map to exit codes (0 clean, 1 problems,
2 unreadable input; see :mod:`migrator.errors`). Problems print one per line as
``FILE:LINE: service X on host H: message (hint)``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

import click

from migrator.errors import ExitCode, MigratorError, PlanError
from migrator.stunnel.load import LoadedTunnels, load_tunnels, locate
from migrator.stunnel.parse import parse_check
from migrator.stunnel.render import RenderOptions, render_host
from migrator.stunnel.validate import listening_problems, validate_tunnels

_TUNNELS = click.option(
    "--tunnels", "tunnels_file", required=True, type=click.Path(path_type=Path, dir_okay=False),
    help="Tunnel inventory, e.g. plans/tunnels.yaml.")


def _fail(error: MigratorError) -> None:
    """Print a MigratorError (and its located problems) and exit with its code."""
    if isinstance(error, PlanError):
        for problem in error.problems:
            click.echo(str(problem))
    click.echo(f"error: {error}", err=True)
    sys.exit(int(error.exit_code))


def _load_clean(path: Path) -> tuple[LoadedTunnels, list[str]]:
    try:
        loaded = load_tunnels(path)
    except MigratorError as exc:
        _fail(exc)
        raise  # unreachable: _fail exits; keeps mypy sure `loaded` is bound
    lines = [locate(p, loaded.source) for p in validate_tunnels(loaded.inventory)]
    return loaded, lines


@click.group("stunnel")
def stunnel_group() -> None:
    """stunnel TLS-PSK tunnels: render configs, check the January 2024 invariants."""


@stunnel_group.command("validate")
@_TUNNELS
def validate_command(tunnels_file: Path) -> None:
    """Check the tunnel inventory against the stunnel invariants."""
    loaded, lines = _load_clean(tunnels_file)
    for line in lines:
        click.echo(line)
    if lines:
        click.echo(f"{len(lines)} problem(s) in {tunnels_file}", err=True)
        sys.exit(int(ExitCode.FAILED))
    click.echo(f"{tunnels_file}: {len(loaded.inventory.tunnels)} tunnels, no problems", err=True)


@stunnel_group.command("render")
@_TUNNELS
@click.option("--host", required=True, help="Host target, e.g. off2/ct:101.")
@click.option("--out", "out_dir", type=click.Path(path_type=Path, file_okay=False),
              help="Write the files under DIR (DIR/etc/stunnel/off.conf ...) instead of printing them.")
@click.option("--debug", "debug_level", default=None, help="stunnel debug level, e.g. warning.")
def render_command(tunnels_file: Path, host: str, out_dir: Path | None, debug_level: str | None) -> None:
    """Render /etc/stunnel/off.conf and the systemd drop-in for one host.

    Refuses when the inventory breaks an invariant: a rendered unsafe config is how the
    January 2024 MongoDB exposure happened.
    """
    loaded, lines = _load_clean(tunnels_file)
    if lines:
        for line in lines:
            click.echo(line, err=True)
        click.echo("error: not rendering an inventory with problems", err=True)
        sys.exit(int(ExitCode.FAILED))
    try:
        files = render_host(loaded.inventory, host,
                            RenderOptions(debug=debug_level, source=str(tunnels_file)))
    except MigratorError as exc:
        _fail(exc)
        return
    for target, text in files.items():
        if out_dir is None:
            click.echo(f"# ==> {target} <==")
            click.echo(text, nl=False)
            continue
        path = out_dir / target.lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        click.echo(f"wrote {path}", err=True)


@stunnel_group.command("parse-check")
@click.argument("config", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option("--placeholder-psk", is_flag=True,
              help="Point PSKsecrets at a throwaway key (the real PSK files are not here).")
def parse_check_command(config: Path, placeholder_psk: bool) -> None:
    """Let stunnel parse CONFIG, binding only loopback; do this before every restart."""
    try:
        result = parse_check(config, placeholder_psk=placeholder_psk)
    except MigratorError as exc:
        _fail(exc)
        return
    for line in result.errors:
        click.echo(line)
    if not result.ok:
        sys.exit(int(ExitCode.FAILED))
    click.echo(f"{config}: stunnel parsed it", err=True)


@stunnel_group.command("live")
@click.option("--config", "config", required=True, type=click.Path(path_type=Path, exists=True),
              help="The host's off.conf (as rendered or as deployed).")
@click.option("--ss", "ss_file", required=True, type=click.File("r"),
              help="Output of `ss -ltnpH` on the host ('-' for stdin).")
@click.option("--host", default=None, help="Host name for the messages.")
def live_command(config: Path, ss_file: TextIO, host: str | None) -> None:
    """Compare the host's live listeners (ss -ltnpH) with its config."""
    problems = listening_problems(ss_file.read(), config.read_text(encoding="utf-8"), host=host)
    for problem in problems:
        click.echo(f"{config}: {problem.describe()}")
    if problems:
        sys.exit(int(ExitCode.FAILED))
