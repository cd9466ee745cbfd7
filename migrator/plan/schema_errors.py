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
    # Case first: `method: post` means POST, though difflib sees no letter in common.
    same_case = [c for c in choices if c.lower() == word.lower() and c != word]
    close = same_case or difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _is_union_tag(node: dict[Any, Any], part: int | str) -> bool:
    """pydantic puts the check kind in ``loc`` (``("pre", 0, "command", ...)``); it is no key.

    A command check has a key named ``command`` too, so "is it a key?" cannot tell them apart.
    """
    return isinstance(part, str) and part in CHECK_KINDS and node.get("kind") == part


def _data_path(data: Any, loc: tuple[int | str, ...]) -> tuple[PathKey, list[str]]:
    """Follow ``loc`` through ``data``; return the path and the union members named past a value.

    ``("pre", 0, "command", "command", "list[str]")`` -> ``(("pre", 0, "command"), ["list[str]"])``:
    the check kind is skipped and ``list[str]`` is the member of ``str | list[str]`` that failed.
    """
    path: list[str | int] = []
    members: list[str] = []
    node = data
    tag_seen = False  # the tag comes once, right after the check it selects
    for part in loc:
        if isinstance(node, dict) and not tag_seen and _is_union_tag(node, part):
            tag_seen = True
        elif _has(node, part):
            node = node[part]
            path.append(part)
            tag_seen = False
        elif isinstance(node, dict):
            continue  # a missing key
        else:
            members.append(str(part))
    return tuple(path), members


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


def _node_at(data: Any, path: PathKey) -> Any:
    node = data
    for part in path:
        if not _has(node, part):
            return None
        node = node[part]
    return node


def _has(node: Any, part: int | str) -> bool:
    """``node[part]`` exists (a key of a mapping, an index of a list)."""
    if isinstance(node, dict):
        return part in node
    return isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)


# How the members of a plain union (``str | list[str]``) read to a person.
_MEMBER_WORDS = {
    "str": "a string",
    "list[str]": "a list of strings",
    "int": "a whole number",
    "bool": "true or false",
    "float": "a number",
}


def _label(path: PathKey) -> str:
    """``("pre", 0)`` -> ``pre item 1``; ``("post", 0, "port")`` -> ``port``."""
    if path and isinstance(path[-1], int):
        owner = next((str(p) for p in reversed(path) if isinstance(p, str)), "item")
        return f"{owner} item {path[-1] + 1}"
    return str(path[-1]) if path else "the document"


def _shown(value: Any) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _message(err: Any, field: str, label: str) -> tuple[str, str | None]:
    """The message and hint for one pydantic error that is not about keys or kinds."""
    kind = err["type"]
    ctx = err.get("ctx", {})
    got = _shown(err.get("input"))
    if kind == "enum":
        choices = [c.strip(" '") for c in str(ctx.get("expected", "")).replace(" or ", ",").split(",")]
        choices = [c for c in choices if c]
        return (
            f"{field} must be one of {', '.join(choices)}; got {got}"
            + did_you_mean(str(err.get("input")), choices),
            None,
        )
    if kind.startswith("literal_error"):
        choices = [c.strip(" '") for c in str(ctx.get("expected", "")).replace(" or ", ",").split(",")]
        return (
            f"{field} must be {ctx.get('expected', '')}; got {got}"
            + did_you_mean(str(err.get("input")), [c for c in choices if c]),
            None,
        )
    if kind == "string_pattern_mismatch" and field in ("id", "name"):
        return (
            f"{field} {got} is not valid: use lower-case letters, digits, '.', '_' or '-', "
            "starting with a letter or digit",
            None,
        )
    if kind == "string_pattern_mismatch" and field == "mode":
        return f"mode {got} is not an octal file mode", "write it like 0600 or 644, in quotes"
    if kind == "value_error":
        message = str(err["msg"]).removeprefix("Value error, ")
        return (f"{field}: {message}" if field else message), None
    if kind in ("string_type", "string_sub_type") and isinstance(err.get("input"), bool):
        return (
            f"{label} must be a string; got {got} (YAML 1.1 reads a bare on, off, yes or no as true/false)",
            "put the value in quotes, e.g. 'on'",
        )
    if kind in ("string_type", "string_sub_type"):
        return f"{label} must be a string; got {got}", "put the value in quotes"
    if kind == "timezone_aware":
        return (
            f"{label} needs a time zone; got {got}",
            "add the offset, e.g. 2026-12-18T08:00:00+01:00 (a naive time would be read on the "
            "machine that runs the plan)",
        )
    if kind in ("list_type", "tuple_type", "set_type"):
        return (
            f"{label} must be a list; got {got}",
            "write [a, b] or one '- item' per line, even for a single item",
        )
    if kind in ("dict_type", "model_type", "model_attributes_type", "mapping_type"):
        return (
            f"{label} must be a mapping of 'key: value'; got {got}",
            "check the indentation of the lines below it",
        )
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"{label} must be a whole number; got {got}", None
    if kind in ("bool_type", "bool_parsing"):
        return f"{label} must be true or false; got {got}", None
    if kind.startswith(("datetime", "date")):
        return (
            f"{label} must be a date and time; got {got}",
            "write it like 2026-12-18T09:00:00+01:00, ISO 8601 with a time zone",
        )
    for bound, words in (("ge", "at least"), ("gt", "more than"), ("le", "at most"), ("lt", "less than")):
        if bound in ctx and kind.endswith(("_than", "_than_equal")):
            return f"{label} must be {words} {ctx[bound]}; got {got}", None
    if kind == "too_short":
        return f"{label} needs at least {ctx.get('min_length', 1)} item(s)", None
    message = str(err["msg"])
    return (f"{label}: {message}" if field else message), None


