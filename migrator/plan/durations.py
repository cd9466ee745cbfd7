"""Durations as people write them in plans: ``90s``, ``5m``, ``1h30m``, ``2d``."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
_PATTERN = re.compile(r"^\s*(?:(\d+)d)?\s*(?:(\d+)h)?\s*(?:(\d+)m)?\s*(?:(\d+)s)?\s*$")
DURATION_PATTERN = r"^(\d+d)?(\d+h)?(\d+m)?(\d+s)?$"


def parse_duration(text: str) -> int:
    """Return the number of seconds in ``text``; raise ValueError with a readable reason."""
    match = _PATTERN.match(text)
    if not text.strip() or match is None or not any(match.groups()):
        raise ValueError(f"'{text}' is not a duration: write it like 45s, 10m, 1h30m or 2d")
    return sum(int(v) * n for v, n in zip(match.groups(), _UNITS.values(), strict=True) if v)


def format_duration(seconds: float | None) -> str:
    """``5400`` -> ``1h30m``; ``None`` -> ``?``."""
    if seconds is None:
        return "?"
    total = round(seconds)
    if total < 60:
        return f"{total}s"
    parts = []
    for unit, size in _UNITS.items():
        value, total = divmod(total, size)
        if value:
            parts.append(f"{value}{unit}")
    return "".join(parts[:2])


def _coerce(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError(f"'{value}' is not a duration: write it like 45s, 10m, 1h30m or 2d")
    if isinstance(value, int):
        if value < 0:  # -5 would load, then fail to round-trip through "-5s"
            raise ValueError(f"'{value}' is not a duration: a duration cannot be negative")
        return value
    if isinstance(value, str):
        return parse_duration(value)
    raise ValueError(f"'{value}' is not a duration: write it like 45s, 10m, 1h30m or 2d")


def _exact(seconds: int) -> str:
    """Lossless text for a duration (``5415`` -> ``1h30m15s``): dumped steps are re-validated.

    :func:`format_duration` keeps two units for display; serialising with it changed a
    ``timeout: 1h30m15s`` into ``1h30m`` whenever a step was dumped and loaded again.
    """
    parts = []
    for unit, size in _UNITS.items():
        value, seconds = divmod(seconds, size)
        if value:
            parts.append(f"{value}{unit}")
    return "".join(parts) or "0s"


Duration = Annotated[
    int,
    BeforeValidator(_coerce),
    PlainSerializer(_exact, return_type=str),
    WithJsonSchema(
        {"type": "string", "pattern": DURATION_PATTERN, "description": "A duration: 45s, 10m, 1h30m, 2d."}
    ),
]
"""Seconds, written in plans as ``45s``, ``10m``, ``1h30m`` or ``2d``."""
