"""The one exception tree: every error class migrator raises on purpose is defined in
:mod:`migrator.errors`, drawn in its docstring, and exits with a code the README documents.

A class defined elsewhere (as seven were: ``PlanChangedError`` in the runner, the Proxmox task
errors in ``pvetasks`` ...) is found by importing every module of the product.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import migrator
from migrator import errors
from migrator.errors import ExitCode, MigratorError

ROOT = Path(__file__).resolve().parents[2]


def _every_module() -> list[str]:
    return [info.name for info in pkgutil.walk_packages(migrator.__path__, "migrator.")]


def _error_classes() -> dict[str, type[MigratorError]]:
    found: dict[str, type[MigratorError]] = {}
    for name in _every_module():
        module = importlib.import_module(name)
        for _, value in inspect.getmembers(module, inspect.isclass):
            if issubclass(value, MigratorError):
                found[f"{value.__module__}.{value.__qualname__}"] = value
    return found


def test_every_error_class_is_defined_in_migrator_errors() -> None:
    outside = sorted(name for name, cls in _error_classes().items() if cls.__module__ != "migrator.errors")
    assert outside == []


def test_the_tree_drawn_in_errors_names_every_class() -> None:
    drawn = set(re.findall(r"[├└]── (\w+)", errors.__doc__ or "")) | {"MigratorError"}
    defined = {cls.__name__ for cls in _error_classes().values()}
    assert defined == drawn


def test_every_class_exits_with_a_documented_code() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8").split("## Exit codes", 1)[1]
    documented = {int(code) for code in re.findall(r"^\| (\d+) \|", readme, re.M)}
    for cls in _error_classes().values():
        assert isinstance(cls.exit_code, ExitCode), cls
        assert int(cls.exit_code) in documented, cls
