"""Snapshots of the main states (pytest-textual-snapshot) on the real off1 plan, at 160x48
and 80x24: the same scenes as the README screenshots (tests/tui/scenes.py). Fixed data,
fixed clock. Update with ``pytest tests/tui/test_snapshots.py --snapshot-update``, review
the SVGs, and rewrite the screenshots with ``python -m tests.tui.scenes docs/screenshots``."""

from __future__ import annotations

from typing import Any

import pytest

from tests.tui.scenes import SCENES, SIZES


@pytest.mark.parametrize("size", sorted(SIZES.values()), ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("name", sorted(SCENES))
def test_scene(name: str, size: tuple[int, int], snap_compare: Any) -> None:
    app, before = SCENES[name]()
    assert snap_compare(app, terminal_size=size, run_before=before)
