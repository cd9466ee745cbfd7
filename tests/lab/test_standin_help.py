"""Every stand-in says it is one: ``TOOL --help`` names what it stands in for (issue 16.5)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from migrator.lab import state as host_state
from migrator.lab.standins import STANDS_IN_FOR, TOOLS
from migrator.lab.standins.main import main


def test_every_stand_in_answers_help_with_what_it_stands_in_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "host.json").write_text(json.dumps({"name": "off2", "lab_dir": str(tmp_path)}))
    host_state.save(tmp_path, host_state.initial("off2", "pve"))
    monkeypatch.setenv("MIGRATOR_LAB_STATE", str(tmp_path))
    assert set(STANDS_IN_FOR) == set(TOOLS)
    for tool in TOOLS:
        assert main([f"/usr/local/sbin/{tool}", "--help"]) == 0, tool
        shown = capsys.readouterr().out
        assert shown.startswith(f"{tool}: migrator lab stand-in for "), tool
        assert "Not the real program" in shown, tool
