"""Snapshots of the main states (pytest-textual-snapshot): fixed data, fixed clock, fixed size.
Update with ``pytest tests/tui/test_snapshots.py --snapshot-update`` and review the SVGs."""

from __future__ import annotations

from typing import Any

import pytest

from tests.tui.scenes import SCENES


@pytest.mark.parametrize("name", sorted(SCENES))
def test_scene(name: str, snap_compare: Any) -> None:
    app, before = SCENES[name]()
    assert snap_compare(app, terminal_size=(100, 30), run_before=before)


def test_main_screen_fits_80x24(snap_compare: Any) -> None:
    app, before = SCENES["main"]()
    assert snap_compare(app, terminal_size=(80, 24), run_before=before)
