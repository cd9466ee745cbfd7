"""`migrator plan` in the terminal: content, markers, totals, widths, the one-step view."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from rich.cells import cell_len
from rich.console import Console

from migrator.errors import UsageError
from migrator.estimates import learned
from migrator.plan.load import LoadedPlan, load_plan
from migrator.render import render_terminal
from migrator.render.terminal import cells
from tests.render.plans import ssh, write_plan

OFF1 = Path(__file__).resolve().parent / "data" / "off1-skeleton.yaml"  # frozen: the figures depend on it


@pytest.fixture(scope="module")
def off1() -> LoadedPlan:
    return load_plan(OFF1)


def render(loaded: LoadedPlan, width: int = 100, **kwargs: object) -> str:
    out = io.StringIO()
    render_terminal(loaded, Console(file=out, width=width, color_system=None), **kwargs)  # type: ignore[arg-type]
    return out.getvalue()


def render_ascii(loaded: LoadedPlan, width: int = 80) -> str:
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="ascii")
    render_terminal(loaded, Console(file=stream, width=width, color_system=None))
    stream.flush()
    return raw.getvalue().decode("ascii")


def row_of(text: str, step_id: str) -> str:
    """The table row of ``step_id``: a step number, then the id."""
    rows = [line for line in text.splitlines() if re.match(rf"^\s*\d+\s+{re.escape(step_id)}\s", line)]
    assert len(rows) == 1, rows
    return rows[0]


def test_header_names_plan_inventory_and_window(off1: LoadedPlan) -> None:
    text = render(off1)
    assert "off1 to Proxmox VE" in text
    assert "inventory production (production)" in text
    assert "2026-12-18 09:00 +0100, 10h (ends 2026-12-18 19:00)" in text


def test_every_step_has_a_row_with_number_host_kind_and_estimate(off1: LoadedPlan) -> None:
    text = render(off1)
    for number, step in enumerate(off1.plan.steps(), start=1):
        row = row_of(text, step.id)
        assert row.lstrip().startswith(f"{number} ")
        assert f" {step.host} " in row
        assert f" {step.kind.value} " in row
    assert row_of(text, "hardware").rstrip().endswith("3h")
    assert row_of(text, "install-pve").rstrip().endswith("45m")


def test_phases_show_where_they_sit_and_their_work(off1: LoadedPlan) -> None:
    text = render(off1)
    assert "Before the window [before]  prepare, 3 steps, 3m of work" in text
    assert "In the window (off1 down) [window]  window, 7 steps, 4h16m of work" in text
    assert "After the window [after]  cleanup, 1 step, 2m of work" in text


def test_actions_are_one_line_per_kind(off1: LoadedPlan) -> None:
    text = render(off1)
    assert "zpool status -x" in row_of(text, "pools-healthy-before")
    assert "3 items: Photograph the cables" in row_of(text, "hardware")
    assert "until TCP 213.36.253.206:22" in row_of(text, "first-boot")
    assert "curl -skI --max-time 5 https://213" in row_of(text, "idrac-reachable")


def test_proxmox_call_is_shown_as_method_and_path(tmp_path: Path) -> None:
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(
        "name: lab\nenvironment: lab\nhosts:\n  off2: {address: 127.0.0.1}\n"
        "proxmox:\n  off2: {url: 'https://127.0.0.1:8006', node: off2, token_id: 'root@pam!m',"
        " token_secret: 'env:PVE_TOKEN'}\n"
    )
    plan = tmp_path / "p.yaml"
    plan.write_text(
        "name: p\ntitle: P\ninventory: inventory.yaml\nphases:\n- id: ph\n  title: Ph\n  where: before\n"
        "  steps:\n  - id: ct-create\n    title: Create CT 101\n    kind: proxmox\n    host: off2\n"
        "    call: {method: POST, path: /nodes/off2/lxc, params: {vmid: 101}}\n"
    )
    text = render(load_plan(plan))
    assert "POST /nodes/off2/lxc" in row_of(text, "ct-create")


def test_markers_and_legend(off1: LoadedPlan) -> None:
    text = render(off1)
    assert "✋⛔⏵" in row_of(text, "hardware")
    assert "⚠" in row_of(text, "zfs-hdd-create")
    assert "⛔⏵" in row_of(text, "cluster-join")
    assert not any(mark in row_of(text, "rpool-unique") for mark in "⚠✋⛔⏵")
    assert "legend: ⚠ destructive  ✋ manual  ⛔ irreversible  ⏵ point of no return" in text


def test_check_counts(off1: LoadedPlan) -> None:
    text = render(off1)
    assert " 1/1 " in row_of(text, "zfs-hdd-create")
    assert " 0/2 " in row_of(text, "rpool-unique")


def test_totals_show_downtime_window_and_slack(off1: LoadedPlan) -> None:
    text = render(off1)
    assert "prepare 3m, window 4h16m, cleanup 2m; total 4h21m" in text
    assert "4h15m planned" in text
    assert "10h, slack 5h45m" in text


def test_short_critical_path_is_listed(tmp_path: Path) -> None:
    loaded = write_plan(tmp_path, window=[ssh("stop", "10m"), ssh("copy", "30m"), ssh("start", "10m")])
    assert "50m planned (critical path through the window: stop > copy > start)" in render(loaded)


def test_window_too_short_and_unestimated_steps_are_warned(tmp_path: Path) -> None:
    loaded = write_plan(tmp_path, window=[ssh("a", "1h"), ssh("b", "1h30m"), ssh("mystery")], length="2h")
    text = render(loaded)
    assert "over by 30m: the plan does not fit the window" in text
    assert "1 in-window step(s) without an estimate, counted as 0: mystery" in text
    assert "?" in row_of(text, "mystery")


def test_measured_estimates_are_marked(off1: LoadedPlan) -> None:
    estimates = learned(off1.plan, {"hardware": [4 * 3600, 4 * 3600, 5 * 3600]})
    text = render(off1, estimates=estimates)
    assert row_of(text, "hardware").rstrip().endswith("4h*")
    assert row_of(text, "install-pve").rstrip().endswith("45m")
    assert "est*: measured in earlier runs" in text
    assert "5h15m planned" in text


@pytest.mark.parametrize("width", [80, 100])
def test_no_line_is_wider_than_the_console(off1: LoadedPlan, width: int) -> None:
    estimates = learned(off1.plan, {"hardware": [4 * 3600], "cluster-join": [900, 1000, 1100]})
    for text in (render(off1, width), render(off1, width, estimates=estimates),
                 render(off1, width, step_id="zfs-hdd-create")):
        widest = max(cell_len(line) for line in text.splitlines())
        assert widest <= width


def test_80_columns_keeps_every_id_and_estimate_whole(off1: LoadedPlan) -> None:
    text = render(off1, 80)
    for step in off1.plan.steps():
        assert f" {step.id} " in text
    assert row_of(text, "hardware").rstrip().endswith("3h")


def test_console_without_unicode_gets_plain_letters(off1: LoadedPlan) -> None:
    text = render_ascii(off1)
    assert text.isascii()
    assert " MIP " in row_of(text, "hardware")
    assert " D " in row_of(text, "zfs-hdd-create")
    assert "legend: D destructive  M manual  I irreversible  P point of no return" in text
    assert "..." in row_of(text, "zfs-hdd-create")  # long command cut with three dots
    assert max(len(line) for line in text.splitlines()) <= 80


def _through_rich(loaded: LoadedPlan, width: int, encoding: str) -> str:
    """The overview printed the long way: a recording console never takes the plain-text path."""
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding=encoding)
    render_terminal(loaded, Console(file=stream, width=width, color_system=None, record=True))
    stream.flush()
    return raw.getvalue().decode(encoding)


def _plain(loaded: LoadedPlan, width: int, encoding: str) -> str:
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding=encoding)
    render_terminal(loaded, Console(file=stream, width=width, color_system=None))
    stream.flush()
    return raw.getvalue().decode(encoding)


@pytest.mark.parametrize("encoding", ["utf-8", "ascii"])
@pytest.mark.parametrize("width", [40, 60, 80, 100, 160])
def test_colourless_table_is_written_as_rich_would_print_it(
    tmp_path: Path, off1: LoadedPlan, width: int, encoding: str
) -> None:
    """Without colours the table is written as plain text, not through rich: the same bytes,
    with wide characters, ids that fold at narrow widths, cut actions, a tab and a control code."""
    tricky = write_plan(
        tmp_path,
        window=[
            ssh("wide", "1m", command="echo " + "\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8 " * 6),
            ssh("a-very-long-step-identifier-that-folds-on-narrow-consoles", "2m"),
            ssh("bell", "3m", command="printf '\\a' \a done"),
            ssh("tabbed", command="printf 'a\tb'"),
            {"id": "call", "title": "Confirm", "kind": "manual", "instructions": "Look\nthen act",
             "estimate": "5m", "checklist": ["one"]},
        ],
        before=[ssh("first", "1m", destructive=True, irreversible="a test of the marker column")],
    )
    for loaded in (off1, tricky):
        if encoding == "ascii" and loaded is tricky:
            continue  # the wide characters cannot be written to an ASCII stream at all
        assert _plain(loaded, width, encoding) == _through_rich(loaded, width, encoding)


def test_plan_text_is_never_read_as_markup(tmp_path: Path) -> None:
    loaded = write_plan(tmp_path, window=[ssh("brackets", "1m", command="echo '[bold]x[/bold]' [red]")])
    assert "echo '[bold]x[/bold]' [red]" in render(loaded)


def test_one_step_in_full(off1: LoadedPlan) -> None:
    text = render(off1, step_id="zfs-hdd-create")
    assert "8. zfs-hdd-create  Create the raidz1 pool zfs-hdd" in text
    assert "off1-skeleton.yaml:" in text  # the step shows where it is written
    assert "destructive: asks for confirmation" in text
    assert "$ zpool create -o ashift=12" in text
    assert "zfs-hdd exists" in text
    assert "Done when (all hold: the step is not run) (1)" in text
    assert "Pre-checks (0)" in text and "Post-checks (1)" in text
    assert "$ zpool destroy zfs-hdd" in text
    assert "takes about 1m" in text
    assert "depends on  rpool-unique" in text
    assert "needed by   cluster-join" in text


def test_one_step_shows_outputs_and_dependencies(off1: LoadedPlan) -> None:
    text = render(off1, step_id="cluster-fingerprint")
    assert "outputs.cluster-fingerprint.fingerprint" in text
    assert "Fingerprint=([0-9A-F:]+)" in text
    join = render(off1, step_id="cluster-join")
    assert "zfs-hdd-create, cluster-fingerprint" in join
    assert "none: irreversible (leaving a cluster means reinstalling the node)" in join


def test_one_manual_step_lists_its_checklist(off1: LoadedPlan) -> None:
    text = render(off1, step_id="hardware")
    assert "[ ] BIOS > Integrated devices > Slot bifurcation = Auto discovery" in text
    assert "Photograph the cables" in text
    assert "point of no return" in text


def test_secrets_are_shown_by_name_and_reference(tmp_path: Path) -> None:
    loaded = write_plan(tmp_path, window=[ssh(
        "load-dump", "5m", command="mongorestore --archive", secrets={"MONGO_PASS": "env:MONGO_PASS_PROD"},
        stdin_secret="MONGO_PASS",
    )])
    text = render(loaded, step_id="load-dump")
    assert "MONGO_PASS <- env:MONGO_PASS_PROD" in text
    assert "(fed on stdin)" in text


def test_unknown_step_is_a_usage_error_with_a_suggestion(off1: LoadedPlan) -> None:
    with pytest.raises(UsageError) as caught:
        render(off1, step_id="zfs-hdd-creat")
    assert "zfs-hdd-create" in str(caught.value.hint)


@pytest.mark.parametrize(
    "text",
    ["", "zfs send a | ssh b", "zfs send a | ssh b\u2026", "\u2026", "a\u2026\u2026", "\u65e5\u672c\u2026",
     "tab\there\u2026", "bell\a\u2026", "caf\u00e9\u2026", "\U0001f468\u200d\U0001f469\u2026",
     "\u2764\ufe0f"],
)
def test_cells_measures_like_rich(text: str) -> None:
    assert cells(text) == cell_len(text)
