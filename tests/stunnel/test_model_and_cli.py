"""The inventory model (address syntax, strictness) and the `stunnel` CLI group end to end."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from pydantic import ValidationError

from migrator.stunnel.cli import stunnel_group
from migrator.stunnel.model import HostPort, TunnelInventory, split_host_port
from tests.stunnel.conftest import base_data

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("text", "expected"), [
    ("10.1.0.113:27017", HostPort("10.1.0.113", 27017)),
    (":::16000", HostPort("::", 16000)),
    ("[::1]:16000", HostPort("::1", 16000)),
    ("2a06:c484:5::102:16000", HostPort("2a06:c484:5::102", 16000)),
    ("27017", HostPort(None, 27017)),
    ("proxy2.openfoodfacts.org:6379", HostPort("proxy2.openfoodfacts.org", 6379)),
])
def test_split_host_port(text: str, expected: HostPort) -> None:
    assert split_host_port(text) == expected


@pytest.mark.parametrize("text", ["", "host:", ":27017", "10.1.0.1:0", "10.1.0.1:70000", "10.1.0.1:mongo"])
def test_split_host_port_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="port"):
        split_host_port(text)


def test_wildcards() -> None:
    assert all(split_host_port(t).is_wildcard for t in ("27017", "0.0.0.0:1", ":::1", "*:1"))
    assert not split_host_port("10.1.0.113:1").is_wildcard


def test_model_forbids_unknown_fields_and_keeps_bare_port_text() -> None:
    data = base_data()
    inv = TunnelInventory.model_validate(data)
    assert inv.tunnels[0].server.accept == "27017"  # YAML int kept as stunnel text
    data["tunnels"][0]["psk"]["key"] = "oops"
    with pytest.raises(ValidationError, match="key"):
        TunnelInventory.model_validate(data)


def test_model_fields_are_described() -> None:
    schema = TunnelInventory.model_json_schema()
    psk = schema["$defs"]["Psk"]["properties"]
    assert all("description" in field for field in psk.values())


def _write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "tunnels.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_cli_validate_clean_real_file() -> None:
    result = CliRunner().invoke(stunnel_group, ["validate", "--tunnels", str(REPO / "plans/tunnels.yaml")])
    assert result.exit_code == 0, result.output
    assert result.stdout == ""


def test_cli_validate_problems_one_per_line_with_file_and_line(tmp_path: Path) -> None:
    data = base_data()
    data["tunnels"][0]["clients"][0]["accept"] = 27017
    path = _write(tmp_path, data)
    # the server's accept comes first; the client's (the bad one) is the last such line
    lines = path.read_text().splitlines()
    accept_line = [i for i, line in enumerate(lines, 1) if "accept: 27017" in line][-1]
    result = CliRunner().invoke(stunnel_group, ["validate", "--tunnels", str(path)])
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        f"{path}:{accept_line}: service MongoDB on host ovh1/ct:113: client accept is a bare port (27017): "
        "it binds every interface (MongoDB was exposed and wiped this way in January 2024) "
        "(write an explicit private address, e.g. 10.1.0.113:27017, or 127.0.0.1:PORT)"]


def test_cli_validate_unloadable_file_exits_2_with_located_errors(tmp_path: Path) -> None:
    data = base_data()
    data["tunnels"][0]["server"]["accept"] = "10.1.0.101:mongo"
    path = _write(tmp_path, data)
    result = CliRunner().invoke(stunnel_group, ["validate", "--tunnels", str(path)])
    assert result.exit_code == 2
    assert result.stdout.startswith(f"{path}:")
    # In the plan's form: file:line:column, the field by name, no pydantic path
    assert ":20:13: error: accept: '10.1.0.101:mongo' has no valid port (1-65535)" in result.stdout
    missing = CliRunner().invoke(stunnel_group, ["validate", "--tunnels", str(tmp_path / "nope.yaml")])
    assert missing.exit_code == 2
    assert "not found" in missing.stderr


def test_cli_render_prints_and_writes(tmp_path: Path) -> None:
    args = ["render", "--tunnels", str(REPO / "plans/tunnels.yaml"), "--host", "ovh1/ct:113"]
    printed = CliRunner().invoke(stunnel_group, args)
    assert printed.exit_code == 0, printed.output
    assert "# ==> /etc/stunnel/off.conf <==" in printed.stdout
    assert "accept = 10.1.0.113:27017" in printed.stdout
    written = CliRunner().invoke(stunnel_group, [*args, "--out", str(tmp_path)])
    assert written.exit_code == 0
    conf = (tmp_path / "etc/stunnel/off.conf").read_text()
    assert conf in printed.stdout
    assert (tmp_path / "etc/systemd/system/stunnel@.service.d/override.conf").is_file()


def test_cli_render_refuses_an_unsafe_inventory(tmp_path: Path) -> None:
    data = base_data()
    data["tunnels"][0]["clients"][0]["accept"] = "0.0.0.0:27017"
    path = _write(tmp_path, data)
    result = CliRunner().invoke(stunnel_group, ["render", "--tunnels", str(path), "--host", "ovh1/ct:113",
                                                "--out", str(tmp_path / "out")])
    assert result.exit_code == 1
    assert "binds every interface" in result.stderr
    assert not (tmp_path / "out").exists()


def test_cli_render_unknown_host_is_a_usage_error() -> None:
    result = CliRunner().invoke(stunnel_group, ["render", "--tunnels", str(REPO / "plans/tunnels.yaml"),
                                                "--host", "off9"])
    assert result.exit_code == 2
    assert "no tunnel runs on host 'off9'" in result.stderr


def test_cli_parse_check_and_live(tmp_path: Path) -> None:
    conf = tmp_path / "off.conf"
    conf.write_text("[x]\nclient = yes\naccept = 127.0.0.1:7000\nconnect = 127.0.0.1:7001\n"
                    "ciphers = PSK\nPSKsecrets = /nonexistent/psk.txt\n")
    ok = CliRunner().invoke(stunnel_group, ["parse-check", "--placeholder-psk", str(conf)])
    assert ok.exit_code == 0, ok.output
    bad = CliRunner().invoke(stunnel_group, ["parse-check", str(conf)])
    assert bad.exit_code == 1
    assert "psk.txt" in bad.stdout
    ss = tmp_path / "ss.txt"
    ss.write_text("LISTEN 0 4096 0.0.0.0:7000 0.0.0.0:*\n")
    live = CliRunner().invoke(stunnel_group, ["live", "--config", str(conf), "--ss", str(ss)])
    assert live.exit_code == 1
    assert "binds every interface" in live.stdout
