"""Durations as people write them in plans: ``90s``, ``5m``, ``1h30m``, ``2d``.

In a file a duration carries its unit: ``estimate: 5`` could be 5 seconds or 5 minutes, so it is
refused with the fix (only ``0`` means the same in every unit). Python callers (tests, the
engine) may pass plain seconds; the loader tells the two apart by the validation context
``{"file": True}``. Durations are capped at :data:`MAX_SECONDS` so that the window arithmetic
(start + length, now + what is left) never overflows a datetime.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, ValidationInfo, WithJsonSchema

_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
_PATTERN = re.compile(r"^\s*(?:(\d+)d)?\s*(?:(\d+)h)?\s*(?:(\d+)m)?\s*(?:(\d+)s)?\s*$")
DURATION_PATTERN = r"^(0|(?=\d)(\d+d)?(\d+h)?(\d+m)?(\d+s)?)$"
MAX_SECONDS = 366 * 86400
"""The longest duration a plan may give (a year): a longer one is a typo, and overflows dates."""
FILE_CONTEXT = {"file": True}
"""Validation context of values read from a file: bare numbers are refused there."""
_HOW = "write it like 45s, 10m, 1h30m or 2d"


@lru_cache(maxsize=4096)  # a plan writes the same few durations on every step (2m, 1h, 10s)
def parse_duration(text: str) -> int:
    """Return the number of seconds in ``text``; raise ValueError with a readable reason."""
    match = _PATTERN.match(text)
    if text.strip() == "0":
        return 0
    if not text.strip() or match is None or not any(match.groups()):
        hint = (
            f"'{text}' has no unit: write {text.strip()}s, {text.strip()}m or {text.strip()}h"
            if (text.strip().isdigit())
            else f"'{text}' is not a duration: {_HOW}"
        )
        raise ValueError(hint)
    if any(v and len(v) > 9 for v in match.groups()):
        raise ValueError(
            f"'{text}' is longer than {format_duration(MAX_SECONDS)}, the longest a plan may give"
        )
    seconds = sum(int(v) * n for v, n in zip(match.groups(), _UNITS.values(), strict=True) if v)
    return _capped(seconds, text)


def _capped(seconds: int, written: object) -> int:
    if seconds > MAX_SECONDS:
        raise ValueError(
            f"'{written}' is longer than {format_duration(MAX_SECONDS)} ({MAX_SECONDS // 86400} days), "
            "the longest a plan may give"
        )
    return seconds


def format_duration(seconds: float | None, unknown: str = "?") -> str:
    """``5400`` -> ``1h30m``, ``-1200`` -> ``-20m``, ``None`` -> ``unknown``.

    The one spelling of a duration for every reader (CLI, TUI, report, messages): the two
    largest units, written as a plan writes them, so a figure can be pasted into a plan."""
    if seconds is None:
        return unknown
    total = round(seconds)
    if total < 0:
        return "-" + format_duration(-total)
    if total < 60:
        return f"{total}s"
    parts = []
    for unit, size in _UNITS.items():
        value, total = divmod(total, size)
        if value:
            parts.append(f"{value}{unit}")
    return "".join(parts[:2])


def _coerce(value: Any, info: ValidationInfo) -> int:
    if isinstance(value, bool):
        raise ValueError(f"'{value}' is not a duration: {_HOW}")
    if isinstance(value, int):
        if value < 0:  # -5 would load, then fail to round-trip through "-5s"
            raise ValueError(f"'{value}' is not a duration: a duration cannot be negative")
        if value and info.context is not None and info.context.get("file"):
            raise ValueError(f"'{value}' has no unit: write {value}s, {value}m or {value}h")
        return _capped(value, value)
    if isinstance(value, str):
        return parse_duration(value)
    raise ValueError(f"'{value}' is not a duration: {_HOW}")


@lru_cache(maxsize=4096)
def exact_duration(seconds: int) -> str:
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
    PlainSerializer(exact_duration, return_type=str),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": DURATION_PATTERN,
            "description": "A duration with its unit: 45s, 10m, 1h30m, 2d (at most 366d).",
        }
    ),
]
"""Seconds, written in plans as ``45s``, ``10m``, ``1h30m`` or ``2d``."""
