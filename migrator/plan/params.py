"""Parameters: the small, safe substitution that lets one plan run against production or a lab.

Inside any string of a plan, ``{{ EXPR }}`` is replaced, where EXPR is one of:

* ``hosts.NAME.FIELD``       a host's inventory field: address, port, user, role, private_ip,
                             public_ip, name (the inventory name itself)
* ``hosts.NAME.vars.KEY``    a host's free-form inventory value
* ``params.NAME``            a plan parameter (which may itself use ``hosts.*``)
* ``inventory.name`` / ``inventory.environment``
* ``outputs.STEP.NAME``      a value produced by an earlier step; replaced at run time

Nothing else: no expressions, filters or code. An unknown reference is a validation error.
A literal ``{{`` is written ``{{ '{{' }}``.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel

from migrator.plan.inventory import Inventory

ModelT = TypeVar("ModelT", bound=BaseModel)

TEMPLATE = re.compile(r"\{\{\s*(.*?)\s*\}\}")
_LITERAL = re.compile(r"^'([^']*)'$|^\"([^\"]*)\"$")
HOST_FIELDS = ("address", "port", "user", "role", "private_ip", "public_ip", "name")


def _did_you_mean(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


class UnknownReference(ValueError):
    """An unknown or malformed ``{{ ... }}`` reference."""


@dataclass(frozen=True)
class OutputRef:
    step: str
    name: str


def output_refs(text: str) -> list[OutputRef]:
    """Every ``{{ outputs.STEP.NAME }}`` in ``text``."""
    refs = []
    for expr in TEMPLATE.findall(text):
        parts = expr.split(".")
        if len(parts) == 3 and parts[0] == "outputs":
            refs.append(OutputRef(parts[1], parts[2]))
    return refs


class Resolver:
    """Resolves ``hosts.*``, ``params.*`` and ``inventory.*``; leaves ``outputs.*`` alone."""

    def __init__(self, inventory: Inventory, params: Mapping[str, str]) -> None:
        self.inventory = inventory
        self._raw_params = dict(params)
        self._params: dict[str, str] = {}

    def expression(self, expr: str, *, outputs: Mapping[str, Mapping[str, str]] | None = None) -> str | None:
        """The value of one expression; ``None`` for an output reference left for run time."""
        literal = _LITERAL.match(expr)
        if literal:
            return literal.group(1) if literal.group(1) is not None else literal.group(2)
        parts = expr.split(".")
        head = parts[0]
        if head == "hosts" and len(parts) in (3, 4):
            return self._host(parts[1:], expr)
        if head == "params" and len(parts) == 2:
            return self._param(parts[1])
        if head == "inventory" and len(parts) == 2 and parts[1] in ("name", "environment"):
            return str(getattr(self.inventory, parts[1]))
        if head == "outputs" and len(parts) == 3:
            if outputs is None:
                return None
            value = outputs.get(parts[1], {}).get(parts[2])
            if value is None:
                raise UnknownReference(f"step {parts[1]} has produced no output named '{parts[2]}'")
            return value
        raise UnknownReference(
            f"unknown reference '{{{{ {expr} }}}}': use hosts.NAME.FIELD, hosts.NAME.vars.KEY, "
            "params.NAME, inventory.name or outputs.STEP.NAME"
        )

    def _host(self, parts: list[str], expr: str) -> str:
        name = parts[0]
        host = self.inventory.hosts.get(name)
        if host is None:
            raise UnknownReference(
                f"'{{{{ {expr} }}}}' names host '{name}', "
                f"which inventory '{self.inventory.name}' does not have"
                + _did_you_mean(name, list(self.inventory.hosts))
                + f"; hosts: {', '.join(sorted(self.inventory.hosts)) or 'none'}"
            )
        if len(parts) == 3:
            if parts[1] != "vars" or parts[2] not in host.vars:
                raise UnknownReference(f"host '{name}' has no vars.{parts[2]} in the inventory")
            return host.vars[parts[2]]
        field = parts[1]
        if field not in HOST_FIELDS:
            raise UnknownReference(
                f"hosts.{name}.{field}: unknown field; use one of {', '.join(HOST_FIELDS)}"
            )
        if field == "name":
            return name
        value = getattr(host, field)
        if value is None:
            raise UnknownReference(f"host '{name}' has no {field} in inventory '{self.inventory.name}'")
        return str(value)

    def _param(self, name: str) -> str:
        if name in self._params:
            return self._params[name]
        if name not in self._raw_params:
            raise UnknownReference(
                f"unknown parameter '{name}'"
                + _did_you_mean(name, list(self._raw_params))
                + ": declare it under params: at the top of the plan"
            )
        # Parameters may use hosts.* but not other parameters: no chains, no cycles.
        value = TEMPLATE.sub(lambda m: self._no_params(m.group(1)), self._raw_params[name])
        self._params[name] = value
        return value

    def _no_params(self, expr: str) -> str:
        if expr.startswith(("params.", "outputs.")):
            raise UnknownReference(f"parameters may only use hosts.* and inventory.*, not '{expr}'")
        value = self.expression(expr)
        assert value is not None
        return value

    def text(self, text: str, *, outputs: Mapping[str, Mapping[str, str]] | None = None) -> str:
        """Substitute every reference in ``text`` (outputs only when ``outputs`` is given)."""

        if "{{" not in text:  # most strings of a plan: no regular expression to run
            return text

        def replace(match: re.Match[str]) -> str:
            value = self.expression(match.group(1), outputs=outputs)
            return match.group(0) if value is None else value

        return TEMPLATE.sub(replace, text)

    def tree(self, value: Any, *, outputs: Mapping[str, Mapping[str, str]] | None = None) -> Any:
        """Substitute in every string of nested dicts and lists (keys are left alone)."""
        if isinstance(value, str):
            return self.text(value, outputs=outputs)
        if isinstance(value, dict):
            return {k: self.tree(v, outputs=outputs) for k, v in value.items()}
        if isinstance(value, list):
            return [self.tree(v, outputs=outputs) for v in value]
        return value


def substitute_outputs(
    step: ModelT, outputs: Mapping[str, Mapping[str, str]], *, only: Iterable[str] | None = None
) -> ModelT:
    """Replace ``{{ outputs.STEP.NAME }}`` in a resolved step (or one check), at run time;
    with ``only``, in those top-level fields only.

    Raises UnknownReference when the producing step has not recorded that value.
    """

    def replace(match: re.Match[str]) -> str:
        parts = match.group(1).split(".")
        if len(parts) != 3 or parts[0] != "outputs":
            return match.group(0)
        value = outputs.get(parts[1], {}).get(parts[2])
        if value is None:
            raise UnknownReference(f"step {parts[1]} has produced no output named '{parts[2]}' yet")
        return value

    def walk(value: Any) -> Any:
        if isinstance(value, str):
            return TEMPLATE.sub(replace, value)
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        return value

    dumped = step.model_dump(mode="json", exclude_defaults=True)
    fields = set(dumped) if only is None else set(only)
    replaced = {k: walk(v) if k in fields else v for k, v in dumped.items()}
    return step if replaced == dumped else type(step).model_validate(replaced)
