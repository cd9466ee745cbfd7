"""The check key ``probe_from:``, and its old spelling ``on:`` that YAML 1.1 tools break.

PyYAML (YAML 1.1) reads a bare ``on`` as the boolean true: a load/dump round trip (a pre-commit
hook, a script) writes every ``on:`` back as ``true:``, and the probe silently moves to the
step's own host. So the key is ``probe_from:``; ``on:`` is still read, with a warning saying
how to rewrite it, and ``true:`` in a check is refused with the story of how it got there.
"""

from __future__ import annotations

from typing import Any

from migrator.plan.checks import CHECK_KINDS
from migrator.plan.problems import Problem, Severity
from migrator.plan.source import PathKey, SourceMap

KEY = "probe_from"
OLD = "on"
# What a YAML 1.1 dump makes of `on:` (PyYAML writes `true`; others capitalise).
BROKEN = ("true", "True", "TRUE")
_CHECK_PLACES = ("pre", "post", "until", "done_when")


def rewrite(
    raw_step: Any, base: PathKey, source: SourceMap, step_id: str | None, problems: list[Problem]
) -> Any:
    """``raw_step`` with every check's ``on:`` renamed ``probe_from:``; a problem for each one."""
    if not isinstance(raw_step, dict):
        return raw_step
    changed: dict[str, Any] = {}
    for place in _CHECK_PLACES:
        value = raw_step.get(place)
        if isinstance(value, dict):
            new = _check(value, (*base, place), source, step_id, problems)
            if new is not value:
                changed[place] = new
        elif isinstance(value, list):
            items = [_check(c, (*base, place, i), source, step_id, problems) for i, c in enumerate(value)]
            if any(a is not b for a, b in zip(items, value, strict=True)):
                changed[place] = items
    return {**raw_step, **changed} if changed else raw_step


def _check(check: Any, path: PathKey, source: SourceMap, step_id: str | None, problems: list[Problem]) -> Any:
    if not isinstance(check, dict) or check.get("kind") not in CHECK_KINDS:
        return check
    old = OLD if OLD in check else next((k for k in BROKEN if k in check), None)
    if old is None:
        return check
    value = check[old]
    where = source.at((*path, old), key=True)
    if KEY in check:
        problems.append(
            Problem(
                Severity.ERROR,
                f"a check has both '{old}:' and '{KEY}:'",
                where,
                step_id,
                f"keep only {KEY}: (the host to probe from)",
            )
        )
    elif old == OLD:
        problems.append(
            Problem(
                Severity.WARNING,
                f"'on:' is the old name of '{KEY}:' (YAML 1.1 tools read 'on' as true and rewrite it)",
                where,
                step_id,
                f"rewrite 'on: {value}' as '{KEY}: {value}'",
            )
        )
    else:
        problems.append(
            Problem(
                Severity.ERROR,
                f"'{old}:' in a check is an 'on:' that a YAML 1.1 tool rewrote as a boolean; "
                "left so, the check would probe from the step's own host",
                where,
                step_id,
                f"write '{KEY}: {value}' (the host to probe from)",
            )
        )
    if KEY in check:
        return {k: v for k, v in check.items() if k != old}
    renamed = {(KEY if k == old else k): v for k, v in check.items()}
    # Later problems about the value (an unknown host) point at the line that was written.
    source.keys[(*path, KEY)] = where
    if (*path, old) in source.values:
        source.values[(*path, KEY)] = source.values[(*path, old)]
    return renamed
