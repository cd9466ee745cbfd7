"""Turn pydantic validation errors into problems a person can act on.

pydantic speaks of ``loc`` tuples and error types; an operator needs the line, the field,
what is wrong and a did-you-mean. Locations include the tag of a discriminated union
(``("pre", 0, "command", "exit_code")``); we drop tags that are not keys of the data.
"""

from __future__ import annotations

import difflib
from typing import Any

from pydantic import BaseModel, ValidationError

from migrator.plan.checks import CHECK_KINDS
from migrator.plan.problems import Problem, Severity
from migrator.plan.source import PathKey, SourceMap


def did_you_mean(word: str, choices: list[str] | tuple[str, ...]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _data_path(data: Any, loc: tuple[int | str, ...]) -> tuple[PathKey, Any]:
    """Follow ``loc`` through ``data``, skipping union tags; return the path and the parent."""
    path: list[str | int] = []
    node = data
    parent: Any = None
    for part in loc:
        if isinstance(node, dict) and part in node:
            parent, node = node, node[part]
            path.append(part)
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            parent, node = node, node[part]
            path.append(part)
        elif isinstance(node, dict):
            continue  # a discriminator tag, or a missing key
        else:
            path.append(part)
    return tuple(path), parent


def _fields_of(model: type[BaseModel], data: Any, path: PathKey) -> list[str]:
    """Field names of the model that owns the mapping at ``path`` (for did-you-mean)."""
    from migrator.plan import checks as check_models

    node = data
    for part in path:
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        else:
            node = None
    if isinstance(node, dict) and isinstance(node.get("kind"), str) and node.get("kind") in CHECK_KINDS:
        for candidate in vars(check_models).values():
            if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                kind = candidate.model_fields.get("kind")
                if kind is not None and node["kind"] in getattr(kind.annotation, "__args__", ()):
                    return list(candidate.model_fields)
    current: type[BaseModel] = model
    for part in path:
        field = current.model_fields.get(part) if isinstance(part, str) else None
        if field is None:
            continue
        nested = _model_in(field.annotation)
        if nested is not None:
            current = nested
    return list(current.model_fields)


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def translate(
    exc: ValidationError,
    model: type[BaseModel],
    data: Any,
    source: SourceMap,
    base: PathKey,
    step_id: str | None,
) -> list[Problem]:
    """Problems for every error in ``exc``; ``base`` is the path of ``data`` in the file."""
    problems = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        path, _ = _data_path(data, loc)
        kind = err["type"]
        field = next((str(p) for p in reversed(path) if isinstance(p, str)), "")
        at_key = False
        hint = None
        if kind == "extra_forbidden":
            owner = path[:-1]
            message = f"unknown field '{path[-1]}'" + did_you_mean(str(path[-1]), _fields_of(model, data, owner))
            at_key = True
            hint = "remove it or fix its spelling"
        elif kind == "missing":
            name = str(loc[-1])
            message = f"missing required field '{name}'"
            hint = f"add {name}: ..."
        elif kind == "union_tag_invalid":
            tag = str(err.get("ctx", {}).get("tag", ""))
            message = f"unknown check kind '{tag}'" + did_you_mean(tag, CHECK_KINDS)
            hint = "kinds: " + ", ".join(CHECK_KINDS)
            path = (*path, "kind")
        elif kind == "union_tag_not_found":
            message = "a check needs a kind"
            hint = "add kind: one of " + ", ".join(CHECK_KINDS)
        elif kind == "enum":
            expected = str(err.get("ctx", {}).get("expected", ""))
            got = err.get("input")
            choices = [c.strip(" '") for c in expected.replace(" or ", ",").split(",") if c.strip(" '")]
            message = f"{field} must be one of {', '.join(choices)}; got '{got}'" + did_you_mean(str(got), choices)
        elif kind == "string_pattern_mismatch" and field in ("id", "name"):
            message = (
                f"{field} '{err.get('input')}' is not valid: use lower-case letters, digits, '.', '_' or '-', "
                "starting with a letter or digit"
            )
        elif kind == "value_error":
            message = str(err["msg"]).removeprefix("Value error, ")
            if field:
                message = f"{field}: {message}"
        elif kind.startswith("literal_error"):
            expected = str(err.get("ctx", {}).get("expected", ""))
            message = f"{field} must be {expected}; got {err.get('input')!r}"
        else:
            message = f"{field}: {err['msg']}" if field else str(err["msg"])
        position = source.at((*base, *path), key=at_key)
        problems.append(Problem(Severity.ERROR, message, position, step_id, hint))
    return problems