def translate(  # noqa: PLR0917 - public signature, called positionally by load.py and others
    exc: ValidationError,
    model: type[BaseModel],
    data: Any,
    source: SourceMap,
    base: PathKey,
    step_id: str | None,
) -> list[Problem]:
    """Problems for every error in ``exc``; ``base`` is the path of ``data`` in the file."""
    found: list[tuple[PathKey, str, bool, str | None]] = []  # path, message, at the key, hint
    union_members: dict[PathKey, list[str]] = {}
    union_input: dict[PathKey, Any] = {}
    missing: list[tuple[PathKey, str]] = []
    suggested: set[tuple[PathKey, str]] = set()  # (owner, field) an unknown key probably meant
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        path, members = _data_path(data, loc)
        kind = err["type"]
        field = next((str(p) for p in reversed(path) if isinstance(p, str)), "")
        if members and kind not in ("missing", "extra_forbidden"):
            # One error per member of ``str | list[str]``: report them as one.
            union_members.setdefault(path, []).append(members[-1])
            union_input[path] = err.get("input")
            continue
        if kind == "extra_forbidden":
            owner = path[:-1]
            choices = _fields_of(model, data, owner)
            maybe = did_you_mean(str(path[-1]), choices)
            close = difflib.get_close_matches(str(path[-1]), choices, n=1, cutoff=0.6)
            if close:
                suggested.add((owner, close[0]))
            found.append((path, f"unknown field '{path[-1]}'" + maybe, True, "remove it or fix its spelling"))
        elif kind == "missing":
            name = str(loc[-1])
            missing.append((path, name))
        elif kind == "union_tag_invalid":
            tag = str(err.get("ctx", {}).get("tag", ""))
            found.append(
                (
                    (*path, "kind"),
                    f"unknown check kind '{tag}'" + did_you_mean(tag, CHECK_KINDS),
                    False,
                    "kinds: " + ", ".join(CHECK_KINDS),
                )
            )
        elif kind == "union_tag_not_found":
            found.append((path, "a check needs a kind", False, "add kind: one of " + ", ".join(CHECK_KINDS)))
        else:
            message, hint = _message(err, field, _label(path))
            found.append((path, message, False, hint))
    for path, name in missing:
        # `titel: x` is one mistake: say "unknown field 'titel' (did you mean 'title'?)" only.
        if (path, name) not in suggested:
            found.append((path, f"missing required field '{name}'", False, f"add {name}: ..."))
    for path, members in union_members.items():
        words = " or ".join(_MEMBER_WORDS.get(m, m) for m in members)
        found.append((path, f"{_label(path)} must be {words}; got {_shown(union_input[path])}", False, None))
    return [
        Problem(Severity.ERROR, message, source.at((*base, *path), key=at_key), step_id, hint)
        for path, message, at_key, hint in found
    ]
