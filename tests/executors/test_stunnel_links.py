"""The stunnel config step keeps the team's links into its git checkout (2024-01-04 report:
``ln -s /opt/openfoodfacts-infrastructure/confs/.../off.conf /etc/stunnel/``): the shell
snippets run here with a real ``sh`` on a temporary tree laid out like a host."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from migrator.executors import stunnel_remote as remote


def _sh(script: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(["sh", "-c", script], input=stdin, capture_output=True, text=True, check=False)


@pytest.fixture
def host(tmp_path: Path) -> dict[str, Path]:
    git = tmp_path / "opt/openfoodfacts-infrastructure/confs/off2-reverse-proxy"
    (git / "stunnel").mkdir(parents=True)
    (git / "systemd/stunnel@.service.d").mkdir(parents=True)
    tracked = git / "stunnel/off.conf"
    tracked.write_text("[MongoDB]\naccept = 27017\n", encoding="utf-8")
    dropin = git / "systemd/stunnel@.service.d/override.conf"
    dropin.write_text("[Service]\nGroup=stunnel4\n", encoding="utf-8")
    etc = tmp_path / "etc"
    (etc / "stunnel").mkdir(parents=True)
    (etc / "systemd/system").mkdir(parents=True)
    link = etc / "stunnel/off.conf"
    link.symlink_to(tracked)
    dropin_dir = etc / "systemd/system/stunnel@.service.d"
    dropin_dir.symlink_to(git / "systemd/stunnel@.service.d")
    return {"tracked": tracked, "link": link, "dropin": dropin_dir / "override.conf",
            "tracked_dropin": git / "systemd/stunnel@.service.d/override.conf"}


def test_same_content_keeps_the_link(host: dict[str, Path]) -> None:
    new = host["link"].with_name("off.conf.new")
    new.write_text(host["tracked"].read_text(encoding="utf-8"), encoding="utf-8")
    result = _sh(remote.move_into_place(str(new), str(host["link"])))
    assert result.returncode == 0, result.stderr
    assert host["link"].is_symlink() and not new.exists()


def test_a_different_config_stops_and_leaves_git_alone(host: dict[str, Path]) -> None:
    new = host["link"].with_name("off.conf.new")
    new.write_text("[MongoDB]\naccept = 10.1.0.113:27017\n", encoding="utf-8")
    result = _sh(remote.move_into_place(str(new), str(host["link"])))
    assert result.returncode == remote.LINKED_EXIT
    assert "git checkout" in result.stderr and str(host["tracked"]) in result.stderr
    assert host["link"].is_symlink()
    assert host["tracked"].read_text(encoding="utf-8") == "[MongoDB]\naccept = 27017\n"
    assert new.exists(), "kept for inspection"


def test_a_plain_file_is_replaced_with_a_previous_copy(tmp_path: Path) -> None:
    target, new = tmp_path / "off.conf", tmp_path / "off.conf.new"
    target.write_text("old\n", encoding="utf-8")
    new.write_text("new\n", encoding="utf-8")
    assert _sh(remote.move_into_place(str(new), str(target))).returncode == 0
    assert target.read_text(encoding="utf-8") == "new\n"
    assert (tmp_path / "off.conf.previous").read_text(encoding="utf-8") == "old\n"


def test_the_drop_in_directory_linked_into_git_is_not_written(host: dict[str, Path]) -> None:
    same = _sh(remote.write_unless_linked(str(host["dropin"])), "[Service]\nGroup=stunnel4\n")
    assert same.returncode == 0, same.stderr
    other = _sh(remote.write_unless_linked(str(host["dropin"])), "[Service]\nGroup=root\n")
    assert other.returncode == remote.LINKED_EXIT
    assert host["tracked_dropin"].read_text(encoding="utf-8") == "[Service]\nGroup=stunnel4\n"
    assert sorted(p.name for p in host["tracked_dropin"].parent.iterdir()) == ["override.conf"]


def test_an_unlinked_drop_in_is_written(tmp_path: Path) -> None:
    path = tmp_path / "etc/systemd/system/stunnel@.service.d/override.conf"
    assert _sh(remote.write_unless_linked(str(path)), "[Service]\n").returncode == 0
    assert path.read_text(encoding="utf-8") == "[Service]\n"
