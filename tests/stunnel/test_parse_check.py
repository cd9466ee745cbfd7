"""parse_check runs the real stunnel on a loopback-only copy of a config."""

from __future__ import annotations

from pathlib import Path

import pytest

from migrator.stunnel.load import load_tunnels
from migrator.stunnel.parse import loopback_copy, parse_check
from migrator.stunnel.psk import write_psk_file
from migrator.stunnel.render import RenderOptions, render_host_config

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def rendered(tmp_path: Path) -> Path:
    """off2/ct:101's production config with its PSK dir in tmp_path (keys written 0600)."""
    inv = load_tunnels(REPO / "plans" / "tunnels.yaml").inventory
    psk_dir = tmp_path / "psk"
    for name, identity in (("mongodb", "ovh-proxy-mongodb"), ("redis", "ovh-proxy-redis")):
        write_psk_file(psk_dir / f"{name}-psk.txt", identity, "k" * 32)
    config = tmp_path / "off.conf"
    config.write_text(render_host_config(inv, "off2/ct:101", RenderOptions(psk_dir=str(psk_dir))))
    return config


def test_a_rendered_production_config_parses(rendered: Path) -> None:
    result = parse_check(rendered)
    assert result.ok, result.output
    assert result.errors == []


def test_the_checked_copy_binds_only_loopback_and_contacts_nothing(rendered: Path, tmp_path: Path) -> None:
    copy = loopback_copy(rendered.read_text(), tmp_path)
    options = [line.split("=", 1) for line in copy.splitlines() if "=" in line and line[0] not in ";#"]
    accepts = [v.strip() for k, v in options if k.strip() == "accept"]
    connects = [v.strip() for k, v in options if k.strip() == "connect"]
    assert accepts == ["127.0.0.1:0", "127.0.0.1:0"]  # production: 27017 and 6379 on every interface
    assert connects == ["127.0.0.1:9", "127.0.0.1:9"]
    assert f"pid = {tmp_path}/stunnel.pid" in copy.splitlines()[:2]
    # line numbers survive: original line N is line N + 2 of the copy
    original, checked = rendered.read_text().splitlines(), copy.splitlines()[2:]
    assert len(checked) == len(original)
    rewritten = ("accept", "connect", "pid", "foreground")
    kept = [i for i, line in enumerate(original) if not line.startswith(rewritten)]
    assert [checked[i] for i in kept] == [original[i] for i in kept]


def test_every_production_host_parses_with_placeholder_psk(tmp_path: Path) -> None:
    inv = load_tunnels(REPO / "plans" / "tunnels.yaml").inventory
    for host in inv.host_names():
        config = tmp_path / f"{host.replace('/', '_')}.conf"
        config.write_text(render_host_config(inv, host))
        result = parse_check(config, placeholder_psk=True)
        assert result.ok, (host, result.output)


def test_a_syntax_error_is_reported_at_its_original_line(rendered: Path) -> None:
    lines = rendered.read_text().splitlines()
    number = lines.index("ciphers = PSK") + 1
    lines[number - 1] = "cipherz = PSK"
    rendered.write_text("\n".join(lines) + "\n")
    result = parse_check(rendered)
    assert not result.ok
    assert any(f"{rendered}:{number}:" in e and "cipherz" in e for e in result.errors), result.errors


def test_a_missing_psk_file_fails_the_check(rendered: Path) -> None:
    (rendered.parent / "psk" / "redis-psk.txt").unlink()
    result = parse_check(rendered)
    assert not result.ok
    assert any("redis-psk.txt" in e for e in result.errors)


def test_a_malformed_accept_is_reported(rendered: Path) -> None:
    rendered.write_text(rendered.read_text().replace("accept = 6379", "accept = 10.1.0.101:redis"))
    result = parse_check(rendered)
    assert not result.ok
    assert any("accept = 10.1.0.101:redis" in e for e in result.errors)


@pytest.mark.parametrize("debug", ["warning", "daemon.err", "3", "info", "7"])
def test_a_valid_config_parses_whatever_its_debug_level(tmp_path: Path, debug: str) -> None:
    """issue 16: with `debug = warning` (OFF's ovh1 proxy, moji) stunnel never logs
    "Configuration successful" (a notice), and the check waited for it until it timed out.
    (A service's own ``debug`` takes a level without facility.)"""
    psk = tmp_path / "psk.txt"
    psk.write_text("off-redis:" + "0123456789abcdef" * 4 + "\n")
    config = tmp_path / "off.conf"
    level = debug.rpartition(".")[2]
    config.write_text(f"debug = {debug}\n[redis]\nclient = yes\naccept = 6379\nconnect = 10.1.0.1:6379\n"
                      f"ciphers = PSK\nPSKsecrets = {psk}\n[mongo]\ndebug = {level}\naccept = 27017\n"
                      "connect = 10.1.0.1:27017\nciphers = PSK\nPSKsecrets = " + str(psk) + "\n")  # fmt: skip
    result = parse_check(config, timeout=10)
    assert result.ok, result.output


def test_an_unknown_debug_level_is_still_refused(tmp_path: Path) -> None:
    config = tmp_path / "off.conf"
    config.write_text("debug = chatty\n[x]\nclient = yes\naccept = 7000\nconnect = 127.0.0.1:7001\n")
    result = parse_check(config, timeout=10)
    assert not result.ok
    assert any(f"{config}:1:" in e for e in result.errors), result.output
