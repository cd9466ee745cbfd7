"""`migrator schema` accepts the project's own files as common YAML loaders hand them over.

Editors and CI validate YAML against a JSON Schema after loading it with PyYAML (YAML 1.1) or
ruamel (YAML 1.2) and turning it into JSON (timestamps become ISO text). The schema printed by
the real command must accept the real plans, inventory and tunnel files under both, and every
default in it must satisfy its own property's schema.
"""

from __future__ import annotations

import functools
import io
import json
import re
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parent.parent.parent
PLANS = ROOT / "plans"
KINDS = {
    "plan": ["off1.yaml", "off2.yaml", "stunnel.yaml"],
    "inventory": ["inventory.yaml"],
    "tunnels": ["tunnels.yaml", "tunnels.lab.yaml"],
}
# The check key was `on:` until issue 18; plans still spelt so are read as if renamed (the
# loader's own advice), so this test holds before and after the plans are rewritten.
OLD_ON = re.compile(r"([{,] *|^ *(?:- )?)on: ", re.M)


@functools.cache
def _schema(what: str) -> dict[str, Any]:
    flag = {"plan": [], "inventory": ["--inventory"], "tunnels": ["--tunnels"]}[what]
    done = subprocess.run(
        [sys.executable, "-m", "migrator", "schema", *flag],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    schema: dict[str, Any] = json.loads(done.stdout)
    return schema


def _as_json(value: Any) -> Any:
    """What a YAML-to-JSON step (an editor, check-jsonschema) gives a validator."""
    if isinstance(value, dict):
        return {str(k).lower() if isinstance(k, bool) else str(k): _as_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_json(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _pyyaml(text: str) -> Any:
    return yaml.safe_load(text)


def _ruamel(text: str) -> Any:
    return YAML(typ="rt").load(io.StringIO(text))


def _text(name: str) -> str:
    return OLD_ON.sub(r"\1probe_from: ", (PLANS / name).read_text(encoding="utf-8"))


@pytest.mark.parametrize("loader", [_pyyaml, _ruamel], ids=["pyyaml", "ruamel"])
@pytest.mark.parametrize("what", sorted(KINDS))
def test_real_files_satisfy_the_published_schema(what: str, loader: Any) -> None:
    validator = jsonschema.Draft202012Validator(_schema(what))
    for name in KINDS[what]:
        data = _as_json(loader(_text(name)))
        found = [
            f"{name}: {'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(data)
        ]
        assert found == []


def test_the_old_on_key_is_what_pyyaml_breaks() -> None:
    """Why the key was renamed: under YAML 1.1 `on:` is the boolean true, which no schema names."""
    text = (PLANS / "off1.yaml").read_text(encoding="utf-8").replace("probe_from: ", "on: ")
    validator = jsonschema.Draft202012Validator(_schema("plan"))
    messages = [m for e in validator.iter_errors(_as_json(_pyyaml(text))) for m in _messages(e)]
    assert any("'true' was unexpected" in m for m in messages)


def _messages(error: jsonschema.ValidationError) -> list[str]:
    return [error.message] + [m for sub in error.context or [] for m in _messages(sub)]


def _with_defaults(node: Any) -> list[tuple[dict[str, Any], Any]]:
    found = []
    if isinstance(node, dict):
        if "default" in node and node["default"] is not None:
            found.append((node, node["default"]))
        for value in node.values():
            found += _with_defaults(value)
    elif isinstance(node, list):
        for value in node:
            found += _with_defaults(value)
    return found


@pytest.mark.parametrize("what", sorted(KINDS))
def test_defaults_satisfy_their_own_schema(what: str) -> None:
    schema = _schema(what)
    checked = 0
    for prop, default in _with_defaults(schema):
        sub = {"$defs": schema.get("$defs", {}), **{k: v for k, v in prop.items() if k != "default"}}
        errors = [e.message for e in jsonschema.Draft202012Validator(sub).iter_errors(default)]
        assert errors == [], f"default {default!r}: {errors}"
        checked += 1
    assert checked > 0 or what != "plan"
