"""The JSON Schemas of plan, inventory and tunnel files (``migrator schema``), for editors and CI.

Generated from the models, like docs/plan-format.md. Two things pydantic alone gets wrong:

* defaults are Python values: a duration's default is an int of seconds (``interval: 5``)
  where the schema asks for text with a unit; they are written the way a file would (``5s``);
* the schema must accept what common YAML loaders hand a validator for the project's own
  files (tests/plan/test_schema.py loads the real plans with PyYAML and ruamel).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from migrator.plan.durations import DURATION_PATTERN, exact_duration

What = Literal["plan", "inventory", "tunnels"]
DIALECT = "https://json-schema.org/draft/2020-12/schema"


class _FileSchema(GenerateJsonSchema):
    def default_schema(self, schema: core_schema.WithDefaultSchema) -> JsonSchemaValue:
        generated = super().default_schema(schema)
        default = generated.get("default")
        if _is_duration(generated) and isinstance(default, int) and not isinstance(default, bool):
            generated["default"] = exact_duration(default)
        return generated


def _is_duration(generated: JsonSchemaValue) -> bool:
    if generated.get("pattern") == DURATION_PATTERN:
        return True
    return any(_is_duration(member) for member in generated.get("anyOf", []) if isinstance(member, dict))


def _model(what: What) -> type[BaseModel]:
    if what == "inventory":
        from migrator.plan.inventory import Inventory

        return Inventory
    if what == "tunnels":
        from migrator.stunnel.model import TunnelInventory

        return TunnelInventory
    from migrator.plan.model import Plan

    return Plan


def json_schema(what: What = "plan") -> dict[str, Any]:
    schema = _model(what).model_json_schema(schema_generator=_FileSchema)
    return {"$schema": DIALECT, **schema}
